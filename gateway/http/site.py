"""The HTTP listener's root: /api/v1 (public API) and /admin/v1 (admin API), JSON 404s
and 405s for everything else, the body size cap and the connection guards
(http/connection_guard.py)."""
from __future__ import annotations

from typing import Any

from klein import Klein
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from gateway.http.connection_guard import ConnectionLimits, GuardedSite
from gateway.http.web import error, json_errors

__all__ = ["Root", "make_site"]


class Root:
    app = Klein()

    def __init__(self, api: Any, admin: Any, ops: Any = None, console: Any = None) -> None:
        self._api = api.app.resource()
        self._admin = admin.app.resource()
        self._ops = ops  # ops/endpoints.OpsEndpoints: /metrics, /health, /ready
        self._console = console.app.resource() if console is not None else None

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: Any) -> Any:
        return self._ops.metrics(request) if self._ops else self._missing(request)

    @app.route("/health", methods=["GET"])
    def health(self, request: Any) -> Any:
        return self._ops.health(request) if self._ops else self._missing(request)

    @app.route("/ready", methods=["GET"])
    def ready(self, request: Any) -> Any:
        return self._ops.ready(request) if self._ops else self._missing(request)

    @app.route("/console", methods=["GET"])
    def console_root(self, request: Any) -> bytes:
        request.setResponseCode(301)
        request.setHeader(b"location", b"/console/")
        return b""

    @app.route("/console/", branch=True)
    def console(self, request: Any) -> Any:
        return self._console if self._console is not None else self._missing(request)

    def _missing(self, request: Any) -> bytes:
        return error(request, 404, "not_found", "no such resource (the API is under /api/v1)")

    @app.route("/api/v1/", branch=True)
    def api(self, request: Any) -> Any:
        return self._api

    @app.route("/admin/v1/", branch=True)
    def admin(self, request: Any) -> Any:
        return self._admin

    @app.handle_errors(NotFound, RequestRedirect)
    def not_found(self, request: Any, failure: Any) -> bytes:
        return error(request, 404, "not_found", "no such resource (the API is under /api/v1)")

    json_errors(app, "/")  # 405 for a known path with another method; JSON 500s


def make_site(api: Any, admin: Any, max_body: int, ops: Any = None,
              console: Any = None, limits: ConnectionLimits = ConnectionLimits(),
              reactor: Any = None) -> GuardedSite:
    """The Site the HTTP port serves (the public API, the admin API and the console)."""
    return GuardedSite(Root(api, admin, ops, console).app.resource(), max_body=max_body,
                       limits=limits, reactor=reactor)
