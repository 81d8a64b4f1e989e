"""Turn a valid form into an upstream job and a history row."""

from app.images import encode_image


def submit_job(form, api, store, settings, submitted_by=None):
    """Send the form's request with the stored key; returns the new Job (raises UpstreamError)."""
    image_value = None
    if form.checked_image is not None:
        image_value = encode_image(form.checked_image, settings.image_base64_format)
    elif form.image_url.data:
        image_value = form.image_url.data
    job = api.create_video(form.to_video_request(image_value))
    store.add(job, form.values(), submitted_by=submitted_by)
    return job
