"""The same request as the app would send, as code to copy: curl and Python (requests). The key is
written as $VIDEO_API_KEY, never the real one; an uploaded image appears as a file argument."""

import shlex

from app.upstream import VideoRequest

IMAGE_FILE = "image.png"     # what an uploaded picture is called in a snippet


def request_parts(request: VideoRequest, send_aliases=True, uploaded_image=False):
    """(name, value) pairs as the app sends them; an upload becomes ("input_reference", file name)."""
    parts = [(name, value) for name, value in request.form_parts(send_aliases) if name != "image"]
    if uploaded_image:
        parts.append(("input_reference", f"@{IMAGE_FILE}"))
    elif isinstance(request.image, str) and request.image:
        parts.append(("image", request.image))
    return parts


def curl(base_url, parts):
    lines = [f"curl -sS {shlex.quote(base_url.rstrip('/') + '/v1/videos')}",
             '  -H "Authorization: Bearer $VIDEO_API_KEY"']
    for name, value in parts:
        if str(value).startswith("@") and name == "input_reference":
            lines.append(f"  -F {shlex.quote(name + '=' + str(value))}")
        else:
            # --form-string: the value is sent as it is, even if it starts with @ or <.
            lines.append(f"  --form-string {shlex.quote(name + '=' + str(value))}")
    return " \\\n".join(lines)


def python(base_url, parts):
    """A requests call sending the same multipart form (text fields as (None, value) parts)."""
    entries = []
    for name, value in parts:
        if name == "input_reference" and str(value).startswith("@"):
            entries.append(f"        ({name!r}, ({str(value)[1:]!r}, open({str(value)[1:]!r}, 'rb'))),")
        else:
            entries.append(f"        ({name!r}, (None, {str(value)!r})),")
    return "\n".join([
        "import os",
        "",
        "import requests",
        "",
        "resp = requests.post(",
        f"    {base_url.rstrip('/') + '/v1/videos'!r},",
        "    headers={'Authorization': 'Bearer ' + os.environ['VIDEO_API_KEY']},",
        "    files=[",
        *entries,
        "    ],",
        "    timeout=60,",
        ")",
        "resp.raise_for_status()",
        "print(resp.json())",
    ])


def snippets(request: VideoRequest, base_url, send_aliases=True, uploaded_image=False):
    """{"curl": ..., "python": ...} for one request."""
    parts = request_parts(request, send_aliases, uploaded_image)
    return {"curl": curl(base_url, parts), "python": python(base_url, parts)}
