"""The demo video API over real HTTP: create, follow, download, validate, authenticate, list, delete."""

import base64
import hashlib
import io
import json
import os
import time

import av
import jsonschema
import pytest
import requests
from PIL import Image

from support.media import make_png
from support.servers import DemoAPIProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "docs", "create-video.openapi.json"), encoding="utf-8") as _fh:
    _SPEC = json.load(_fh)
JOB_SCHEMA = _SPEC["paths"]["/v1/videos"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
ERROR_SCHEMA = _SPEC["paths"]["/v1/videos"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]


OPENAI_REQUIRED = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "seconds",
    "size",
    "remixed_from_video_id",
    "error",
}


def assert_job_shape(job):
    """OpenAI's video object (every required field written, null when unset) and the contract's types for every
    value that is given (the contract's schema has no nulls)."""
    assert set(job) >= OPENAI_REQUIRED, OPENAI_REQUIRED - set(job)
    jsonschema.validate({k: v for k, v in job.items() if v is not None}, JOB_SCHEMA)


def auth(key="demo"):
    return {"Authorization": f"Bearer {key}"}


def create(api, data=None, files=None, json_body=None, key="demo"):
    return requests.post(
        f"{api.base_url}/v1/videos", data=data, files=files, json=json_body, headers=auth(key), timeout=30
    )


def wait_for(api, job_id, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job = requests.get(f"{api.base_url}/v1/videos/{job_id}", headers=auth(), timeout=10).json()
        seen.append((job["status"], job["progress"]))
        if job["status"] in ("completed", "failed"):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen[-3:]}")


def download(api, job_id, **params):
    resp = requests.get(f"{api.base_url}/v1/videos/{job_id}/content", params=params, headers=auth(), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp


def frame_hashes(mp4_bytes):
    with av.open(io.BytesIO(mp4_bytes)) as container:
        return [hashlib.md5(bytes(f.planes[0])).hexdigest() for f in container.decode(video=0)]


def video_facts(mp4_bytes):
    with av.open(io.BytesIO(mp4_bytes)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, stream.average_rate, count


def test_create_with_every_field_renders_the_requested_video(demo_api):
    image = make_png(480, 360)
    resp = create(
        demo_api,
        data={
            "model": "kling-v1",
            "prompt": "宇航员站起身走了 — an astronaut stands up and walks away",
            "image": base64.b64encode(image).decode(),
            "duration": "2",
            "width": "320",
            "height": "240",
            "fps": "12",
            "seed": "20231234",
            "n": "1",
            "response_format": "url",
            "user": "user-1234",
            "metadata": json.dumps({"negative_prompt": "blur", "style": "cinematic"}),
        },
    )
    assert resp.status_code == 200, resp.text
    job = resp.json()
    assert_job_shape(job)
    assert job["status"] == "queued" and job["progress"] == 0
    assert job["seconds"] == "2" and job["size"] == "320x240" and job["model"] == "kling-v1"
    assert job["metadata"] == {"negative_prompt": "blur", "style": "cinematic"}
    assert job["expires_at"] > job["created_at"]

    done, seen = wait_for(demo_api, job["id"])
    assert_job_shape(done)
    assert done["status"] == "completed" and done["progress"] == 100 and done["completed_at"]
    progresses = [p for _, p in seen]
    assert progresses == sorted(progresses), "progress never goes backwards"

    width, height, fps, frames = video_facts(download(demo_api, job["id"]).content)
    assert (width, height, fps, frames) == (320, 240, 12, 24)


def test_progress_rises_while_frames_render(tmp_path):
    api = DemoAPIProcess(tmp_path, min_render_seconds=2.0).start()
    try:
        job = create(
            api, data={"prompt": "slow pan", "duration": "2", "width": "128", "height": "96", "fps": "10"}
        ).json()
        done, seen = wait_for(api, job["id"])
    finally:
        api.stop()
    assert done["status"] == "completed"
    middle = {p for status, p in seen if status == "in_progress" and 0 < p < 100}
    assert len(middle) >= 3, f"progress was seen at {sorted(middle)} only"


def test_aliases_json_body_and_image_forms(demo_api):
    png = make_png(320, 320)
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    by_json = create(
        demo_api,
        json_body={
            "prompt": "json body",
            "seconds": "1",
            "size": "256x144",
            "fps": 8,
            "image": data_url,
            "metadata": {"k": "v"},
        },
    )
    assert by_json.status_code == 200, by_json.text
    assert by_json.json()["size"] == "256x144" and by_json.json()["seconds"] == "1"
    assert by_json.json()["metadata"] == {"k": "v"}

    by_file = create(
        demo_api,
        data={"prompt": "upload", "seconds": "1", "size": "128x128", "fps": "8"},
        files={"input_reference": ("ref.png", png, "image/png")},
    )
    assert by_file.status_code == 200, by_file.text
    by_url = create(
        demo_api,
        data={
            "prompt": "url",
            "duration": "1",
            "width": "128",
            "height": "128",
            "fps": "8",
            "image": "http://127.0.0.1:9/unreachable.png",
        },
    )
    assert by_url.status_code == 200, by_url.text
    for job in (by_json.json(), by_file.json(), by_url.json()):
        done, _ = wait_for(demo_api, job["id"])
        assert done["status"] == "completed", done


def test_range_request_answers_206_with_the_right_bytes(demo_api):
    job = create(
        demo_api, data={"prompt": "range", "duration": "1", "width": "128", "height": "96", "fps": "10"}
    ).json()
    wait_for(demo_api, job["id"])
    whole = download(demo_api, job["id"]).content
    part = requests.get(
        f"{demo_api.base_url}/v1/videos/{job['id']}/content", headers={**auth(), "Range": "bytes=100-299"}, timeout=10
    )
    assert part.status_code == 206
    assert part.content == whole[100:300]
    assert part.headers["Content-Range"] == f"bytes 100-299/{len(whole)}"
    assert part.headers["Accept-Ranges"] == "bytes"


def test_thumbnail_and_spritesheet_are_webp_as_openais_and_jpeg_on_request(demo_api):
    job = create(
        demo_api, data={"prompt": "thumb", "duration": "2", "width": "160", "height": "90", "fps": "10"}
    ).json()
    wait_for(demo_api, job["id"])
    from PIL import Image

    thumb = download(demo_api, job["id"], variant="thumbnail")
    assert thumb.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).format == "WEBP"
    assert Image.open(io.BytesIO(thumb.content)).size == (160, 90)
    jpeg = requests.get(
        f"{demo_api.base_url}/v1/videos/{job['id']}/content",
        params={"variant": "thumbnail"},
        headers={**auth(), "Accept": "image/jpeg"},
        timeout=30,
    )
    assert jpeg.headers["Content-Type"] == "image/jpeg" and Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
    sheet = download(demo_api, job["id"], variant="spritesheet")
    assert sheet.headers["Content-Type"] == "image/webp"
    width, height = Image.open(io.BytesIO(sheet.content)).size
    assert (width, height) == (5 * 160, 2 * 90)  # ten frames, five to a row
    bad = requests.get(
        f"{demo_api.base_url}/v1/videos/{job['id']}/content", params={"variant": "poster"}, headers=auth(), timeout=30
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "variant"


def test_a_model_id_with_control_characters_is_refused_at_create(demo_api):
    resp = create(demo_api, data={"prompt": "p", "model": "demo\x00v1\n"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "model"


BAD_FIELDS = [
    ({"prompt": "  "}, "prompt"),
    ({"prompt": "x" * 2501}, "prompt"),
    ({"duration": "five"}, "duration"),
    ({"duration": "0"}, "duration"),
    ({"duration": "21"}, "duration"),
    ({"seconds": "forever"}, "seconds"),
    ({"width": "abc"}, "width"),
    ({"width": "4000"}, "width"),
    ({"height": "-2"}, "height"),
    ({"height": "721"}, "height"),
    ({"size": "big"}, "size"),
    ({"fps": "0"}, "fps"),
    ({"fps": "61"}, "fps"),
    ({"fps": "29.97"}, "fps"),
    ({"n": "5"}, "n"),
    ({"n": "0"}, "n"),
    ({"seed": "-1"}, "seed"),
    ({"seed": "lucky"}, "seed"),
    ({"response_format": "gif"}, "response_format"),
    ({"metadata": "{not json"}, "metadata"),
    ({"metadata": "[1, 2]"}, "metadata"),
    ({"image": "ftp://example.com/a.png"}, "image"),
    ({"image": "not base64 at all!"}, "image"),
    ({"image": base64.b64encode(b"plain text, not a picture").decode()}, "image"),
    ({"user": "u" * 300}, "user"),
]


@pytest.mark.parametrize("fields,param", BAD_FIELDS, ids=[f"{p}-{i}" for i, (_, p) in enumerate(BAD_FIELDS)])
def test_each_bad_field_is_a_400_naming_it(demo_api, fields, param):
    data = {"prompt": "valid prompt", **fields}
    resp = create(demo_api, data=data)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["error"]["param"] == param
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"]


def test_body_too_large_is_refused_in_the_error_shape(demo_api):
    resp = create(demo_api, data={"prompt": "big", "image": "A" * (21 * 1024 * 1024)})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("as_data_url", [False, True])
def test_a_photo_of_several_megabytes_sent_as_base64_text_is_used(demo_api, as_data_url):
    """What the studio sends for an uploaded photo: a multipart text field of a few MB (Werkzeug's default
    form memory limit of 500 kB refused anything over about 370 kB of picture with a 413)."""
    side = 1100
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, 800), os.urandom(side * 800 * 3)).save(buf, "PNG", compress_level=1)
    photo = buf.getvalue()
    assert len(photo) > 2_500_000
    encoded = base64.b64encode(photo).decode()
    value = "data:image/png;base64," + encoded if as_data_url else encoded
    resp = requests.post(
        f"{demo_api.base_url}/v1/videos",
        headers=auth(),
        timeout=30,
        files={
            "prompt": (None, "a big photo"),
            "seconds": (None, "1"),
            "size": (None, "160x96"),
            "fps": (None, "8"),
            "image": (None, value),
        },
    )
    assert resp.status_code == 200, resp.text
    done, _ = wait_for(demo_api, resp.json()["id"])
    assert done["status"] == "completed", done


def test_an_image_file_that_is_not_a_picture_names_the_field(demo_api):
    resp = create(demo_api, data={"prompt": "p"}, files={"input_reference": ("a.png", b"nope", "image/png")})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "input_reference"


@pytest.mark.parametrize("headers", [{}, auth("wrong"), {"Authorization": "demo"}])
def test_missing_or_wrong_key_is_401(demo_api, headers):
    resp = requests.post(f"{demo_api.base_url}/v1/videos", data={"prompt": "p"}, headers=headers, timeout=10)
    assert resp.status_code == 401
    jsonschema.validate(resp.json(), ERROR_SCHEMA)
    assert resp.json()["error"]["code"] == "invalid_api_key"
    assert requests.get(f"{demo_api.base_url}/v1/models", headers=headers, timeout=10).status_code == 401


def test_a_method_not_allowed_says_which_are(demo_api):
    resp = requests.put(f"{demo_api.base_url}/v1/videos", headers=auth(), timeout=10)
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert resp.json()["error"]["code"] == "method_not_allowed"


def test_demo_fail_makes_the_job_fail_with_that_code(demo_api):
    job = create(
        demo_api,
        data={
            "prompt": "doomed",
            "duration": "1",
            "width": "128",
            "height": "96",
            "fps": "10",
            "metadata": json.dumps({"demo_fail": "content_policy"}),
        },
    ).json()
    done, _ = wait_for(demo_api, job["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "content_policy" and "content_policy" in done["error"]["message"]
    assert_job_shape(done)
    resp = requests.get(f"{demo_api.base_url}/v1/videos/{job['id']}/content", headers=auth(), timeout=10)
    assert resp.status_code == 409


def test_list_pages_and_delete(tmp_path):
    api = DemoAPIProcess(tmp_path).start()
    try:
        ids = [
            create(
                api, data={"prompt": f"job {i}", "duration": "0.5", "width": "64", "height": "64", "fps": "4"}
            ).json()["id"]
            for i in range(3)
        ]
        newest_first = requests.get(f"{api.base_url}/v1/videos", headers=auth(), timeout=10).json()
        assert [j["id"] for j in newest_first["data"]] == ids[::-1]
        page = requests.get(
            f"{api.base_url}/v1/videos", params={"limit": 2, "order": "asc"}, headers=auth(), timeout=10
        ).json()
        assert [j["id"] for j in page["data"]] == ids[:2] and page["has_more"] is True
        rest = requests.get(
            f"{api.base_url}/v1/videos", params={"after": page["last_id"], "order": "asc"}, headers=auth(), timeout=10
        ).json()
        assert [j["id"] for j in rest["data"]] == ids[2:] and rest["has_more"] is False

        gone = requests.delete(f"{api.base_url}/v1/videos/{ids[0]}", headers=auth(), timeout=10)
        assert gone.status_code == 200 and gone.json()["deleted"] is True
        assert requests.get(f"{api.base_url}/v1/videos/{ids[0]}", headers=auth(), timeout=10).status_code == 404
        assert requests.delete(f"{api.base_url}/v1/videos/{ids[0]}", headers=auth(), timeout=10).status_code == 404
        left = requests.get(f"{api.base_url}/v1/videos", headers=auth(), timeout=10).json()
        assert [j["id"] for j in left["data"]] == ids[:0:-1]
    finally:
        api.stop()


def test_same_seed_gives_the_same_frames_and_another_seed_does_not(demo_api):
    base = {"prompt": "determinism", "duration": "1", "width": "128", "height": "96", "fps": "8"}
    ids = [create(demo_api, data={**base, "seed": seed}).json()["id"] for seed in ("7", "7", "8")]
    videos = []
    for job_id in ids:
        wait_for(demo_api, job_id)
        videos.append(frame_hashes(download(demo_api, job_id).content))
    assert videos[0] == videos[1]
    assert videos[0] != videos[2]


def test_n_renders_distinct_variants_addressed_by_index(demo_api):
    job = create(
        demo_api,
        data={
            "prompt": "two takes",
            "n": "2",
            "duration": "0.5",
            "width": "64",
            "height": "64",
            "fps": "8",
            "seed": "3",
        },
    ).json()
    assert [v["index"] for v in job["variants"]] == [0, 1]
    wait_for(demo_api, job["id"])
    first = frame_hashes(download(demo_api, job["id"], index=0).content)
    second = frame_hashes(download(demo_api, job["id"], index=1).content)
    assert len(first) == len(second) == 4 and first != second
    bad = requests.get(
        f"{demo_api.base_url}/v1/videos/{job['id']}/content", params={"index": 2}, headers=auth(), timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "index"


def test_extra_jobs_wait_as_queued_while_the_server_keeps_answering(tmp_path):
    api = DemoAPIProcess(tmp_path, workers=1, min_render_seconds=3.0).start()
    try:
        small = {"duration": "1", "width": "64", "height": "64", "fps": "10"}
        first = create(api, data={"prompt": "first", **small}).json()
        second = create(api, data={"prompt": "second", **small}).json()
        time.sleep(0.5)
        models = requests.get(f"{api.base_url}/v1/models", headers=auth(), timeout=2)
        assert models.status_code == 200 and "kling-v1" in [m["id"] for m in models.json()["data"]]
        statuses = {
            j: requests.get(f"{api.base_url}/v1/videos/{j}", headers=auth(), timeout=2).json()["status"]
            for j in (first["id"], second["id"])
        }
        assert statuses == {first["id"]: "in_progress", second["id"]: "queued"}
    finally:
        api.stop()


def test_jobs_and_files_survive_a_restart_with_a_data_dir(tmp_path):
    api = DemoAPIProcess(tmp_path).start()
    try:
        job = create(
            api, data={"prompt": "keep me", "duration": "0.5", "width": "64", "height": "64", "fps": "4"}
        ).json()
        wait_for(api, job["id"])
        before = download(api, job["id"]).content
    finally:
        api.stop()
    again = DemoAPIProcess(tmp_path, port=api.port).start()
    try:
        assert (
            requests.get(f"{again.base_url}/v1/videos/{job['id']}", headers=auth(), timeout=10).json()["status"]
            == "completed"
        )
        assert download(again, job["id"]).content == before
    finally:
        again.stop()


@pytest.fixture
def picture_server():
    """An image on another loopback address, standing for a service inside the network."""
    from werkzeug.wrappers import Response

    from support.upstreams import ScriptedUpstream

    server = ScriptedUpstream(host="127.0.0.2", handler=lambda req: Response(make_png(400, 300), mimetype="image/png"))
    yield server
    server.stop()


@pytest.mark.parametrize("allowed", [False, True], ids=["default", "allow-private-urls"])
def test_image_urls_on_private_addresses_are_fetched_only_when_allowed(tmp_path, picture_server, allowed):
    api = DemoAPIProcess(tmp_path, extra_args=["--allow-private-urls"] if allowed else []).start()
    try:
        job = create(
            api,
            {
                "prompt": "inward",
                "seconds": "1",
                "size": "160x96",
                "fps": "8",
                "image": picture_server.url + "/inside.png",
            },
        ).json()
        assert wait_for(api, job["id"])[0]["status"] == "completed"
        assert len(picture_server.requests) == (1 if allowed else 0)
    finally:
        api.stop()


def test_a_decompression_bomb_is_refused_by_pixel_count(demo_api):
    bomb = io.BytesIO()
    from PIL import Image

    Image.new("1", (20000, 20000)).save(bomb, "PNG", optimize=True)  # ~50 kB, 400 megapixels decoded
    assert len(bomb.getvalue()) < 200_000
    resp = create(demo_api, {"prompt": "bomb", "image": base64.b64encode(bomb.getvalue()).decode()})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "image"
    assert "megapixels" in resp.json()["error"]["message"]


def test_deeply_nested_or_huge_metadata_is_a_400_not_a_crash(demo_api):
    # The last: a number too long for Python to read (its 4,300-digit limit), which once answered 500.
    for metadata in ("[" * 100000 + "]" * 100000, json.dumps({"k": "x" * 20000}), '{"seed": ' + "9" * 5000 + "}"):
        resp = create(demo_api, {"prompt": "p", "metadata": metadata})
        assert resp.status_code == 400 and resp.json()["error"]["param"] == "metadata"


@pytest.mark.parametrize("as_json", [True, False], ids=["json-body", "form-field"])
def test_input_reference_as_an_image_url_object_is_used(tmp_path, picture_server, as_json):
    api = DemoAPIProcess(tmp_path, extra_args=["--allow-private-urls"]).start()
    try:
        reference = {"image_url": picture_server.url + "/ref.png"}
        fields = {"prompt": "from a reference", "seconds": "1", "size": "160x96", "fps": "8"}
        if as_json:
            resp = create(api, json_body={**fields, "input_reference": reference})
        else:
            resp = create(api, {**fields, "input_reference": json.dumps(reference)})
        assert resp.status_code == 200, resp.text
        assert wait_for(api, resp.json()["id"])[0]["status"] == "completed"
        assert [r.path for r in picture_server.requests] == ["/ref.png"]  # it was fetched and drawn
        bad = create(api, json_body={**fields, "input_reference": {"image_url": "ftp://nope"}})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_reference"
    finally:
        api.stop()


@pytest.mark.parametrize(
    "prompt",
    [
        "一只猫在雨中的屋顶上散步，看着远处的灯火，雨水顺着瓦片流下，镜头缓缓推进",
        "A paper boat drifts down a rain-soaked street at dusk, neon signs reflected",
        "Mixed 中文 and English words, 一只猫 walking on the roof in the rain",
    ],
)
def test_the_prompt_band_wraps_to_the_frame_in_any_script(prompt):
    from PIL import ImageFont

    from demo_api.render import BUNDLED_FONT, _wrap

    face = ImageFont.truetype(BUNDLED_FONT, 32)
    lines = _wrap(prompt, face, 320)
    assert len(lines) > 1 and all(face.getlength(line) <= 320 for line in lines)
    assert "".join(lines).replace(" ", "") == prompt.replace(" ", "")  # nothing lost


def test_a_render_stopped_halfway_stops_drawing_and_leaves_no_thread_behind(tmp_path):
    """Frames are drawn ahead by a thread of their own; a cancelled job must stop it, not leave it drawing."""
    import threading

    from demo_api.render import Cancelled, render_video
    from demo_api.validation import JobSpec

    spec = JobSpec(
        prompt="A paper boat",
        model="kling-v1",
        duration=2.0,
        width=320,
        height=180,
        fps=30,
        n=1,
        seed=1,
        response_format="url",
        user=None,
        metadata={},
    )
    drawn = []

    def on_frame(done):
        drawn.append(done)
        if done == 10:
            raise Cancelled

    with pytest.raises(Cancelled):
        render_video(
            spec,
            1,
            0,
            str(tmp_path / "v.mp4"),
            str(tmp_path / "v.jpg"),
            on_frame=on_frame,
            image_bytes=make_png(640, 360),
        )
    assert drawn == list(range(1, 11))
    assert not [t for t in threading.enumerate() if t.name == "demo-render-draw"]
    assert not (tmp_path / "v.mp4").exists()

    render_video(spec, 1, 0, str(tmp_path / "v.mp4"), str(tmp_path / "v.jpg"), image_bytes=make_png(640, 360))
    with av.open(str(tmp_path / "v.mp4")) as container:  # the whole video when nothing stops it
        assert sum(1 for _ in container.decode(video=0)) == 60
