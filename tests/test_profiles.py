"""Model profiles: the form knows each model family's limits, refuses the rest at the field before anything
is sent, and leaves a model with no profile free."""

import pytest

from app.catalog.profiles import load_profiles
from support.client import submit
from support.pages import Page


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"duration": "7"}, "duration", "Kling makes videos of 5 or 10 seconds."),
        ({"width": "640", "height": "360"}, "width", "Kling takes these sizes"),
        ({"n": "3"}, "n", "at most 1 video per job"),
    ],
)
def test_kling_limits_are_refused_at_the_field_and_nothing_is_sent(client, upstream, fields, field, message):
    resp = submit(
        client, {"prompt": "a fox", "model": "kling-v1", "duration": "5", "width": "1280", "height": "720", **fields}
    )
    page = Page(resp.get_data(as_text=True))
    assert resp.status_code == 400 and message in page.text(f"{field}-error")
    assert not upstream.creates


def test_veo_takes_no_image_address(client, upstream):
    resp = submit(
        client, {"prompt": "a fox", "model": "veo-3.1", "duration": "8", "image_url": "https://example.com/fox.jpg"}
    )
    assert resp.status_code == 400 and "upload the picture instead" in Page(resp.get_data(as_text=True)).text(
        "image_url-error"
    )
    assert not upstream.creates


def test_a_model_without_profile_keeps_every_field_free(client, upstream):
    resp = submit(
        client,
        {"prompt": "a fox", "model": "my-relay-model", "duration": "7", "width": "640", "height": "360", "n": "3"},
    )
    assert resp.status_code == 303 and len(upstream.creates) == 1
    assert upstream.creates[0].field("duration") == "7" and upstream.creates[0].field("n") == "3"


def test_the_form_shows_the_profile_and_labels_the_models(client):
    page = Page(client.get("/?from=").get_data(as_text=True))
    hint = " ".join(page.find("p", data_profile_hint="")[0].text.split())
    assert hint.startswith("Kling:") and "5 or 10 s" in hint  # the default model, kling-v1
    assert {"kling-v1": "Kling"}.items() <= {
        o.attrs["value"]: o.attrs.get("label") for o in page.find("option") if o.attrs.get("label")
    }.items()


def test_the_shipped_profiles_cover_the_families_in_the_relay_notes():
    profiles = load_profiles()
    for model, label in (
        ("kling-v2-5-turbo", "Kling"),
        ("veo-3.1-generate", "Veo 3"),
        ("doubao-seedance-1-0", "Seedance"),
        ("MiniMax-Hailuo-02", "Hailuo"),
        ("viduq1", "Vidu"),
        ("wan2.2-t2v", "Wan"),
        ("jimeng-video-3.0", "Jimeng"),
        ("sora-2", "Sora 2 (legacy name)"),
        ("sora-2-pro", "Sora 2 Pro (legacy name)"),
    ):
        assert profiles.match(model) is not None and profiles.match(model).label.startswith(label), model
    assert profiles.match("demo-v1").label == "Demo API"  # the built-in demo API's limits
    assert profiles.match("my-own-model") is None


def test_the_demo_profile_carries_the_demo_apis_own_limits_and_the_form_checks_them_before_sending(client, upstream):
    from app.catalog.profiles import load_profiles
    from demo_api import limits
    from support.client import submit

    demo = load_profiles().match("demo-v1")
    assert (demo.max_seconds, demo.max_side, demo.max_n) == (limits.MAX_SECONDS, limits.MAX_SIDE, limits.MAX_N)
    too_big = {"model": "demo-v1", "prompt": "too long", "duration": "30", "width": "4096", "height": "720"}
    resp = submit(client, too_big)
    assert resp.status_code == 400 and upstream.creates == []
    page = resp.get_data(as_text=True)
    assert "at most 20 seconds" in page and "at most 1920 px" in page
    ok = submit(client, {"model": "demo-v1", "prompt": "fine", "duration": "12.5", "width": "1920", "height": "1080"})
    assert ok.status_code == 303 and len(upstream.creates) == 1


def test_length_errors_name_their_field(client, upstream):
    from support.client import submit
    from support.pages import Page

    resp = submit(client, {"prompt": "p", "user": "u" * 300, "style": "s" * 201})
    assert resp.status_code == 400 and upstream.creates == []
    page = Page(resp.get_data(as_text=True))
    assert "The user id must be at most 256 characters." in page.by_id("user-error").text
    assert "The style must be at most 200 characters." in page.by_id("style-error").text
