"""A multipart/form-data body that is streamed, so a large image is never held in memory whole."""

import base64
import os
import secrets
from collections.abc import Iterator

CHUNK = 3 * 64 * 1024  # a multiple of 3, so base64 chunks join without padding in between


class Base64File:
    """A file's bytes as base64 text (optionally behind a prefix such as 'data:image/png;base64,'), read in chunks."""

    def __init__(self, path, prefix: str = "", filename: str = "") -> None:
        self.path, self.prefix, self.filename = path, prefix.encode("ascii"), filename
        self.size = os.path.getsize(path)

    def __len__(self) -> int:
        return len(self.prefix) + 4 * ((self.size + 2) // 3)

    def chunks(self) -> Iterator[bytes]:
        yield self.prefix
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(CHUNK)
                if not block:
                    return
                yield base64.b64encode(block)

    def text(self) -> str:
        """The whole value as a string (for small files and tests)."""
        return b"".join(self.chunks()).decode("ascii")


class FilePart:
    """A file sent as a file part (filename and Content-Type), read from disk in chunks as it is sent."""

    def __init__(self, path, filename, content_type) -> None:
        self.path, self.filename, self.content_type = path, filename, content_type
        self.size = os.path.getsize(path)

    def __len__(self) -> int:
        return self.size

    def chunks(self) -> Iterator[bytes]:
        with open(self.path, "rb") as fh:
            while True:
                block = fh.read(CHUNK)
                if not block:
                    return
                yield block


class MultipartBody:
    """A file-like request body for requests: len() is known up front, read() produces it piece by piece."""

    def __init__(self, parts) -> None:
        self.boundary = "----videostudio" + secrets.token_hex(12)
        self._pieces = []
        for name, value in parts:
            head = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"'
            if isinstance(value, FilePart):
                head += f'; filename="{_quote(value.filename)}"\r\nContent-Type: {_quote(value.content_type)}'
            self._pieces.append((head + "\r\n\r\n").encode("utf-8"))
            self._pieces.append(value if isinstance(value, (Base64File, FilePart)) else str(value).encode("utf-8"))
            self._pieces.append(b"\r\n")
        self._pieces.append(f"--{self.boundary}--\r\n".encode())
        self.length = sum(len(p) for p in self._pieces)
        self._iter = self._generate()
        self._buffer = bytearray()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.length

    def _generate(self):
        for piece in self._pieces:
            if isinstance(piece, (Base64File, FilePart)):
                yield from piece.chunks()
            else:
                yield piece

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._iter)
            except StopIteration:
                break
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = bytes(self._buffer), bytearray()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]  # cheap: a bytearray drops its head without moving the rest
        return out


def _quote(name):
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
