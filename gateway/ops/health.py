"""Liveness and readiness: what `/health` and `/ready` answer.

Ready means the gateway can take traffic and deliver it: the store takes a write
transaction within `timeout` (a submit is answered only after a commit), every listener is
listening, and at least one route has a live connector (with no routes the simulator
carries everything, and it is always live). Each check names itself in the answer, so a
503 says which one failed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.interfaces import IReactorTime

from gateway.core.ports import OpsStore
from gateway.core.routing import RouteTable

__all__ = ["Check", "Readiness", "answer", "listener_check", "route_check"]

STORE_TIMEOUT = 2.0


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str


class Readiness:
    """Runs the readiness checks; the listeners and routes come as callables so the
    service can hand over what it has (and what it has not started yet)."""

    def __init__(self, *, store: OpsStore, clock: IReactorTime,
                 listeners: Callable[[], Check], routes: Callable[[], Check],
                 timeout: float = STORE_TIMEOUT) -> None:
        self._store = store
        self._clock = clock
        self._listeners = listeners
        self._routes = routes
        self._timeout = timeout

    async def checks(self) -> list[Check]:
        return [await self._store_check(), self._listeners(), self._routes()]

    async def _store_check(self) -> Check:
        started = self._clock.seconds()
        try:
            d = self._store.ping()
            d.addTimeout(self._timeout, self._clock)
            await d
        except DeferredTimeout:
            return Check(name="store", ok=False,
                         detail=f"no commit within {self._timeout:g} s")
        except Exception as e:  # noqa: BLE001 -- any failure means: not ready
            return Check(name="store", ok=False, detail=f"{type(e).__name__}: {e}"[:300])
        took = (self._clock.seconds() - started) * 1000
        return Check(name="store", ok=True, detail=f"committed in {took:.1f} ms")


def answer(checks: Sequence[Check]) -> tuple[int, dict[str, Any]]:
    """The HTTP status (200 or 503) and JSON body for `checks`."""
    failed = [c.name for c in checks if not c.ok]
    return (503 if failed else 200), {
        "ready": not failed, "failed": failed,
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}


def listener_check(ports: Callable[[], Sequence[tuple[str, Any]]],
                   expected: int) -> Callable[[], Check]:
    """`ports()`: (name, IListeningPort) of the listeners started so far; ready once the
    `expected` ones are all listening."""

    def check() -> Check:
        found = list(ports())
        down = [name for name, port in found if not getattr(port, "connected", True)]
        if len(found) < expected:
            return Check(name="listeners", ok=False,
                         detail=f"{len(found)} of {expected} listening (starting or stopping)")
        if down:
            return Check(name="listeners", ok=False, detail="not listening: " + ", ".join(down))
        names = ", ".join(f"{name} {port.getHost().port}" for name, port in found)
        return Check(name="listeners", ok=True, detail=names)

    return check


def route_check(table: Callable[[], RouteTable], is_up: Callable[[str], bool]) -> Callable[
        [], Check]:
    """Ready when no route is set (the simulator takes everything) or some route has a
    connector that is up."""

    def check() -> Check:
        routes = table()
        if not routes:
            return Check(name="connectors", ok=True, detail=f"no routes: {routes.default}")
        live = sorted({t.connector for r in routes.routes for t in r.targets
                       if is_up(t.connector)})
        if not live:
            names = sorted({t.connector for r in routes.routes for t in r.targets})
            return Check(name="connectors", ok=False,
                         detail="no route has a connector up: " + ", ".join(names))
        return Check(name="connectors", ok=True, detail="up: " + ", ".join(live))

    return check
