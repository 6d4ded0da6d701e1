"""The HTTP listener's root: /api/v1 (public API) and /admin/v1 (admin API), JSON 404s
and 405s for everything else, the body size cap and the connection guards
(http/connection_guard.py). The admin API and the console answer only clients in
`admin_allow` (`[admin] allow`: loopback unless configured)."""
from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.web.resource import Resource
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from gateway.core.accounts import LOOPBACK_NETWORKS, ip_allowed
from gateway.http.access_log import AccessLog
from gateway.http.connection_guard import ConnectionLimits, GuardedSite
from gateway.http.web import error, json_errors

__all__ = ["ApiFirst", "Root", "make_site"]


class Root:
    app = Klein()

    def __init__(self, api: Any, admin: Any, ops: Any = None, console: Any = None,
                 admin_allow: tuple[str, ...] = LOOPBACK_NETWORKS) -> None:
        self._admin_allow = admin_allow
        self.api_resource = api.app.resource()
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
        if not self._admin_peer_allowed(request):
            return self._admin_refused(request)
        return self._console if self._console is not None else self._missing(request)

    def _missing(self, request: Any) -> bytes:
        return error(request, 404, "not_found", "no such resource (the API is under /api/v1)")

    @app.route("/api/v1/", branch=True)
    def api(self, request: Any) -> Any:
        return self.api_resource

    @app.route("/admin/v1/", branch=True)
    def admin(self, request: Any) -> Any:
        return self._admin if self._admin_peer_allowed(request) else self._admin_refused(request)

    def _admin_peer_allowed(self, request: Any) -> bool:
        peer = getattr(request.getClientAddress(), "host", "") or ""
        return ip_allowed(peer, self._admin_allow)

    def _admin_refused(self, request: Any) -> bytes:
        return error(request, 403, "forbidden",
                     "administration answers only clients in [admin] allow (default: "
                     "this machine)")

    @app.handle_errors(NotFound, RequestRedirect)
    def not_found(self, request: Any, failure: Any) -> bytes:
        return error(request, 404, "not_found", "no such resource (the API is under /api/v1)")

    json_errors(app, "/")  # 405 for a known path with another method; JSON 500s


class ApiFirst(Resource):
    """The site's resource: a request under /api/v1/ goes straight to the public API's
    resource, as Root's /api/v1/ branch route would send it (the same prepath/postpath
    split, the same resource); every other request goes through Root, unchanged.

    Root's routing step is a whole Klein dispatch (URL parts, a werkzeug match, a Deferred
    chain) that only ever answers "the API" for these paths, and nearly every request is
    one of them: this skips it. Only exact b"api", b"v1" segments take the short cut; any
    other spelling (no trailing slash, an empty segment after them, ...) is Root's to answer
(postpath is already percent-decoded, for Root as here)."""

    isLeaf = True

    def __init__(self, root: Root) -> None:
        super().__init__()
        self._root = root.app.resource()
        self._api = root.api_resource

    def render(self, request: Any) -> Any:
        postpath = request.postpath
        if (len(postpath) > 2 and postpath[0] == b"api" and postpath[1] == b"v1"
                and b"//" not in b"/" + b"/".join(postpath[2:])):
            # (an empty segment: Root's werkzeug map merges slashes, a redirect, its 404)
            # what Klein's branch route does for "/api/v1/" (two segments) before the API
            request.prepath.extend(postpath[:2])
            request.postpath = postpath[2:]
            return self._api.render(request)
        return self._root.render(request)


def make_site(api: Any, admin: Any, max_body: int, ops: Any = None,
              console: Any = None, limits: ConnectionLimits = ConnectionLimits(),
              reactor: Any = None,
              admin_allow: tuple[str, ...] = LOOPBACK_NETWORKS,
              access_log: AccessLog = AccessLog()) -> GuardedSite:
    """The Site the HTTP port serves (the public API, the admin API and the console)."""
    root = Root(api, admin, ops, console, admin_allow=admin_allow)
    return GuardedSite(ApiFirst(root), max_body=max_body, limits=limits, reactor=reactor,
                       access_log=access_log)
