"""`smsgw connector ...` and `smsgw route ...`: upstream connectors and the route table.

They write the store (and bump its settings version); a running gateway applies the change
within its settings poll (2 s) without a restart. `connector list` shows each connector's
health as the running gateway last wrote it to the store, with its age.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any

from gateway.core.connector_settings import BIND_MODES, ConnectorSettings, SettingsError
from gateway.core.ports import ConnectorExists, UnknownConnector
from gateway.core.routing import Route, RouteError, RouteTarget
from gateway.storage.batched import BatchedStore as Store

# option name -> (ConnectorSettings field, argparse keyword arguments)
_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "--host": ("host", {}),
    "--port": ("port", {"type": int}),
    "--system-id": ("system_id", {}),
    "--password": ("password", {}),
    "--system-type": ("system_type", {}),
    "--bind": ("bind", {"choices": BIND_MODES}),
    "--binds": ("binds", {"type": int, "help": "sessions (of each kind for a pair)"}),
    "--window": ("window", {"type": int, "help": "outstanding submit_sm per session"}),
    "--throughput": ("throughput", {"type": float, "help": "submit_sm/s cap, 0 = none"}),
    "--tls": ("tls", {"action": argparse.BooleanOptionalAction}),
    "--tls-verify": ("tls_verify", {"action": argparse.BooleanOptionalAction,
                                    "help": "verify certificate and host name (default on)"}),
    "--ca-file": ("ca_file", {"help": "PEM of CAs to trust (default: system store)"}),
    "--server-name": ("server_name", {"help": "name to verify (default: --host)"}),
    "--enquire-link": ("enquire_link", {"type": float}),
    "--response-timeout": ("response_timeout", {"type": float}),
    "--reconnect-max": ("reconnect_max", {"type": float}),
    "--throttle-backoff": ("throttle_backoff", {"type": float}),
    "--refund-rejected": ("refund_rejected", {"action": argparse.BooleanOptionalAction}),
    "--receipt-hold": ("receipt_hold", {"type": float}),
    "--enabled": ("enabled", {"action": argparse.BooleanOptionalAction}),
}


class UpstreamCliError(Exception):
    pass


def add_commands(top: Any) -> None:
    connector = top.add_parser("connector", help="upstream SMPP connectors").add_subparsers(
        dest="command", required=True)
    for verb, handler, text in (("add", _connector_add, "add a connector"),
                                ("set", _connector_set, "change a connector")):
        p = connector.add_parser(verb, help=text)
        p.add_argument("name")
        for option, (_, kwargs) in _OPTIONS.items():
            p.add_argument(option, default=None, **kwargs)
        p.set_defaults(handler=handler)
    p = connector.add_parser("list", help="connectors with their health")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_connector_list)
    p = connector.add_parser("show", help="one connector")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_connector_show)
    p = connector.add_parser("remove", help="remove a connector")
    p.add_argument("name")
    p.set_defaults(handler=_connector_remove)

    route = top.add_parser("route", help="the route table").add_subparsers(
        dest="command", required=True)
    p = route.add_parser("add", help="add a route")
    p.add_argument("prefix", help="destination prefix ('' = every destination)")
    p.add_argument("--connector", action="append", required=True, metavar="NAME[:WEIGHT]",
                   help="target connector (repeatable: failover and weighted round robin)")
    p.add_argument("--account", default="", help="only this account's messages")
    p.add_argument("--source", default="", help="only sources starting with this")
    p.set_defaults(handler=_route_add)
    p = route.add_parser("list", help="list routes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_route_list)
    p = route.add_parser("remove", help="remove a route")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_route_remove)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {field: getattr(args, field) for field, _ in _OPTIONS.values()
            if getattr(args, field) is not None}


async def _connector_add(store: Store, config: Any, args: argparse.Namespace) -> int:
    try:
        settings = ConnectorSettings.from_dict({"name": args.name, **_given(args)})
        await store.add_connector(settings)
    except SettingsError as e:
        raise UpstreamCliError(str(e)) from None
    except ConnectorExists:
        raise UpstreamCliError(f"connector {args.name!r} already exists") from None
    print(f"connector {args.name} added")
    _print(settings.to_public_dict())
    return 0


async def _connector_set(store: Store, config: Any, args: argparse.Namespace) -> int:
    current = await _existing(store, args.name)
    changes = _given(args)
    if not changes:
        raise UpstreamCliError("nothing to change: give at least one option")
    try:
        settings = current.updated(changes)
        await store.update_connector(settings)
    except SettingsError as e:
        raise UpstreamCliError(str(e)) from None
    print(f"connector {args.name} updated")
    _print(settings.to_public_dict())
    return 0


async def _connector_remove(store: Store, config: Any, args: argparse.Namespace) -> int:
    routes = await store.list_routes()
    used = [r.id for r in routes if any(t.connector == args.name for t in r.targets)]
    if used:
        raise UpstreamCliError(f"connector {args.name!r} is used by route(s) "
                               f"{', '.join(map(str, used))}; remove those first")
    try:
        await store.remove_connector(args.name)
    except UnknownConnector:
        raise UpstreamCliError(f"no connector {args.name!r}") from None
    print(f"connector {args.name} removed")
    return 0


async def _existing(store: Store, name: str) -> ConnectorSettings:
    settings = await store.get_connector(name)
    if settings is None:
        raise UpstreamCliError(f"no connector {name!r}")
    return settings


def connector_view(settings: ConnectorSettings, health: tuple[dict, float] | None,
                   now: float) -> dict[str, Any]:
    """A connector as listed: settings (no password) and its last health snapshot."""
    data = settings.to_public_dict()
    if health is None:
        data["health"] = None
    else:
        snapshot, at = health
        data["health"] = {**snapshot, "age_seconds": round(max(now - at, 0.0), 1)}
    return data


async def _connector_list(store: Store, config: Any, args: argparse.Namespace) -> int:
    health = await store.read_health()
    now = time.time()
    views = [connector_view(s, health.get(s.name), now) for s in await store.list_connectors()]
    if args.json:
        print(json.dumps(views, indent=2))
        return 0
    print(f"{'name':<16}{'address':<24}{'bind':<12}{'state':<10}{'window':>9}{'queued':>8}"
          f"{'sub/s':>8}  age")
    for v in views:
        h = v["health"]
        if h is None:
            state, window, queued, rate, age = "-", "-", "-", "-", "-"
        else:
            state = "up" if h["up"] else "down"
            window = f"{h['window_used']}/{h['window_size']}"
            queued, rate, age = h["queued"], h["submits_per_second"], f"{h['age_seconds']}s"
        if not v["enabled"]:
            state = "disabled"
        address = f"{v['host']}:{v['port']}{' tls' if v['tls'] else ''}"
        print(f"{v['name']:<16}{address:<24}{v['bind']:<12}{state:<10}{window:>9}"
              f"{queued:>8}{rate:>8}  {age}")
    return 0


async def _connector_show(store: Store, config: Any, args: argparse.Namespace) -> int:
    health = await store.read_health()
    view = connector_view(await _existing(store, args.name), health.get(args.name), time.time())
    if args.json:
        print(json.dumps(view, indent=2))
    else:
        _print(view)
    return 0


def parse_target(text: str) -> RouteTarget:
    name, _, weight = text.partition(":")
    try:
        return RouteTarget(connector=name, weight=int(weight) if weight else 1)
    except ValueError as e:
        raise UpstreamCliError(f"--connector {text!r}: {e}") from None


async def _route_add(store: Store, config: Any, args: argparse.Namespace) -> int:
    targets = tuple(parse_target(t) for t in args.connector)
    known = {s.name for s in await store.list_connectors()} | {"simulator"}
    for target in targets:
        if target.connector not in known:
            raise UpstreamCliError(f"no connector {target.connector!r}")
    try:
        route = Route(prefix=args.prefix, targets=targets, account=args.account,
                      source_prefix=args.source)
    except RouteError as e:
        raise UpstreamCliError(str(e)) from None
    route_id = await store.add_route(route)
    print(f"route {route_id} added")
    return 0


def route_view(route: Route) -> dict[str, Any]:
    return {"id": route.id, "prefix": route.prefix, "account": route.account,
            "source_prefix": route.source_prefix,
            "connectors": [{"name": t.connector, "weight": t.weight} for t in route.targets]}


async def _route_list(store: Store, config: Any, args: argparse.Namespace) -> int:
    routes = await store.list_routes()
    if args.json:
        print(json.dumps([route_view(r) for r in routes], indent=2))
        return 0
    print(f"{'id':>4}  {'prefix':<14}{'account':<16}{'source':<12}connectors")
    for r in routes:
        targets = ", ".join(f"{t.connector}:{t.weight}" for t in r.targets)
        print(f"{r.id:>4}  {r.prefix or '*':<14}{r.account or '*':<16}"
              f"{r.source_prefix or '*':<12}{targets}")
    return 0


async def _route_remove(store: Store, config: Any, args: argparse.Namespace) -> int:
    if not await store.remove_route(args.id):
        raise UpstreamCliError(f"no route {args.id}")
    print(f"route {args.id} removed")
    return 0


def _print(data: dict[str, Any]) -> None:
    for key, value in data.items():
        print(f"  {key:<17} {value}")
