"""A client nobody here wrote: the official OpenAI SDK creates, polls and downloads from the demo API."""

import warnings

import av
import openai

from support.media import make_png


def test_openai_sdk_creates_polls_and_downloads(demo_api, tmp_path):
    client = openai.OpenAI(api_key=demo_api.key, base_url=f"{demo_api.base_url}/v1", max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # OpenAI retired its own video API
        video = client.videos.create_and_poll(
            model="sora-2",
            prompt="A paper boat on a rainy street",
            seconds="4",
            size="720x1280",
            input_reference=("boat.png", make_png(720, 1280), "image/png"),
        )
        assert video.status == "completed", video
        assert video.seconds == "4" and video.size == "720x1280" and video.progress == 100
        content = client.videos.download_content(video.id)
    path = tmp_path / "video.mp4"
    content.write_to_file(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
        assert frames == 4 * int(stream.average_rate)


def test_openai_sdk_sees_a_wrong_key_as_authentication_error(demo_api):
    client = openai.OpenAI(api_key="wrong", base_url=f"{demo_api.base_url}/v1", max_retries=0)
    try:
        client.models.list()
    except openai.AuthenticationError as exc:
        assert exc.status_code == 401
    else:
        raise AssertionError("a wrong key was accepted")
