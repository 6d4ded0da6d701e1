"""Readiness checks on task.Clock: a store that fails or does not answer in time, listeners
missing or stopped, routes whose connectors are all down."""
from __future__ import annotations

import pytest_twisted
from twisted.internet.defer import Deferred, ensureDeferred, fail, succeed
from twisted.internet.task import Clock

from gateway.core.routing import Route, RouteTable, RouteTarget
from gateway.ops.health import Check, Readiness, answer, listener_check, route_check


class _Store:
    def __init__(self, outcome) -> None:
        self.outcome = outcome

    def ping(self) -> Deferred:
        return self.outcome()


class _Port:
    def __init__(self, number: int, connected: bool = True) -> None:
        self.connected = connected
        self._number = number

    def getHost(self):
        return type("Host", (), {"port": self._number})()


_OK = Check(name="x", ok=True, detail="")


def _readiness(store: _Store, clock: Clock) -> Readiness:
    return Readiness(store=store, clock=clock, listeners=lambda: _OK, routes=lambda: _OK)


@pytest_twisted.ensureDeferred
async def test_a_store_that_commits_is_ready():
    checks = await _readiness(_Store(lambda: succeed(None)), Clock()).checks()
    assert checks[0].name == "store" and checks[0].ok
    assert answer(checks)[0] == 200


@pytest_twisted.ensureDeferred
async def test_a_store_that_fails_is_not_ready_and_says_why():
    checks = await _readiness(_Store(lambda: fail(OSError("disk I/O error"))), Clock()).checks()
    status, body = answer(checks)
    assert status == 503
    assert body["failed"] == ["store"]
    assert "disk I/O error" in body["checks"]["store"]["detail"]


def test_a_store_that_does_not_answer_in_time_is_not_ready():
    clock = Clock()
    d = ensureDeferred(_readiness(_Store(Deferred), clock).checks())
    assert not d.called
    clock.advance(2.0)
    [store, *_] = d.result
    assert not store.ok and store.detail == "no commit within 2 s"


def test_listeners_are_ready_only_when_all_expected_ones_listen():
    ports: list = [("smpp", _Port(2775))]
    check = listener_check(lambda: ports, 2)
    assert not check().ok
    ports.append(("http", _Port(8080)))
    assert check() == Check(name="listeners", ok=True, detail="smpp 2775, http 8080")
    ports[1] = ("http", _Port(8080, connected=False))
    assert check().detail == "not listening: http"


def test_routes_are_ready_with_no_route_or_one_connector_up():
    table = [RouteTable((), "simulator")]
    up: set[str] = set()
    check = route_check(lambda: table[0], up.__contains__)
    assert check().ok
    table[0] = RouteTable([Route(prefix="49", targets=(RouteTarget(connector="op1"),
                                                       RouteTarget(connector="op2")))],
                          "simulator")
    assert check() == Check(name="connectors", ok=False,
                            detail="no route has a connector up: op1, op2")
    up.add("op2")
    assert check() == Check(name="connectors", ok=True, detail="up: op2")
