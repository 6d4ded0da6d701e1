"""The store's queue depths (messages in flight, receipts waiting for a bind, webhooks
pending and dead), read every few seconds and kept for /metrics and the console: a scrape
never waits for the store, and the store is asked once per interval however many look."""
from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.core.ports import OpsStore

__all__ = ["QueueDepths"]

log = Logger()

DEPTHS_INTERVAL = 10.0


class QueueDepths:
    def __init__(self, store: OpsStore, clock: IReactorTime,
                 interval: float = DEPTHS_INTERVAL) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval
        self._latest: dict[str, int] = {}
        self.read_at: float | None = None  # when `latest` was read; None: not yet
        self._loop = LoopingCall(self.refresh)
        self._loop.clock = clock
        self._failing = False

    def start(self) -> None:
        self._loop.start(self._interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def latest(self) -> dict[str, int]:
        return dict(self._latest)

    def refresh(self) -> Deferred[None]:
        d = self._store.queue_depths()
        d.addCallbacks(self._read, self._failed)
        return d

    def _read(self, depths: dict[str, int]) -> None:
        self._latest = depths
        self.read_at = self._clock.seconds()
        if self._failing:
            self._failing = False
            log.info("store queue depths readable again", event="store.recovered")

    def _failed(self, failure) -> None:
        if not self._failing:  # once per outage, not every interval
            self._failing = True
            log.failure("reading the store's queue depths failed", failure,
                        event="store.error")
