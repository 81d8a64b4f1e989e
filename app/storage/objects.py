"""Where archived videos, their posters and kept uploads live when several hosts share them: an S3 API.

OBJECT_STORE_URL=s3://bucket/prefix turns it on (unset: files stay under DATA_DIR, as on one host). The
endpoint, keys and region come from the standard AWS variables, read by boto3 itself
(AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION); with an
endpoint of its own (SeaweedFS, MinIO, Ceph) the store is addressed path-style, as those expect.

Keys are made by the app (hashes and numbers), never from upstream text. Nothing here imports Flask: the
web layer turns an ObjectBody into a response.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CHUNK = 256 * 1024
PRESIGNED_SECONDS = 60  # an X-Accel-Redirect to the store is followed by nginx at once


class ObjectStoreError(Exception):
    """The object store could not be reached or refused; the message names what was asked."""


@dataclass
class ObjectBody:
    """An object's bytes (or the asked range of them), streamed from the store."""

    status: int  # 200, 206 for a range, 304 when the client's copy is current, 416 for a range past the end
    length: int
    total: int
    content_type: str
    etag: str
    last_modified: float
    chunks: Iterator[bytes]
    start: int = 0

    @property
    def content_range(self) -> str | None:
        return None if self.status != 206 else f"bytes {self.start}-{self.start + self.length - 1}/{self.total}"

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class ObjectStore:
    """An S3 bucket, under a prefix: put a file, stream it (with Range), presign it, delete a folder."""

    def __init__(self, url: str, client=None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc or ""):
            raise ValueError(f"OBJECT_STORE_URL must look like s3://bucket/prefix, not {url!r}")
        self.url = url
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if client is None:
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            config = Config(
                s3={"addressing_style": "path" if endpoint else "auto"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            )
            client = boto3.session.Session().client(
                "s3", config=config, region_name=os.environ.get("AWS_REGION") or "us-east-1"
            )
        self.client = client

    def key(self, name: str) -> str:
        """The bucket key of one of the app's names (archive/<hash>/0.mp4, uploads/<token>)."""
        clean = "/".join(p for p in name.replace(os.sep, "/").split("/") if p not in ("", ".", ".."))
        return f"{self.prefix}/{clean}" if self.prefix else clean

    def check(self) -> None:
        """The bucket answers and takes writes; ObjectStoreError otherwise (for /readyz and start-up)."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(".ready"), Body=b"ok")
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"the object store {self.url} is not writable: {_reason(exc)}") from exc

    def put_file(self, name: str, path: str, content_type: str) -> None:
        """Upload a local file (in parts when it is large)."""
        try:
            self.client.upload_file(path, self.bucket, self.key(name), ExtraArgs={"ContentType": content_type})
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"could not store {name}: {_reason(exc)}") from exc

    def get_file(self, name: str, path: str) -> bool:
        """Download an object to a local file; False when there is no such object."""
        try:
            self.client.download_file(self.bucket, self.key(name), path)
            return True
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise ObjectStoreError(f"could not read {name}: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"could not read {name}: {_reason(exc)}") from exc

    def open(self, name: str, byte_range: str | None = None, if_none_match: str | None = None) -> ObjectBody | None:
        """Stream an object, or the one byte range asked for ("bytes=0-99"); None when there is none."""
        args = {"Bucket": self.bucket, "Key": self.key(name)}
        if byte_range:
            args["Range"] = byte_range
        if if_none_match:
            args["IfNoneMatch"] = if_none_match
        try:
            answer = self.client.get_object(**args)
        except ClientError as exc:
            code = _code(exc)
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            if code in ("304", "NotModified"):
                return ObjectBody(304, 0, 0, "", if_none_match or "", 0.0, iter(()))
            if code in ("416", "InvalidRange"):
                total = self._size(name)
                return None if total is None else ObjectBody(416, 0, total, "", "", 0.0, iter(()))
            raise ObjectStoreError(f"could not read {name}: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise ObjectStoreError(f"could not read {name}: {_reason(exc)}") from exc
        length = int(answer.get("ContentLength") or 0)
        start, total, status = 0, length, 200
        found = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", answer.get("ContentRange") or "")
        if found:
            start, total, status = int(found.group(1)), int(found.group(3)), 206
        modified = answer.get("LastModified")
        return ObjectBody(
            status=status,
            length=length,
            total=total,
            content_type=answer.get("ContentType") or "application/octet-stream",
            etag=answer.get("ETag") or "",
            last_modified=modified.timestamp() if modified else 0.0,
            chunks=answer["Body"].iter_chunks(CHUNK),
            start=start,
        )

    def _size(self, name: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.key(name))["ContentLength"])
        except (BotoCoreError, ClientError):
            return None

    def presigned_path(self, name: str) -> str:
        """The path and query of a short-lived GET of the object, signed for the store's own host: what an
        nginx internal location that proxies to the store is handed (the browser never sees it)."""
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.key(name)}, ExpiresIn=PRESIGNED_SECONDS
        )
        parts = urlsplit(url)
        return parts.path.lstrip("/") + "?" + parts.query

    def delete_folder(self, name: str) -> int:
        """Delete every object under name/; returns how many."""
        prefix = self.key(name).rstrip("/") + "/"
        removed = 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                    removed += len(keys)
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not delete {name}/: {_reason(exc)}") from exc
        return removed

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not delete {name}: {_reason(exc)}") from exc

    def touch(self, name: str) -> None:
        """Make an object new again (copied onto itself), so housekeeping keeps it for another period."""
        key = self.key(name)
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key}, MetadataDirective="REPLACE"
            )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not renew {name}: {_reason(exc)}") from exc

    def remove_older_than(self, folder: str, cutoff: float) -> int:
        """Delete the objects under folder/ last written before cutoff; returns how many."""
        prefix = self.key(folder).rstrip("/") + "/"
        old = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                old.extend(
                    {"Key": item["Key"]}
                    for item in page.get("Contents", [])
                    if item["LastModified"].timestamp() < cutoff
                )
            for start in range(0, len(old), 1000):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": old[start : start + 1000], "Quiet": True}
                )
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"could not clear {folder}/: {_reason(exc)}") from exc
        return len(old)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')} {error.get('Message', '')}".strip() or type(exc).__name__
    return str(exc)[:200] or type(exc).__name__
