"""The demo API answers OpenAI's video routes in OpenAI's shapes: Schemathesis generates requests from
docs/openai-videos.openapi.json (written from OpenAI's published description, cited there), including
stateful chains (create, then read, remix, fetch content, delete), and checks every answer: no server error,
and every response matches its declared schema (null fields present, webp pictures, error envelopes)."""

import os
import subprocess
import sys

from support.servers import ROOT, DemoAPIProcess

SPEC = os.path.join(ROOT, "docs", "openai-videos.openapi.json")


def test_schemathesis_finds_no_server_error_and_no_answer_off_schema(tmp_path):
    demo = DemoAPIProcess(tmp_path / "demo", extra_args=["--quiet"]).start()
    try:
        st = os.path.join(os.path.dirname(sys.executable), "st")
        out = subprocess.run(
            [
                st,
                "run",
                SPEC,
                "--url",
                demo.base_url,
                "-H",
                f"Authorization: Bearer {demo.key}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                "60",
                "--seed",
                "20261201",
                "--request-timeout",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
        summary = out.stdout[-3000:]
        assert out.returncode == 0, summary
        assert "generated" in summary and "failure" not in summary.split("Test cases:")[-1], summary
    finally:
        demo.stop()
    with open(demo.log_path, encoding="utf-8", errors="replace") as fh:
        assert "Traceback" not in fh.read()
