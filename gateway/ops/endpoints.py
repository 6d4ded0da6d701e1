"""GET /metrics (Prometheus text format), /health (alive) and /ready (200 or 503 with the
check that failed): served on the HTTP port by the site's root, and on `[metrics] port`
by a site of their own."""
from __future__ import annotations

import hmac
from typing import Any

from klein import Klein
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from gateway.http.web import error, json_response
from gateway.ops.health import Readiness, answer
from gateway.ops.metrics import GatewayMetrics

__all__ = ["OpsEndpoints"]


class OpsEndpoints:
    app = Klein()

    def __init__(self, *, metrics: GatewayMetrics | None, readiness: Readiness | None,
                 token: str = "") -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._token = token.encode()

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: Any) -> bytes:
        if self._metrics is None:
            return error(request, 404, "not_found", "metrics are off ([metrics] enabled)")
        if self._token and not _bearer_is(request, self._token):
            request.setHeader(b"www-authenticate", b'Bearer realm="smsgw-metrics"')
            return error(request, 401, "unauthorized", "/metrics needs [metrics] token")
        data = generate_latest(self._metrics.registry)
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-length", b"%d" % len(data))
        return data

    @app.route("/health", methods=["GET"])
    def health(self, request: Any) -> bytes:
        return json_response(request, 200, {"status": "alive"})

    @app.route("/ready", methods=["GET"])
    async def ready(self, request: Any) -> bytes:
        if self._readiness is None:
            return json_response(request, 503, {"ready": False, "failed": ["starting"],
                                                "checks": {}})
        status, body = answer(await self._readiness.checks())
        return json_response(request, status, body)

    @app.handle_errors(NotFound, RequestRedirect)
    def not_found(self, request: Any, failure: Any) -> bytes:
        return error(request, 404, "not_found", "this port serves /metrics, /health, /ready")

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request: Any, failure: Any) -> bytes:
        return error(request, 405, "method_not_allowed", "method not allowed here")


def _bearer_is(request: Any, token: bytes) -> bool:
    header = request.getHeader(b"authorization") or b""
    if isinstance(header, str):
        header = header.encode("latin-1", "replace")
    scheme, _, given = header.strip().partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)
