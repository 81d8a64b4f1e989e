"""The form page: requests per second of GET / with 16 clients, and its latency with 1, 16 and 64 clients
at once, against a hello-world Flask app under the same gunicorn configuration, interleaved (A B A B).
Goal: at least 0.25 of hello-world's throughput."""

import statistics
import threading
import time

import requests

from bench.results import Result, run_alone
from bench.servers import default_app

CLIENTS = 16
SECONDS = 4.0
ROUNDS = 2
GOAL = 0.25
CROWDS = (1, 16, 64)
CROWD_SECONDS = 2.0


def hammer(url, clients, seconds):
    """clients threads asking for url for seconds: (requests per second, [latencies])."""
    latencies, stop = [[] for _ in range(clients)], time.monotonic() + seconds

    def client(i):
        with requests.Session() as s:
            while time.monotonic() < stop:
                began = time.perf_counter()
                if s.get(url, timeout=30).status_code == 200:
                    latencies[i].append(time.perf_counter() - began)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [x for per in latencies for x in per]
    return len(every) / (time.monotonic() - began), every


def main():
    result = Result("The form page (GET /)")
    env = {"VIDEO_API_BASE_URL": "http://127.0.0.1:9", "VIDEO_API_KEY": "bench", "SUBMIT_RATE_LIMIT": ""}
    app = default_app("page_bench_", env)
    hello = default_app("page_bench_hello_", env, app_module="bench.hello_app:app")
    try:
        requests.get(app.base_url + "/", timeout=30)  # warm: the model list, the templates
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(hammer(app.base_url + "/", CLIENTS, SECONDS)[0])
            theirs.append(hammer(hello.base_url + "/", CLIENTS, SECONDS)[0])
        a, b = statistics.median(ours), statistics.median(theirs)
        result.add(
            f"form page throughput, {CLIENTS} clients",
            f"{a:,.0f} req/s",
            f"hello-world {b:,.0f} req/s",
            a / b,
            f">= {GOAL}",
            a / b >= GOAL,
        )
        mine, other = {}, {}
        for n in CROWDS:
            mine[n] = statistics.median(hammer(app.base_url + "/", n, CROWD_SECONDS)[1]) * 1000
            other[n] = statistics.median(hammer(hello.base_url + "/", n, CROWD_SECONDS)[1]) * 1000
        crowds = " / ".join(str(n) for n in CROWDS)
        result.add(
            f"form page median latency, {crowds} clients",
            " / ".join(f"{mine[n]:.0f}" for n in CROWDS) + " ms",
            "hello-world " + " / ".join(f"{other[n]:.0f}" for n in CROWDS) + " ms",
            mine[CROWDS[-1]] / other[CROWDS[-1]],
        )
    finally:
        app.stop()
        hello.stop()
    result.notes.append(
        f"Form page: throughput over {SECONDS:g} s, {ROUNDS} rounds interleaved; latency over "
        f"{CROWD_SECONDS:g} s per crowd size, the ratio taken at {CROWDS[-1]} clients. The load "
        "client is Python on the same 2 cores: it caps hello-world more than the app."
    )
    return result


if __name__ == "__main__":
    run_alone(main)
