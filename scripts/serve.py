"""`make run`: serve the app under gunicorn; with no VIDEO_API_BASE_URL, start the demo API first."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from dotenv import dotenv_values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    os.chdir(ROOT)
    env = {**(dotenv_values(".env") if os.path.exists(".env") else {}), **os.environ}
    env = {k: v for k, v in env.items() if v is not None}
    demo = None
    bind = env.get("BIND") or f"127.0.0.1:{env.get('PORT', '8000')}"
    in_use = taken(bind, "PORT (or BIND)")
    if not env.get("VIDEO_API_BASE_URL", "").strip():
        in_use = in_use or taken(f"127.0.0.1:{env.get('DEMO_API_PORT', '8001')}", "DEMO_API_PORT")
    if in_use:
        sys.exit(in_use)  # before anything starts: a port another program holds would answer in our place
    if not env.get("VIDEO_API_BASE_URL", "").strip():
        port = env.get("DEMO_API_PORT", "8001")
        data_dir = os.path.join(env.get("DATA_DIR", "data"), "demo_api")
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo_api",
                "--port",
                port,
                "--key",
                "demo",
                "--data-dir",
                data_dir,
                "--quiet",
                "--min-render-seconds",
                env.get("DEMO_MIN_RENDER_SECONDS", "6"),
            ]
        )
        wait_for(f"http://127.0.0.1:{port}/", demo)
        env.update(VIDEO_API_BASE_URL=f"http://127.0.0.1:{port}", VIDEO_API_KEY="demo", DEMO_MODE="true")
        env.pop("VIDEO_API_KEY_FILE", None)
        print(f"No VIDEO_API_BASE_URL set: using the built-in demo video API on 127.0.0.1:{port}", flush=True)
    print(f"Video studio on http://127.0.0.1:{env.get('PORT', '8000')}", flush=True)
    app = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env=env)

    def stop(*_):
        for proc in (app, demo):
            if proc and proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = app.wait()
    stop()
    if demo:
        demo.wait(timeout=10)
    sys.exit(code)


def taken(address, variable):
    """A line saying the port is in use, or None when it is free to listen on."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        number = int(port)
    except ValueError:
        return None  # gunicorn says what is wrong with the address itself
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port left in TIME_WAIT is free
        try:
            probe.bind((host, number))
        except OSError:
            return (
                f"make run: port {number} on {host} is in use by another program, so nothing was started. "
                f"Stop that program, or set {variable} to another port (e.g. {variable.split()[0]}={number + 10})."
            )
    return None


def wait_for(url, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(
                f"the demo API could not start (exit code {proc.returncode}); is its port in use? "
                "Set DEMO_API_PORT to another port."
            )
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the demo API did not answer at {url} within {timeout} s")


if __name__ == "__main__":
    main()
