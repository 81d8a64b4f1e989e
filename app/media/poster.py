"""A poster frame from an archived video, made in a process of its own: `python app/media/poster.py VIDEO POSTER [AT]`
(AT: the second to take the frame at, 1 by default; 0 is the first frame).

The video came from the upstream, so decoding it is bounded: the frame size is read from the container
before any frame is decoded (MAX_PIXELS), at most MAX_FRAMES frames are decoded, and the process limits
its own memory and CPU time (the parent also kills it after a deadline, see app/media/archive.py). A worker
never decodes untrusted video itself. Exit status 0 means the poster was written.
This file imports nothing from the app, so starting it costs only Python and PyAV.
"""

import resource
import sys

MAX_PIXELS = 4096 * 4096  # 4K video is 8.8 M pixels; 16.7 M is more than any model makes
MAX_FRAMES = 240  # a poster is taken about a second in: ~10 s of video at 24 fps
MEMORY_BYTES = 1024 * 1024 * 1024
CPU_SECONDS = 20
POSTER_SIDE = 1280  # the poster's longest side


def limit_self(memory_bytes: int = MEMORY_BYTES, cpu_seconds: int = CPU_SECONDS) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


def make_poster(video_path: str, poster_path: str, at_seconds: float = 1.0) -> bool:
    """Write a JPEG of the frame near at_seconds (or the last one decoded before it); False if there is none."""
    import av  # after limit_self(): the decoder's memory counts too

    with av.open(video_path, mode="r") as container:
        if not container.streams.video:
            return False
        stream = container.streams.video[0]
        width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        if not 0 < width * height <= MAX_PIXELS:
            print(f"frame size {width}x{height} refused", file=sys.stderr)
            return False
        chosen = None
        for count, frame in enumerate(container.decode(stream), start=1):
            if frame.width * frame.height > MAX_PIXELS:  # a stream may change size midway
                print(f"frame size {frame.width}x{frame.height} refused", file=sys.stderr)
                return False
            chosen = frame
            if (frame.time is not None and frame.time >= at_seconds) or count >= MAX_FRAMES:
                break
        if chosen is None:
            return False
        image = chosen.to_image()
        image.thumbnail((POSTER_SIDE, POSTER_SIDE))
        image.save(poster_path, "JPEG", quality=85)
        return True


def main(argv: list[str]) -> int:
    limit_self()
    try:
        at_seconds = float(argv[3]) if len(argv) > 3 else 1.0
        return 0 if make_poster(argv[1], argv[2], at_seconds) else 2
    except MemoryError:
        print("out of memory", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "no poster", said in one line
        print(f"{type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
