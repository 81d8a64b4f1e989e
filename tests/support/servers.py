"""Real servers as their own processes on loopback: the demo API, and the app under gunicorn."""

import contextlib
import os
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, proc=None, timeout=90.0, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = ""
            if log_path:
                with open(log_path, encoding="utf-8", errors="replace") as fh:
                    tail = fh.read()[-2000:]
            raise RuntimeError(f"server exited with code {proc.returncode}: {tail}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:  # refused, reset or slow to answer while it starts: try again
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout}s")


class DemoAPIProcess:
    """`python -m demo_api` on a free loopback port."""

    def __init__(self, data_dir, key="demo", workers=2, min_render_seconds=0.0, port=None, extra_args=()):
        self.data_dir, self.key, self.extra_args = str(data_dir), key, list(extra_args)
        self.workers, self.min_render_seconds = workers, min_render_seconds
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        cmd = [
            sys.executable,
            "-m",
            "demo_api",
            "--port",
            str(self.port),
            "--key",
            self.key,
            "--data-dir",
            self.data_dir,
            "--workers",
            str(self.workers),
            "--min-render-seconds",
            str(self.min_render_seconds),
            *self.extra_args,
        ]
        self.log_path = os.path.join(self.data_dir, "demo_api.log")
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(self.base_url + "/", self.proc, log_path=self.log_path)
        except BaseException:
            self.stop()  # a server that did not come up is not left running
            raise
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class AppProcess:
    """The app under gunicorn, configured by environment variables, on a free loopback port."""

    def __init__(self, data_dir, env, port=None, app_module="wsgi:app"):
        self.data_dir, self.env, self.app_module = str(data_dir), env, app_module
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEO_API_", "APP_", "AUTH_"))}
        env.update(
            {
                "DATA_DIR": self.data_dir,
                "SECRET_KEY": "e2e-secret",
                "BIND": f"127.0.0.1:{self.port}",
                "WEB_WORKERS": "2",
                **self.env,
            }
        )
        self.log_path = os.path.join(self.data_dir, "app.log")
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.app_module],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_up(self.base_url + "/healthz", self.proc, log_path=self.log_path)
        except BaseException:
            self.stop()  # a server that did not come up is not left running
            raise
        return self

    def children(self):
        """The pids of the gunicorn master's children: its workers and the follower process."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            found.append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
        return found

    def worker_pids(self):
        """The gunicorn workers alone (not the follower process)."""
        return [pid for pid in self.children() if not _is_follower(pid)]

    def follower_pid(self):
        return next((pid for pid in self.children() if _is_follower(pid)), None)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    stop = DemoAPIProcess.stop


def _is_follower(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"app.jobs.follower_process" in fh.read()
    except OSError:
        return False


@contextlib.contextmanager
def demo_stack(root, env=None, **demo_options):
    """The demo API and the app under gunicorn against it (env: the app's own settings), both stopped
    at the end, even when the app fails to start. Yields the AppProcess, with .demo the DemoAPIProcess."""
    demo = DemoAPIProcess(root / "demo", **demo_options).start()
    try:
        app = AppProcess(
            root / "app", {"VIDEO_API_BASE_URL": demo.base_url, "VIDEO_API_KEY": demo.key, **(env or {})}
        ).start()
        try:
            app.demo = demo
            yield app
        finally:
            app.stop()
    finally:
        demo.stop()
