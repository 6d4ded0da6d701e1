"""The live connectors and the route table, reconciled with the store at run time.

`connector_for(message)` is what the router asks on every dispatch; with no routes it
returns the default connector (the simulator) at once, so the simulator-only hot path pays
nothing. `apply(settings, routes)` starts, stops and restarts upstream connectors to match
what the store holds (the CLI and the admin API write there; the service's settings
watcher calls apply), and hands the messages of a removed connector back to the router.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.logger import Logger

from gateway.connectors.smpp import SmppConnector
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import Connector
from gateway.core.routing import Route, RouteTable
from gateway.model import Message

log = Logger()


class _Parking:
    """Stands for a routed connector that does not exist (or is disabled): messages wait
    here, in memory (they are durable in the store), until apply() brings it."""

    def __init__(self, name: str, parked: list[Message]) -> None:
        self.name = name
        self._parked = parked

    def send(self, message: Message) -> None:
        self._parked.append(message)


class ConnectorRegistry:
    def __init__(self, default: Connector,
                 make: Callable[[ConnectorSettings], SmppConnector]) -> None:
        self.default = default
        self._make = make
        self.connectors: dict[str, SmppConnector] = {}
        self.table = RouteTable((), default.name)
        self._parked: list[Message] = []
        self.redispatch: Callable[[Message], None] = lambda message: None

    # --- routing ---------------------------------------------------------------------------
    def connector_for(self, message: Message) -> Connector:
        table = self.table
        if not table:
            return self.default
        name = table.choose(message.account, message.source.addr, message.destination.addr,
                            self.is_up)
        if name == self.default.name:
            return self.default
        connector = self.connectors.get(name)
        return connector if connector is not None else _Parking(name, self._parked)

    def is_up(self, name: str) -> bool:
        if name == self.default.name:
            return True
        connector = self.connectors.get(name)
        return connector is not None and connector.is_up

    # --- reconciling -----------------------------------------------------------------------
    async def apply(self, settings: Sequence[ConnectorSettings], routes: Sequence[Route]) -> None:
        wanted = {s.name: s for s in settings if s.enabled}
        orphans: list[Message] = []
        for name, connector in list(self.connectors.items()):
            if wanted.get(name) != connector.settings:
                del self.connectors[name]
                log.info("upstream connector {name} stopped", name=name,
                         event="connector.stopped")
                orphans += await connector.stop()
        for name, s in wanted.items():
            if name not in self.connectors:
                connector = self._make(s)
                self.connectors[name] = connector
                connector.start()
                log.info("upstream connector {name} started ({host}:{port}, {bind} x{binds})",
                         name=name, host=s.host, port=s.port, bind=s.bind, binds=s.binds,
                         event="connector.started")
        self.table = RouteTable(routes, self.default.name)
        orphans += self._parked
        self._parked.clear()
        for message in orphans:
            self.redispatch(message)

    async def stop(self) -> None:
        for connector in list(self.connectors.values()):
            await connector.stop()
        self.connectors.clear()

    def health(self) -> dict[str, dict[str, Any]]:
        return {name: c.health() for name, c in self.connectors.items()}
