"""Connector health snapshots written to the store every few seconds, so `smsgw connector
list` (another process) can show them with their age: a stale age means no gateway runs."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.core.ports import UpstreamStore

__all__ = ["HealthWriter"]

log = Logger()


class HealthWriter:
    def __init__(self, store: UpstreamStore, health: Callable[[], dict[str, dict[str, Any]]],
                 clock: IReactorTime, interval: float) -> None:
        self._store = store
        self._health = health
        self._clock = clock
        self._interval = interval
        self._loop = LoopingCall(self.write)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self._interval, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def write(self) -> Deferred[None] | None:
        """Snapshot each upstream connector's health; nothing while there are none."""
        health = self._health()
        if not health:
            return None
        d = self._store.write_health(health, self._clock.seconds())
        d.addErrback(lambda f: log.failure("writing connector health failed", f,
                                           event="store.error"))
        return d
