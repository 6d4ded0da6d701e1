"""Token bucket for per-session submit throughput. Pure: time is an argument."""
from __future__ import annotations


class TokenBucket:
    """Allows `rate` events per second with bursts of up to `max(rate, 1)`; rate 0 = unlimited."""

    __slots__ = ("_tokens", "_updated", "capacity", "rate")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self._tokens = self.capacity
        self._updated = now

    def try_take(self, now: float, count: int = 1) -> bool:
        """Take `count` tokens if at least one is there: the bucket may go into debt for a
        batch (count > 1), which the refill pays back before the next take succeeds."""
        if self.rate <= 0:
            return True
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= count
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until a token is there (0 when one is)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now
