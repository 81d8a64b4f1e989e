"""Whatever a person (or a script) posts, the app answers with a page, never a 500."""

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.media import make_png
from support.pages import hidden_value

FIELDS = [
    "model",
    "prompt",
    "image_url",
    "duration",
    "width",
    "height",
    "fps",
    "seed",
    "n",
    "response_format",
    "user",
    "negative_prompt",
    "style",
    "quality_level",
    "metadata",
    "image_token",
    "submission_id",
    "image_remove",
]
text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e309",
            "nan",
            "inf",
            "5.5",
            "١٢",
            "99999999999999999999",
            "{}",
            "[]",
            '{"a": 1}',
            "null",
            "https://example.com/a.png",
            "javascript:alert(1)",
            "../../etc/passwd",
            "\x00",
            "x" * 3000,
        ]
    ),
)
files = st.one_of(
    st.none(),
    st.binary(max_size=300),
    st.sampled_from(
        [
            make_png(40, 40),
            make_png(400, 300, fmt="JPEG"),
            make_png(20, 400, fmt="GIF"),
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
        ]
    ),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    values=st.dictionaries(st.sampled_from(FIELDS), text, max_size=len(FIELDS)),
    upload=files,
    filename=st.sampled_from(["a.png", "", "x.gif", "../evil.png", "名字.jpg"]),
)
def test_random_form_posts_never_cause_a_500(client, values, upload, filename):
    page = client.get("/").get_data(as_text=True)
    token = hidden_value(page)
    data = {"csrf_token": token, **values}
    if upload is not None:
        data["image_file"] = (io.BytesIO(upload), filename)
    resp = client.post("/jobs", data=data, content_type="multipart/form-data")
    assert resp.status_code in (303, 400, 409, 413, 429, 502, 504), resp.status_code
    if resp.status_code == 303:
        assert client.get(resp.headers["Location"]).status_code == 200


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    query=st.text(max_size=30),
)
def test_random_paths_and_queries_never_cause_a_500(client, path, query):
    for url in (
        f"/jobs/{path}",
        f"/jobs?q={query}&status={path}&page={query}",
        f"/?from={path}",
        f"/uploads/{path}",
        f"/jobs/{path}/video/0.mp4",
    ):
        assert client.get(url).status_code < 500, url
