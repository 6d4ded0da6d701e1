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

    def try_take(self, now: float) -> bool:
        if self.rate <= 0:
            return True
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
