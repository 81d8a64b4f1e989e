"""A request as code to copy: curl and Python (requests), written from the very call the client sent
(UpstreamCall.record(): fields, extras, the picture's file name and type, the remix route). The key is
written as $VIDEO_API_KEY, never the real one; a picture is read from a file of its own name beside the code."""

import shlex

BASE64_FILE = "image.b64"  # where the curl snippet writes a picture's base64 text before sending it


def curl(base_url: str, call: dict) -> str:
    url = base_url.rstrip("/") + call["path"]
    before, lines = (
        [],
        [f"curl -sS -X {call['method']} {shlex.quote(url)}", '  -H "Authorization: Bearer $VIDEO_API_KEY"'],
    )
    for part in call["parts"]:
        name = part["name"]
        if "file" in part:
            quoted = part["file"].replace("\\", "\\\\").replace('"', '\\"')
            argument = name + '=@"' + quoted + '";type=' + part["type"]
            lines.append(f"  -F {shlex.quote(argument)}")
        elif "base64_of" in part:
            # The picture as base64 text, as this API reads it; a file, since it is too long for an argument.
            joined = f"tr -d '\\n' < {BASE64_FILE}.lines"
            if part["prefix"]:
                joined = f"{{ printf '%s' {shlex.quote(part['prefix'])}; {joined}; }}"
            before.append(
                f"base64 < {shlex.quote(part['base64_of'])} > {BASE64_FILE}.lines && {joined} > {BASE64_FILE} && \\"
            )
            lines.append(f"  -F {shlex.quote(name + '=<' + BASE64_FILE)}")
        else:
            # --form-string: the value is sent as it is, even if it starts with @ or <.
            lines.append(f"  --form-string {shlex.quote(name + '=' + part['text'])}")
    return "\n".join([*before, " \\\n".join(lines)])


def python(base_url: str, call: dict) -> str:
    """A requests call sending the same multipart form (text fields as (None, value) parts)."""
    entries, uses_base64 = [], False
    for part in call["parts"]:
        name = part["name"]
        if "file" in part:
            entries.append(f"        ({name!r}, ({part['file']!r}, open({part['file']!r}, 'rb'), {part['type']!r})),")
        elif "base64_of" in part:
            uses_base64 = True
            entries.append(
                f"        ({name!r}, (None, {part['prefix']!r} + base64.b64encode("
                f"open({part['base64_of']!r}, 'rb').read()).decode('ascii'))),"
            )
        else:
            entries.append(f"        ({name!r}, (None, {part['text']!r})),")
    return "\n".join(
        [
            *(["import base64"] if uses_base64 else []),
            "import os",
            "",
            "import requests",
            "",
            "resp = requests.request(",
            f"    {call['method']!r},",
            f"    {base_url.rstrip('/') + call['path']!r},",
            "    headers={'Authorization': 'Bearer ' + os.environ['VIDEO_API_KEY']},",
            "    files=[",
            *entries,
            "    ],",
            "    timeout=60,",
            ")",
            "resp.raise_for_status()",
            "print(resp.json())",
        ]
    )


def snippets(call: dict, base_url: str) -> dict[str, str]:
    """{"curl": ..., "python": ...} for one recorded call."""
    return {"curl": curl(base_url, call), "python": python(base_url, call)}
