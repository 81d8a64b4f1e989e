"""Serving archived videos. A full GET goes through send_file (gunicorn hands it to sendfile). A single
Range is served here by seeking to its start: Werkzeug would read and throw away every byte before the
range (gunicorn's file wrapper cannot seek), so a seek near the end of a long video would read it whole.
Under gunicorn the seeked file goes to its file wrapper, which sends exactly Content-Length bytes from the
file's position with sendfile(2): a Range then costs what a static server's does, wherever it starts."""

import os
import unicodedata
from urllib.parse import quote

from flask import Response, request, send_file
from werkzeug.http import dump_options_header, http_date

from app.storage.objects import ObjectBody

CHUNK = 256 * 1024


def send_video(
    path: str,
    *,
    max_age: int,
    download_name: str,
    as_attachment: bool = False,
    accel: tuple[str, str] | None = None,
) -> Response:
    """The MP4 at path, with Range support whose cost does not depend on where the range starts.
    accel: (internal location, path relative to it, or a presigned path and query to the object store) when
    nginx in front should send the file itself."""
    if accel:
        return _handed_to_nginx(*accel, max_age=max_age, download_name=download_name, as_attachment=as_attachment)
    ranges = request.range
    if (
        as_attachment
        or ranges is None
        or len(ranges.ranges) != 1
        or ranges.units != "bytes"
        or request.headers.get("If-Range")
    ):  # the rare cases send_file already gets right
        return send_file(
            path,
            mimetype="video/mp4",
            conditional=True,
            max_age=max_age,
            as_attachment=as_attachment,
            download_name=download_name,
        )
    size = os.path.getsize(path)
    bounds = ranges.range_for_length(size)
    if bounds is None:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, stop = bounds
    response = Response(_body(path, start, stop - start), status=206, mimetype="video/mp4", direct_passthrough=True)
    response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.content_length = stop - start
    response.headers["Last-Modified"] = http_date(os.path.getmtime(path))
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def send_object(
    body: ObjectBody, *, max_age: int, download_name: str | None = None, as_attachment: bool = False
) -> Response:
    """An object streamed from the object store as it arrives, with the status, range and validators the
    store answered for the request's own Range and If-None-Match."""
    if body.status in (304, 416):
        body.close()
        headers = {"Accept-Ranges": "bytes"}
        if body.status == 416:
            headers["Content-Range"] = f"bytes */{body.total}"
        return Response(status=body.status, headers=headers)
    response = Response(body.chunks, status=body.status, mimetype=body.content_type, direct_passthrough=True)
    response.call_on_close(body.close)
    response.content_length = body.length
    response.headers["Accept-Ranges"] = "bytes"
    if body.content_range:
        response.headers["Content-Range"] = body.content_range
    if body.etag:
        response.headers["ETag"] = body.etag
    if body.last_modified:
        response.headers["Last-Modified"] = http_date(body.last_modified)
    if download_name:
        response.headers["Content-Disposition"] = _disposition(as_attachment, download_name)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def _handed_to_nginx(location, relative, *, max_age, download_name, as_attachment):
    """An empty answer whose X-Accel-Redirect tells nginx which file to send from its internal location
    (ARCHIVE_ACCEL_REDIRECT): nginx then answers Range, If-Range and HEAD itself, with sendfile, and the
    worker's thread is free at once. nginx keeps the Content-Disposition and Cache-Control set here."""
    response = Response(status=200, mimetype="video/mp4")
    path, _, query = relative.partition("?")  # a presigned address to the object store keeps its query as is
    response.headers["X-Accel-Redirect"] = location + quote(path.replace(os.sep, "/")) + (f"?{query}" if query else "")
    response.headers["Content-Disposition"] = _disposition(as_attachment, download_name)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def _disposition(as_attachment, name):
    """As send_file writes it: a plain filename, and filename* too when the name is not ASCII."""
    options = {"filename": name}
    if not name.isascii():
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii") or "video.mp4"
        options = {"filename": simple, "filename*": f"UTF-8''{quote(name, safe='!#$&+^`|~')}"}
    return dump_options_header("attachment" if as_attachment else "inline", options)


def _body(path, start, length):
    """The bytes [start, start + length) of path, as gunicorn's sendfile wrapper or as chunks."""
    wrapper = request.environ.get("wsgi.file_wrapper")
    if wrapper is not None and request.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        # gunicorn sends response_length (our Content-Length) bytes from the file's current offset and
        # never more (its write() stops there too when sendfile is not possible, as under TLS).
        fh = open(path, "rb")  # noqa: SIM115 -- closed by the server through the wrapper's close()
        fh.seek(start)
        return wrapper(fh, CHUNK)
    return _read(path, start, length)


def _read(path, start, length):
    with open(path, "rb") as fh:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
