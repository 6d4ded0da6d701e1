"""The connector registry: reconciling live connectors with stored settings and routes,
routing per message, parking messages for a connector that does not exist yet, and
handing a removed connector's queue back to the router."""
from __future__ import annotations

import pytest_twisted
from twisted.internet.defer import succeed

from gateway.connectors.registry import ConnectorRegistry
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.routing import Route, RouteTarget
from gateway.model import Address, Message


class FakeConnector:
    def __init__(self, settings: ConnectorSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.is_up = True
        self.sent: list[Message] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self):
        self.stopped = True
        return succeed(list(self.sent))

    def send(self, message: Message) -> None:
        self.sent.append(message)

    def health(self) -> dict:
        return {"up": self.is_up}


class Default:
    name = "simulator"


def settings(name: str, **kw) -> ConnectorSettings:
    return ConnectorSettings(name=name, host="h", **kw)


def message(destination: str = "4917000") -> Message:
    return Message(id="1", account="acme", source=Address(addr="S"),
                   destination=Address(addr=destination), body=b"x")


def only(name: str, *targets: str, rid: int = 1) -> Route:
    return Route(prefix=name, targets=tuple(RouteTarget(connector=t) for t in targets), id=rid)


@pytest_twisted.ensureDeferred
async def test_no_routes_is_the_default_connector():
    default = Default()
    registry = ConnectorRegistry(default, FakeConnector)
    await registry.apply([settings("op1")], [])
    assert registry.connector_for(message()) is default
    assert registry.connectors["op1"].started


@pytest_twisted.ensureDeferred
async def test_routes_choose_live_connectors_with_failover():
    registry = ConnectorRegistry(Default(), FakeConnector)
    await registry.apply([settings("op1"), settings("op2")], [only("49", "op1", "op2")])
    assert registry.connector_for(message()).name == "op1"
    registry.connectors["op1"].is_up = False
    assert registry.connector_for(message()).name == "op2"
    assert registry.connector_for(message("33")).name == "simulator"


@pytest_twisted.ensureDeferred
async def test_disabled_or_missing_connector_parks_messages_until_it_exists():
    registry = ConnectorRegistry(Default(), FakeConnector)
    redispatched: list[Message] = []
    registry.redispatch = redispatched.append
    await registry.apply([settings("op1", enabled=False)], [only("", "op1")])
    parked = registry.connector_for(message())
    assert parked.name == "op1" and "op1" not in registry.connectors
    parked.send(message())
    await registry.apply([settings("op1")], [only("", "op1")])
    assert [m.id for m in redispatched] == ["1"]


@pytest_twisted.ensureDeferred
async def test_changed_or_removed_connectors_are_stopped_and_their_queue_rerouted():
    registry = ConnectorRegistry(Default(), FakeConnector)
    redispatched: list[Message] = []
    registry.redispatch = redispatched.append
    await registry.apply([settings("op1")], [only("", "op1")])
    first = registry.connectors["op1"]
    first.send(message())
    await registry.apply([settings("op1", window=5)], [only("", "op1")])
    assert first.stopped and registry.connectors["op1"] is not first
    assert registry.connectors["op1"].settings.window == 5
    assert [m.id for m in redispatched] == ["1"]
    await registry.apply([], [])
    assert registry.connectors == {} and registry.connector_for(message()).name == "simulator"
