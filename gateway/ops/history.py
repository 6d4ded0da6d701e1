"""Submit and receipt rates over the last minutes, sampled from the metrics' counters, for
the console's live chart."""
from __future__ import annotations

from collections import deque

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from gateway.ops.metrics import GatewayMetrics

__all__ = ["RateHistory"]

SAMPLE_INTERVAL = 2.0
SAMPLES = 300  # 10 minutes


class RateHistory:
    """Every `interval` seconds: (time, submits/s, receipts/s) since the sample before."""

    def __init__(self, metrics: GatewayMetrics, clock: IReactorTime,
                 interval: float = SAMPLE_INTERVAL, samples: int = SAMPLES) -> None:
        self._metrics = metrics
        self._clock = clock
        self.interval = interval
        self._points: deque[tuple[float, float, float]] = deque(maxlen=samples)
        self._last: tuple[float, int, int] | None = None
        self._loop = LoopingCall(self.sample)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def sample(self) -> None:
        now = self._clock.seconds()
        submits, receipts = self._metrics.submits_ok, self._metrics.receipts_sent
        if self._last is not None:
            then, submits_then, receipts_then = self._last
            span = now - then
            if span > 0:
                self._points.append((now, (submits - submits_then) / span,
                                     (receipts - receipts_then) / span))
        self._last = (now, submits, receipts)

    def points(self) -> list[tuple[float, float, float]]:
        return list(self._points)
