"""/metrics, in the Prometheus text format, for the people who run the studio (app/core/metrics.py).

Served to the addresses in METRICS_ALLOW (default: this machine) or to a request with the bearer
METRICS_TOKEN; anyone else gets a 404, as if there were nothing here. A request that came through a proxy
(X-Forwarded-For) while TRUSTED_PROXIES is 0 is not taken for this machine's own: behind nginx on the same
host every visitor would otherwise look like 127.0.0.1."""

import hmac
import ipaddress

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue

from app.core.metrics import exposition
from app.services import services

bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    if not allowed():
        abort(404)
    store = services().store
    return Response(exposition(store.history.archive_totals), content_type=CONTENT_TYPE)


def allowed() -> bool:
    settings = services().settings
    token = settings.metrics_token
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    if request.headers.get("X-Forwarded-For") and not settings.trusted_proxies:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_allow)
