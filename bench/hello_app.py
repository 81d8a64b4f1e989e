"""The counterpart of the form page: a hello-world Flask app, served by the same gunicorn configuration."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, world"


@app.get("/healthz")
def healthz():
    return "ok"
