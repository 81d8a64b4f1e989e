"""Turn a valid form into an upstream job and a history row, once per filled form."""

import time

from app.images import encode_image

IN_FLIGHT_WAIT = 0.25


class AlreadySubmitted(Exception):
    """The same filled form was sent before; job_id is what it made ('' if that send never finished)."""

    def __init__(self, job_id):
        super().__init__(job_id)
        self.job_id = job_id


def submit_job(form, api, store, settings, submitted_by=None):
    """Send the form's request with the stored key; returns the new Job.

    Raises UpstreamError, or AlreadySubmitted when this form's one-time token was used already.
    """
    token = (form.submission_id.data or "").strip()[:64]
    if token:
        earlier = _claim(store, token, settings)
        if earlier is not None:
            raise AlreadySubmitted(earlier)
    image_value = None
    if form.checked_image is not None:
        image_value = encode_image(form.checked_image, settings.image_base64_format)
    elif form.image_url.data:
        image_value = form.image_url.data
    try:
        job = api.create_video(form.to_video_request(image_value))
    except BaseException:
        if token:
            store.release_submission(token)
        raise
    store.add(job, form.values(), submitted_by=submitted_by)
    if token:
        store.finish_submission(token, job.id)
    return job


def _claim(store, token, settings):
    """None when this request owns the token; else the job id an earlier send made ('' if still unknown).

    A second send of a form still in flight waits for the first one's answer; if that one fails and lets
    go of the token, this send takes it over.
    """
    deadline = time.monotonic() + settings.video_api_connect_timeout + settings.video_api_timeout
    earlier = store.claim_submission(token)
    while earlier == "" and time.monotonic() < deadline:
        time.sleep(IN_FLIGHT_WAIT)
        earlier = store.claim_submission(token)
    return earlier
