"""The reactor's own timed calls on a time that moves only by `advance`: the clock of the
in-process cost benches (http_cost.py, webhook_cost.py).

Not task.Clock: its callLater sorts every pending call, where the reactor pushes onto a
heap and drops a cancelled call lazily, so a bench on task.Clock overcounts every timer a
request sets and cancels (a webhook counted 601,833 instructions on task.Clock, 390,233
on this). Not a test double: nothing here is faked but the passing of time.
"""
from __future__ import annotations

from twisted.internet.base import ReactorBase

__all__ = ["ReactorClock"]


class ReactorClock(ReactorBase):
    """ReactorBase's callLater, cancel and runUntilCurrent on a time set by `advance`;
    never run, so no waker and no thread pool."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__()

    def _initThreads(self) -> None:
        pass  # no thread pool: nothing here runs in a thread

    def installWaker(self) -> None:
        pass  # nothing wakes a reactor that is never run

    def seconds(self) -> float:
        return self._now

    def advance(self, amount: float) -> None:
        """Move the time on by `amount` seconds and run every call that is due."""
        self._now += amount
        self.runUntilCurrent()
