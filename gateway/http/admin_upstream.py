"""Admin REST sections for upstream connectors and routes.

`AdminApi` (http/admin.py) checks the admin token and delegates `/admin/v1/<section>/...`
to each section's Klein app; these apps see paths relative to their section:

    connectors:  GET /            list, each with its live health
                 GET /<name>      one connector
                 POST /           add (JSON: the connector settings)
                 PATCH /<name>    change (JSON: the settings to change)
                 DELETE /<name>   remove (refused while a route uses it)
    routes:      GET /            list
                 POST /           add (JSON: prefix, connectors [{name, weight}],
                                  account, source_prefix) -> {"id": ...}
                 DELETE /<id>     remove

Changes are written to the store (bumping its settings version) and then applied to the
running gateway at once through `apply` (the settings watcher would within seconds).
Errors are the admin API's: {"error": {"code", "message", "field"?}}.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from klein import Klein
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.web.iweb import IRequest

from gateway.core.connector_settings import ConnectorSettings, SettingsError
from gateway.core.ports import ConnectorExists, UnknownConnector, UpstreamStore
from gateway.core.routing import Route, RouteError, RouteTarget
from gateway.http.params import parse_id
from gateway.http.web import BadBody, InvalidField, error, json_errors, json_response, read_json

HealthSource = Callable[[], dict[str, dict[str, Any]]]


MAX_WEIGHT = 1000
_CODES = {400: "invalid_field", 404: "not_found", 409: "conflict"}


class AdminError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def _body(request: IRequest) -> dict[str, Any]:
    data = read_json(request)
    if not isinstance(data, dict):
        raise AdminError(400, "the body must be a JSON object", "body")
    return data


class UpstreamAdmin:
    connectors = Klein()
    routes = Klein()

    def __init__(self, store: UpstreamStore, *, health: HealthSource = dict,
                 apply: Callable[[], Deferred | None] | None = None) -> None:
        self._store = store
        self._health = health
        self._apply = apply

    def sections(self) -> dict[str, Klein]:
        """The section apps to hand to AdminApi."""
        return {"connectors": self.connectors, "routes": self.routes}

    async def _run(self, request: IRequest, status: int, work) -> bytes:
        try:
            result = await work()
        except AdminError as e:
            extra = {"field": e.field} if e.field else {}
            return error(request, e.status, _CODES[e.status], str(e), **extra)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except SettingsError as e:
            return error(request, 400, "invalid_field", str(e), field=e.key)
        except RouteError as e:
            return error(request, 400, "invalid_field", str(e))
        except ConnectorExists as e:
            return error(request, 409, "exists", f"connector {e} already exists",
                         field="name")
        except UnknownConnector as e:
            return error(request, 404, "not_found", f"no connector {e}")
        return json_response(request, status, result)

    async def _applied(self) -> None:
        if self._apply is not None:
            result = self._apply()
            if result is not None:
                await result

    def _view(self, settings: ConnectorSettings) -> dict[str, Any]:
        view = settings.to_public_dict()
        view["health"] = self._health().get(settings.name)
        return view

    # --- connectors --------------------------------------------------------------------------
    @connectors.route("/", methods=["GET"], strict_slashes=False)
    def list_connectors(self, request: IRequest) -> Deferred:
        async def work():
            return [self._view(s) for s in await self._store.list_connectors()]
        return ensureDeferred(self._run(request, 200, work))

    @connectors.route("/<string:name>", methods=["GET"])
    def show_connector(self, request: IRequest, name: str) -> Deferred:
        async def work():
            settings = await self._store.get_connector(name)
            if settings is None:
                raise AdminError(404, f"no connector {name}")
            return self._view(settings)
        return ensureDeferred(self._run(request, 200, work))

    @connectors.route("/", methods=["POST"], strict_slashes=False)
    def add_connector(self, request: IRequest) -> Deferred:
        async def work():
            settings = ConnectorSettings.from_dict(_body(request))
            await self._store.add_connector(settings)
            await self._applied()
            return self._view(settings)
        return ensureDeferred(self._run(request, 201, work))

    @connectors.route("/<string:name>", methods=["PATCH", "PUT"])
    def update_connector(self, request: IRequest, name: str) -> Deferred:
        async def work():
            current = await self._store.get_connector(name)
            if current is None:
                raise AdminError(404, f"no connector {name}")
            settings = current.updated(_body(request))
            await self._store.update_connector(settings)
            await self._applied()
            return self._view(settings)
        return ensureDeferred(self._run(request, 200, work))

    @connectors.route("/<string:name>", methods=["DELETE"])
    def remove_connector(self, request: IRequest, name: str) -> Deferred:
        async def work():
            used = [r.id for r in await self._store.list_routes()
                    if any(t.connector == name for t in r.targets)]
            if used:
                raise AdminError(409, f"connector {name} is used by routes {used}")
            await self._store.remove_connector(name)
            await self._applied()
            return {"removed": name}
        return ensureDeferred(self._run(request, 200, work))

    # --- routes ------------------------------------------------------------------------------
    @routes.route("/", methods=["GET"], strict_slashes=False)
    def list_routes(self, request: IRequest) -> Deferred:
        async def work():
            return [route_view(r) for r in await self._store.list_routes()]
        return ensureDeferred(self._run(request, 200, work))

    @routes.route("/", methods=["POST"], strict_slashes=False)
    def add_route(self, request: IRequest) -> Deferred:
        async def work():
            data = _body(request)
            targets = data.get("connectors")
            if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
                raise AdminError(400, "connectors: a list of {name, weight}", "connectors")
            known = {s.name for s in await self._store.list_connectors()} | {"simulator"}
            made = []
            for t in targets:
                name, weight = t.get("name"), t.get("weight", 1)
                if not isinstance(name, str) or name not in known:
                    raise AdminError(400, f"no connector {name!r}", "connectors")
                if not isinstance(weight, int) or isinstance(weight, bool) \
                        or not 1 <= weight <= MAX_WEIGHT:
                    raise AdminError(400, f"weight: an integer from 1 to {MAX_WEIGHT}",
                                     "connectors")
                made.append(RouteTarget(connector=name, weight=weight))
            fields = {k: data.get(k, "") for k in ("prefix", "account", "source_prefix")}
            if not all(isinstance(v, str) for v in fields.values()):
                raise AdminError(400, "prefix, account and source_prefix are strings")
            route_id = await self._store.add_route(Route(targets=tuple(made), **fields))
            await self._applied()
            return {"id": route_id}
        return ensureDeferred(self._run(request, 201, work))

    @routes.route("/<string:route_id>", methods=["DELETE"])
    def remove_route(self, request: IRequest, route_id: str) -> Deferred:
        async def work():
            number = parse_id(route_id, "route id")
            if not await self._store.remove_route(number):
                raise AdminError(404, f"no route {number}")
            await self._applied()
            return {"removed": number}
        return ensureDeferred(self._run(request, 200, work))

    json_errors(connectors, "/admin/v1/connectors")
    json_errors(routes, "/admin/v1/routes")


def route_view(route: Route) -> dict[str, Any]:
    return {"id": route.id, "prefix": route.prefix, "account": route.account,
            "source_prefix": route.source_prefix,
            "connectors": [{"name": t.connector, "weight": t.weight} for t in route.targets]}
