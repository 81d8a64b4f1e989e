"""Answers in the shapes new-api (QuantumNous/new-api) sends for the OpenAI video routes, written from its
source (read 2026-12-01), for a scripted upstream to replay:

- ids: `model/task.go` GenerateTaskID() -> "task_" + 32 random characters; the job object repeats it as
  `task_id` ("兼容旧接口 待废弃", kept for old clients).
- the job object: `dto/openai_video.go` OpenAIVideo, every optional field `omitempty` (no completed_at,
  expires_at, seconds, size, error or metadata until set); `SetProgressStr("30%")` makes progress a number.
- a finished video's address: each adaptor's ConvertToOpenAIVideo() puts it in `metadata.url`
  (`relay/channel/task/doubao/adaptor.go`, `.../jdcloud`, `.../sora...`); a failure sets
  `error: {message, code}` (`dto.OpenAIVideoError`, code e.g. "task_failed" or the provider's).
- statuses: `dto/openai_video.go` VideoStatus* -> queued, in_progress, completed, failed, unknown.
- errors: `dto/task.go` TaskError / TaskResponse -> {"code", "message", "data"} (invalid_request,
  task_not_exist answered 400 for an unknown id); token errors in OpenAI's envelope with
  type "new_api_error"; 429 with a Chinese "busy" message (RELAY-NOTES.md).
- no DELETE route: gin answers 404.
"""

import secrets
import time

from werkzeug.wrappers import Response

from .upstreams import json_response

BUSY = "当前分组上游负载已饱和，请稍后再试"


def task_id():
    return "task_" + secrets.token_urlsafe(24)[:32]


def video_object(
    job_id, status, progress=0, model="kling-v1", created_at=None, url=None, error=None, completed_at=None
):
    """dto.OpenAIVideo as new-api marshals it (omitempty fields left out when unset)."""
    body = {
        "id": job_id,
        "task_id": job_id,
        "object": "video",
        "model": model,
        "status": status,
        "progress": progress,
        "created_at": created_at or int(time.time()),
    }
    if completed_at:
        body["completed_at"] = completed_at
    if url:
        body["metadata"] = {"url": url}
    if error:
        body["error"] = error
    return body


def task_error(code, message, status=400):
    """dto.TaskError as the task relay writes it."""
    return json_response({"code": code, "message": message, "data": None}, status)


def token_error(message="无效的令牌 (request id: 20261201)"):
    return json_response({"error": {"message": message, "type": "new_api_error", "param": "", "code": None}}, 401)


class NewAPIRelay:
    """A scripted upstream's handler replaying new-api: each job queued, then in progress, then completed
    with its address in metadata.url (served by video_host) or failed, as `plan` says per prompt."""

    def __init__(self, video_bytes, video_host_url):
        self.video, self.video_host_url = video_bytes, video_host_url
        self.jobs = {}  # id -> {"reads": n, "plan": ...}

    def __call__(self, req):
        if req.path == "/v1/models":
            return json_response(
                {"object": "list", "data": [{"id": "kling-v1", "object": "model", "owned_by": "custom"}]}
            )
        if req.method == "POST" and req.path == "/v1/videos":
            prompt = req.field("prompt") or ""
            if not prompt.strip():
                return task_error("invalid_request", "prompt is required")
            if prompt == "busy":
                return json_response({"error": {"message": BUSY, "type": "new_api_error"}}, 429)
            job_id = task_id()
            self.jobs[job_id] = {"reads": 0, "plan": "fail" if "fail" in prompt else "ok", "created": int(time.time())}
            return json_response(video_object(job_id, "queued", created_at=self.jobs[job_id]["created"]))
        parts = req.path.split("/")
        job = self.jobs.get(parts[3]) if len(parts) > 3 else None
        if req.method == "DELETE":
            return Response("404 page not found", 404, mimetype="text/plain")
        if job is None:
            return task_error("task_not_exist", "task_not_exist")
        job_id = parts[3]
        if len(parts) == 5 and parts[4] == "content":
            if job["reads"] < 2:
                return task_error("invalid_request", "task is not completed")
            return Response(self.video, mimetype="video/mp4")
        job["reads"] += 1
        if job["reads"] == 1:
            return json_response(video_object(job_id, "in_progress", progress=30, created_at=job["created"]))
        if job["plan"] == "fail":
            return json_response(
                video_object(
                    job_id,
                    "failed",
                    progress=100,
                    created_at=job["created"],
                    error={"message": "内容审核未通过 (content review failed)", "code": "task_failed"},
                )
            )
        return json_response(
            video_object(
                job_id,
                "completed",
                progress=100,
                created_at=job["created"],
                completed_at=int(time.time()),
                url=f"{self.video_host_url}/videos/{job_id}.mp4",
            )
        )
