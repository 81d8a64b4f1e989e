"""Serving archived videos. A full GET goes through send_file (gunicorn hands it to sendfile). A single
Range is served here by seeking to its start: gunicorn's file wrapper cannot seek, so Werkzeug would read
and throw away every byte before the range, and a seek near the end of a long video would read it whole."""

import os

from flask import Response, request, send_file

CHUNK = 256 * 1024


def send_video(path, *, max_age, download_name, as_attachment=False):
    """The MP4 at path, with Range support whose cost does not depend on where the range starts."""
    ranges = request.range
    if (as_attachment or ranges is None or len(ranges.ranges) != 1 or ranges.units != "bytes"
            or request.headers.get("If-Range")):      # the rare cases send_file already gets right
        return send_file(path, mimetype="video/mp4", conditional=True, max_age=max_age,
                         as_attachment=as_attachment, download_name=download_name)
    size = os.path.getsize(path)
    bounds = ranges.range_for_length(size)
    if bounds is None:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})
    start, stop = bounds
    response = Response(_read(path, start, stop - start), status=206, mimetype="video/mp4",
                        direct_passthrough=True)
    response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.content_length = stop - start
    response.last_modified = os.path.getmtime(path)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response


def _read(path, start, length):
    with open(path, "rb") as fh:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
