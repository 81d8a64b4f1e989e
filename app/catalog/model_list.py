"""Model ids to suggest in the form: the upstream's GET /v1/models when it answers, else a built-in list."""

import logging
import threading
import time

from app.upstream import UpstreamError

log = logging.getLogger("app.catalog.model_list")

BUILT_IN_MODELS: tuple[str, ...] = (
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "sora-2",
    "sora-2-pro",
)
FAILURE_RETRY_SECONDS = 60
FIRST_WAIT_SECONDS = 0.5
NOT_VIDEO = ("gpt-", "text-", "whisper", "tts", "dall-e", "o1", "o3", "o4", "claude", "embedding")


class ModelCatalogue:
    """Caches the upstream's model list for ttl seconds (a failure for a minute), per process.

    The list is refreshed in the background, so a slow upstream never holds up the form page.
    """

    def __init__(self, api, ttl: float = 300.0) -> None:
        self.api, self.ttl = api, ttl
        self._lock = threading.Lock()
        self._models: list[str] = list(BUILT_IN_MODELS)
        self._until, self.from_upstream = 0.0, False
        self._refreshing = None

    def models(self) -> list[str]:
        with self._lock:
            stale = time.monotonic() >= self._until
            if stale and self._refreshing is None:
                self._refreshing = threading.Thread(target=self._refresh, daemon=True, name="models")
                self._refreshing.start()
            refreshing = self._refreshing
        if stale and refreshing is not None and not self.from_upstream:
            refreshing.join(FIRST_WAIT_SECONDS)  # the first page may wait a moment for the real list
        return self._models

    def _refresh(self) -> None:
        models: list[str]
        try:
            found = self.api.list_models()
            video_like = [m for m in found if not m.lower().startswith(NOT_VIDEO)]
            models, ttl, from_upstream = (video_like or found or list(BUILT_IN_MODELS)), self.ttl, True
        except UpstreamError as exc:
            log.info("model list unavailable (%s); suggesting the built-in list", exc.kind)
            models, ttl, from_upstream = list(BUILT_IN_MODELS), min(self.ttl, FAILURE_RETRY_SECONDS), False
        with self._lock:
            self._models, self.from_upstream = models, from_upstream
            self._until = time.monotonic() + ttl
            self._refreshing = None
