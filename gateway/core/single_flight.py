"""Identical calls in flight at the same moment share one: a bind storm's thousand binds of
one account make one store read and one password check, not a thousand."""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

__all__ = ["SingleFlight"]


class SingleFlight:
    """`call(key, fn, *args)` runs fn(*args) (returning a Deferred) unless a call with the
    same key is still running, and hands every caller its own Deferred of the result:
    one caller cancelling its Deferred leaves the others' alone."""

    def __init__(self) -> None:
        self._running: dict[Hashable, list[Deferred]] = {}

    def call(self, key: Hashable, fn: Callable[..., Deferred], *args: Any) -> Deferred:
        mine: Deferred = Deferred()
        waiting = self._running.get(key)
        if waiting is not None:
            waiting.append(mine)
            return mine
        self._running[key] = [mine]
        try:
            running = fn(*args)
        except Exception:
            del self._running[key]  # nothing runs: no one may wait for it
            raise
        running.addBoth(self._done, key)  # may fire at once
        return mine

    def _done(self, result: Any, key: Hashable) -> None:
        for d in self._running.pop(key):
            if isinstance(result, Failure):
                d.errback(result)
            else:
                d.callback(result)

    def __len__(self) -> int:
        return len(self._running)
