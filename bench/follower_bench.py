"""1,000 running jobs, nobody watching: does the follower keep pace? An upstream on loopback answers each
status read in 50 ms and completes each job at a random moment 20 to 60 s after the start; the app runs
under gunicorn with its defaults. Figures: the longest gap between two reads of a running job (goal: 3 s),
how late completion is noticed (p95, goal: 5 s), the app's CPU meanwhile (goal: under 50 % of one core), and
a page's latency during the run against the same page with no jobs (the counterpart, measured in this run).
"""

import asyncio
import io
import json
import multiprocessing
import os
import pathlib
import random
import statistics
import tempfile
import threading
import time

import psutil
import requests
from PIL import Image

from bench.results import Result, run_alone
from bench.servers import default_app
from tests.support.media import render_tiny_mp4

JOBS = 1000
LATENCY = 0.05
FIRST_DONE, LAST_DONE = 20.0, 60.0
PAGE_SAMPLES = 200


class BusyUpstream:
    """JOBS jobs, each completing at its own moment; every status read takes LATENCY and is logged. An
    asyncio HTTP/1.1 server with keep-alive, as a real API is (Werkzeug's test server closes every
    connection), running in a thread of its own."""

    def __init__(self, thumbnail, video):
        self.thumbnail, self.video = thumbnail, video
        self.done_at, self.reads, self._lock = {}, {}, threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            self._server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def start_jobs(self, ids, now):
        rng = random.Random(1)
        self.done_at = {job_id: now + rng.uniform(FIRST_DONE, LAST_DONE) for job_id in ids}

    async def _client(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = next(
                    (
                        int(v)
                        for k, _, v in (line.partition(":") for line in lines[1:])
                        if k.lower() == "content-length"
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                status, kind, body = await self._answer(method, target)
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: keep-alive\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, method, target):
        path, _, query = target.partition("?")
        if path == "/v1/models":
            return "200 OK", "application/json", json.dumps({"data": [{"id": "kling-v1"}]}).encode()
        parts = path.split("/")
        if len(parts) < 4 or parts[3] not in self.done_at:
            return "404 Not Found", "application/json", b'{"error": {"message": "no such job"}}'
        job_id = parts[3]
        if len(parts) == 5:  # /content: the video, or its thumbnail
            thumb = "variant=thumbnail" in query
            return "200 OK", "image/jpeg" if thumb else "video/mp4", self.thumbnail if thumb else self.video
        await asyncio.sleep(LATENCY)
        now = time.time()
        done = now >= self.done_at[job_id]
        with self._lock:
            self.reads.setdefault(job_id, []).append((now, done))
        body = {
            "id": job_id,
            "object": "video",
            "status": "completed" if done else "in_progress",
            "progress": 100 if done else 50,
            "created_at": int(now),
            "model": "kling-v1",
        }
        return "200 OK", "application/json", json.dumps(body).encode()

    def stop(self):
        self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _upstream_main(conn, thumbnail, video):
    """The upstream in a process of its own, driven over a pipe: the page timings in the bench process then
    do not wait for the upstream's GIL."""
    upstream = BusyUpstream(thumbnail, video)
    conn.send(upstream.url)
    while True:
        command, *args = conn.recv()
        if command == "start":
            upstream.start_jobs(*args)
            conn.send(True)
        elif command == "noticed":
            with upstream._lock:
                conn.send(sum(1 for reads in upstream.reads.values() if reads and reads[-1][1]))
        elif command == "report":
            with upstream._lock:
                conn.send(({k: list(v) for k, v in upstream.reads.items()}, dict(upstream.done_at)))
        else:
            upstream.stop()
            conn.send(True)
            return


class UpstreamProcess:
    def __init__(self, thumbnail, video):
        self._conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(
            target=_upstream_main, args=(child, thumbnail, video), daemon=True
        )
        self.proc.start()
        self.url = self._conn.recv()

    def ask(self, *command):
        self._conn.send(command)
        return self._conn.recv()

    def stop(self):
        try:
            self.ask("stop")
        finally:
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                self.proc.kill()


def page_latency(url, samples=PAGE_SAMPLES):
    """The median time to fetch url, in ms."""
    times = []
    with requests.Session() as s:
        for _ in range(samples):
            began = time.perf_counter()
            assert s.get(url, timeout=30).status_code == 200
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def cpu_seconds(pid):
    """CPU time of the gunicorn master and its workers."""
    master = psutil.Process(pid)
    total = 0.0
    for proc in [master, *master.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def media():
    """A small JPEG thumbnail and a real 1 s MP4."""
    thumb = io.BytesIO()
    Image.new("RGB", (64, 36), (40, 120, 200)).save(thumb, "JPEG")
    return thumb.getvalue(), render_tiny_mp4(pathlib.Path(tempfile.mkdtemp(prefix="follower_bench_")))


def main():
    result = Result(f"{JOBS:,} running jobs followed, nobody watching")
    thumbnail, video = media()
    upstream = UpstreamProcess(thumbnail, video)
    app = default_app(
        "follower_bench_", {"VIDEO_API_BASE_URL": upstream.url, "VIDEO_API_KEY": "bench", "VIDEO_API_FLAVOR": "relay"}
    )
    try:
        from app.jobs.store import JobStore
        from app.upstream import Job

        page = app.base_url + "/"
        page_latency(page, 30)  # warm up
        quiet_ms = page_latency(page)
        store = JobStore(os.path.join(app.data_dir, "jobs.sqlite3"))
        ids = [f"video_bench_{n:04d}" for n in range(JOBS)]
        started = time.time()
        upstream.ask("start", ids, started)
        for job_id in ids:
            store.add(
                Job(id=job_id, status="in_progress", progress=1, created_at=int(started)),
                {"prompt": f"bench job {job_id}", "model": "kling-v1"},
            )
        cpu_before, wall_before = cpu_seconds(app.proc.pid), time.monotonic()
        busy_ms = page_latency(page)
        deadline = started + LAST_DONE + 30
        while time.time() < deadline:
            if upstream.ask("noticed") == JOBS:
                break
            time.sleep(1)
        cpu = (cpu_seconds(app.proc.pid) - cpu_before) / (time.monotonic() - wall_before)
        gaps, lateness, missed = [], [], 0
        reads, done_at = upstream.ask("report")
        for job_id in ids:
            seen = reads.get(job_id, [])
            running = [t for t, done in seen if not done]
            times = [started] + running + [t for t, done in seen if done][:1]
            gaps.extend(b - a for a, b in zip(times, times[1:], strict=False))
            first_done = next((t for t, done in seen if done), None)
            if first_done is None:
                missed += 1
            else:
                lateness.append(first_done - done_at[job_id])
        lateness.sort()
        p95 = lateness[int(0.95 * (len(lateness) - 1))] if lateness else float("inf")
        longest = max(gaps) if gaps else float("inf")
        total_reads = sum(len(v) for v in reads.values())
        named = "1,000 running jobs: "
        result.add(
            named + "longest gap between two reads of a running job",
            f"{longest:.1f} s",
            goal="at most 3 s",
            met=longest <= 3.0,
        )
        result.add(
            named + "completion noticed after (p95)", f"{p95:.1f} s", goal="at most 5 s", met=p95 <= 5.0 and not missed
        )
        result.add(
            named + "app CPU while following (workers and follower)",
            f"{cpu * 100:.0f} % of a core",
            goal="under 50 %",
            met=cpu < 0.5,
        )
        result.add(
            named + "form page median while following",
            f"{busy_ms:.1f} ms",
            f"{quiet_ms:.1f} ms (no jobs)",
            busy_ms / quiet_ms,
            "at most 1.5 x",
            busy_ms / quiet_ms <= 1.5,
        )
        result.notes.append(
            f"{total_reads:,} status reads in {time.time() - started:.0f} s; {missed} jobs never "
            f"seen completed; upstream latency {LATENCY * 1000:.0f} ms per read."
        )
    finally:
        app.stop()
        upstream.stop()
    return result


if __name__ == "__main__":
    run_alone(main)
