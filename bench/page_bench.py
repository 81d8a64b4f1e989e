"""Form page throughput: requests per second of GET / with 16 clients, against a hello-world Flask app
under the same gunicorn configuration, interleaved (A B A B). Goal: at least 0.25 of hello-world."""

import statistics
import threading
import time

import requests

from bench.servers import default_app, verdict

CLIENTS = 16
SECONDS = 4.0
ROUNDS = 2
GOAL = 0.25


def throughput(url):
    """Requests per second that CLIENTS threads get from url in SECONDS."""
    counts, stop = [0] * CLIENTS, time.monotonic() + SECONDS

    def client(i):
        with requests.Session() as s:
            while time.monotonic() < stop:
                if s.get(url, timeout=30).status_code == 200:
                    counts[i] += 1
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / SECONDS


def main():
    env = {"VIDEO_API_BASE_URL": "http://127.0.0.1:9", "VIDEO_API_KEY": "bench", "SUBMIT_RATE_LIMIT": ""}
    app = default_app("page_bench_", env)
    hello = default_app("page_bench_hello_", env, app_module="bench.hello_app:app")
    try:
        requests.get(app.base_url + "/", timeout=30)          # warm: the model list, the templates
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(throughput(app.base_url + "/"))
            theirs.append(throughput(hello.base_url + "/"))
    finally:
        app.stop()
        hello.stop()
    a, b = statistics.median(ours), statistics.median(theirs)
    return [f"form page: GET / with {CLIENTS} clients for {SECONDS:g} s, {ROUNDS} rounds interleaved, default "
            "gunicorn config",
            f"  app {a:,.0f} req/s   hello-world Flask {b:,.0f} req/s   ratio {a / b:.2f}   "
            f"goal >= {GOAL}: {verdict(a / b >= GOAL)}"]


if __name__ == "__main__":
    print("\n".join(main()))
