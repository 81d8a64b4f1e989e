"""Real relay software between the studio and the demo API: LiteLLM's proxy (litellm[proxy] 1.108.7, installed
by `make test` into .venv-litellm, requirements-litellm.txt), run as its own process on loopback."""

import os
import subprocess
import time

import pytest
import requests

from .servers import ROOT, free_port

LITELLM = os.path.join(ROOT, ".venv-litellm", "bin", "litellm")
MASTER_KEY = "sk-litellm-test-master-key-0123456789"
# What the studio's form calls each model, and what LiteLLM asks the demo API for.
MODELS = {"demo-v1": "openai/demo-v1", "kling-v1": "openai/kling-v1"}


def require_litellm():
    """Skip with a reason when LiteLLM's proxy is not installed; in CI (REQUIRE_BROWSER=1) fail instead."""
    if os.path.exists(LITELLM):
        return
    reason = f"LiteLLM's proxy is not installed ({LITELLM}); `make test` installs it"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class LiteLLMProxy:
    """`litellm --config ...` in front of an OpenAI-compatible base URL; base_url and key are what the studio
    is pointed at (the proxy's own master key, never the demo API's)."""

    def __init__(self, folder, upstream_base_url, upstream_key, timeout=180):
        self.folder, self.timeout = str(folder), timeout
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.key = MASTER_KEY
        os.makedirs(self.folder, exist_ok=True)
        lines = ["model_list:"]
        for name, target in MODELS.items():
            lines += [
                f"  - model_name: {name}",
                f'    litellm_params: {{model: {target}, api_base: "{upstream_base_url}/v1", '
                f'api_key: "{upstream_key}"}}',
            ]
        lines += [f"general_settings: {{master_key: {MASTER_KEY}}}", "litellm_settings: {telemetry: false}"]
        self.config = os.path.join(self.folder, "config.yaml")
        with open(self.config, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        self.log_path = os.path.join(self.folder, "litellm.log")
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "NO_PROXY": "*"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [LITELLM, "--config", self.config, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.timeout  # it imports a great deal: slow on a busy machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"LiteLLM's proxy exited with code {self.proc.returncode}: {self.log()[-3000:]}")
            try:
                if requests.get(self.base_url + "/health/liveliness", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"LiteLLM's proxy did not answer within {self.timeout} s: {self.log()[-3000:]}")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
