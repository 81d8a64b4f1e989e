"""The counterpart of a submission: a minimal Flask proxy doing the bare job the app does with an upload:
receive the form, base64-encode the image, forward it to the video API with requests, answer 303.
Served by the same gunicorn configuration as the app (VIDEO_API_BASE_URL says where to forward)."""

import base64
import os

import requests
from flask import Flask, redirect, request

app = Flask(__name__)
UPSTREAM = os.environ.get("VIDEO_API_BASE_URL", "").rstrip("/")


@app.post("/jobs")
def create():
    fields = {name: (None, value) for name, value in request.form.items() if name != "csrf_token"}
    image = request.files.get("image_file")
    if image:
        fields["image"] = (None, base64.b64encode(image.read()))
    answer = requests.post(
        UPSTREAM + "/v1/videos",
        files=fields,
        timeout=60,
        headers={"Authorization": "Bearer " + os.environ.get("VIDEO_API_KEY", "")},
    )
    return redirect("/jobs/" + answer.json()["id"], code=303)


@app.get("/healthz")
def healthz():
    return "ok"
