"""English and Chinese: the catalogue is complete and current, the language is chosen as people expect,
a switch keeps the form, upstream messages are shown as sent, and the demo API draws Chinese."""

import os
import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po, write_po

from support.client import csrf_token, submit
from support.pages import Page, hidden_value
from support.upstreams import json_response

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "translations", "zh", "LC_MESSAGES", "messages.po")
PYBABEL = os.path.join(os.path.dirname(sys.executable), "pybabel")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def test_the_catalogue_is_current_with_the_code(tmp_path):
    """A text added to the code and not to the catalogue fails here (`make messages` then translate)."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            PYBABEL,
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "--sort-output",
            "--project",
            "video-studio",
            "--version",
            "1",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(CATALOGUE, "rb") as fh:
        created = read_po(fh).creation_date
    with open(pot, "rb") as fh:
        template = read_po(fh)
    template.creation_date = created  # --check compares headers too; only the texts matter here
    with open(pot, "wb") as fh:
        write_po(fh, template, width=0, no_location=True, sort_output=True)
    check = subprocess.run(
        [
            PYBABEL,
            "update",
            "--check",
            "--no-fuzzy-matching",
            "--ignore-obsolete",
            "-i",
            str(pot),
            "-d",
            os.path.join(ROOT, "translations"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, f"the catalogue is stale: run `make messages` and translate\n{check.stderr}"
    with open(pot, "rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    with open(CATALOGUE, "rb") as fh:
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert wanted == have, f"missing: {sorted(wanted - have)[:5]}, obsolete: {sorted(have - wanted)[:5]}"
    # Translators get sentences, not HTML: bold words, names to type and links are placed by the template.
    with_markup = sorted(m for m in wanted if re.search(r"<[a-z/]", m))
    assert not with_markup, f"markup inside messages: {with_markup[:3]}"


def test_every_entry_is_translated_none_fuzzy_every_plural_form_included():
    with open(CATALOGUE, "rb") as fh:
        catalogue = read_po(fh, locale="zh")
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (tuple, list)) else [message.string]
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if len(strings) < catalogue.num_plurals or not all(s and s.strip() for s in strings):
            problems.append(f"empty: {message.id!r}")
        wanted = set(re.findall(r"%\(\w+\)[sd]", message.id if isinstance(message.id, str) else message.id[0]))
        for text in strings:
            if wanted != set(re.findall(r"%\(\w+\)[sd]", text or "")):
                problems.append(f"placeholders differ: {message.id!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "header, lang",
    [
        (None, "en"),
        ("zh-CN,zh;q=0.9", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh-HK,en;q=0.5", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("fr-FR,zh;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh;q=0.8", "en"),
        ("de", "en"),
    ],
)
def test_accept_language_decides_without_a_choice(client, header, lang):
    page = client.get("/", headers={"Accept-Language": header} if header else {}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert ("生成视频" in page) == (lang == "zh-CN")


def test_the_choice_is_a_cookie_that_wins_over_the_browser_and_survives_sign_in(make_app, upstream):
    client = make_app(upstream.url, app_password="correct horse battery").test_client()
    login = client.get("/login", headers={"Accept-Language": "en"})
    token = hidden_value(login.get_data(as_text=True))
    switched = client.post("/language?next=/login", data={"csrf_token": token, "lang": "zh"})
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/login")
    assert "lang=zh" in switched.headers["Set-Cookie"] and "HttpOnly" in switched.headers["Set-Cookie"]
    login = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>登录</h1>" in login
    token = hidden_value(login)
    client.post("/login", data={"csrf_token": token, "name": "Ana", "password": "correct horse battery"})
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "已登录" in page


def test_switching_language_with_the_form_keeps_every_value(client):
    values = {
        "prompt": "A heron at dawn",
        "model": "kling-v1",
        "duration": "10",
        "width": "720",
        "height": "1280",
        "seed": "77",
        "negative_prompt": "blur",
        "x-kling-mode": "pro",
        "metadata": '{"a": 1}',
    }
    resp = client.post(
        "/language?next=/",
        data={"csrf_token": csrf_token(client), "lang": "zh", **values},
        content_type="multipart/form-data",
    )
    html = resp.get_data(as_text=True)
    page = Page(html)
    assert resp.status_code == 200 and '<html lang="zh-CN">' in html and "生成视频" in html
    for name, value in values.items():
        assert page.value(name) == value, name
    back = client.post(
        "/language?next=/",
        data={"csrf_token": csrf_token(client), "lang": "en", **values},
        content_type="multipart/form-data",
    )
    assert '<html lang="en">' in back.get_data(as_text=True) and "A heron at dawn" in back.get_data(as_text=True)


def test_the_upstreams_own_message_is_shown_as_sent_inside_a_translated_sentence(client, upstream):
    upstream.handler = lambda req: json_response(
        {"error": {"message": "当前分组上游负载已饱和，请稍后再试", "type": "new_api_error"}}, status=429
    )
    english = submit(client, {"prompt": "an owl"}).get_data(as_text=True)
    assert "The video API is busy or the quota is used up (HTTP 429). 当前分组上游负载已饱和，请稍后再试" in english
    client.set_cookie("lang", "zh")
    chinese = submit(client, {"prompt": "an owl"}).get_data(as_text=True)
    assert "视频接口繁忙或额度已用完（HTTP 429）。当前分组上游负载已饱和，请稍后再试" in chinese


def test_messages_stored_by_the_follower_are_shown_in_the_readers_language(make_app, upstream):
    from app.core.messages import N_, Problem

    app = make_app(upstream.url, follow=False)
    store, client = app.extensions["studio"].store, app.test_client()
    job_id = submit(client, {"prompt": "a lighthouse"}).headers["Location"].rsplit("/", 1)[1]
    store.claims.status_unanswered(
        job_id, Problem(N_("The video API closed the connection without answering.")), 0, False
    )
    assert "closed the connection without answering" in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    client.set_cookie("lang", "zh")
    assert "视频接口没有回复就关闭了连接" in client.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_dates_and_numbers_follow_the_locale(client, upstream):
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "2,500 字" in page
    client.set_cookie("lang", "zh")
    job = submit(client, {"prompt": "a kite"}).headers["Location"]
    html = client.get(job).get_data(as_text=True)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", html), "the date is not formatted for Chinese"


def test_the_demo_api_draws_chinese_with_the_font_it_ships():
    from PIL import Image, ImageDraw, ImageFont

    from demo_api.render import BUNDLED_FONT

    font = ImageFont.truetype(BUNDLED_FONT, 48)

    def drawn(text):
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
        return image.tobytes()

    missing = drawn("\ue000")  # a code point no font draws: the empty box
    for char in "猫雨屋顶散步的。":
        assert drawn(char) != missing and any(drawn(char)), f"{char} is not in the bundled font"
    assert os.path.getsize(BUNDLED_FONT) < 2_000_000
