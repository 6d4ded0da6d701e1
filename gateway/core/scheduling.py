"""Scheduled messages waiting for their time: one heap, one timer.

Theory of operation
-------------------
A message submitted with a schedule_delivery_time stays SCHEDULED in the store
until its time; the router keeps it here meanwhile. `Schedule` is pure (times
are arguments): a heap ordered by due time, keyed by message id, with lazy
deletion: `remove` (cancel_sm) and a second `add` for the same id (replace_sm)
only mark the old heap entry stale; stale entries are dropped when they reach
the top, and the heap is rebuilt when they outnumber the live ones.

`Scheduler` drives a Schedule with ONE DelayedCall, always armed for the
earliest due time, instead of one DelayedCall per message: a restart that
recovers a million scheduled messages adds a million heap entries, not a
million reactor timers.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count
from typing import Generic, TypeVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from gateway.model import Message

__all__ = ["DUE_SLACK", "Schedule", "Scheduler"]

T = TypeVar("T")
log = Logger()

# Entries due within this much of "now" count as due: a timer armed for t may fire at a
# clock reading a rounding error below t.
DUE_SLACK = 0.001
_COMPACT_MIN = 64


class Schedule(Generic[T]):
    """Items keyed by id, each due at a time; `pop_due(now)` takes those whose time came."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, T]] = []
        self._live: dict[str, int] = {}  # id -> sequence of its current heap entry
        self._sequence = count()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: str) -> bool:
        return key in self._live

    def add(self, key: str, due: float, item: T) -> None:
        """Schedule `item` at `due`, replacing any earlier entry for `key`."""
        sequence = next(self._sequence)
        self._live[key] = sequence
        heapq.heappush(self._heap, (due, sequence, key, item))
        self._compact_if_stale()

    def remove(self, key: str) -> bool:
        """Forget `key`; False if it was not scheduled."""
        if self._live.pop(key, None) is None:
            return False
        self._compact_if_stale()
        return True

    def next_due(self) -> float | None:
        """The earliest due time, or None when nothing is scheduled."""
        self._drop_stale_top()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[float, T]]:
        """(due, item) of every entry due by `now`, earliest first; they leave the schedule."""
        out: list[tuple[float, T]] = []
        heap, live = self._heap, self._live
        while heap and heap[0][0] <= now:
            due, sequence, key, item = heapq.heappop(heap)
            if live.get(key) == sequence:
                del live[key]
                out.append((due, item))
        return out

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def _drop_stale_top(self) -> None:
        heap, live = self._heap, self._live
        while heap and live.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)

    def _compact_if_stale(self) -> None:
        if len(self._heap) > 2 * len(self._live) + _COMPACT_MIN:
            live = self._live
            self._heap = [e for e in self._heap if live.get(e[2]) == e[1]]
            heapq.heapify(self._heap)


class Scheduler:
    """Calls `on_due(message, due)` when a scheduled message's time comes; one timer."""

    def __init__(self, clock: IReactorTime, on_due: Callable[[Message, float], None]) -> None:
        self._clock = clock
        self._on_due = on_due
        self._schedule: Schedule[Message] = Schedule()
        self._timer: IDelayedCall | None = None

    def __len__(self) -> int:
        return len(self._schedule)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._schedule

    def add(self, message: Message, due: float | None = None) -> None:
        """Wait for `due` (default: the message's scheduled_at, or now); replaces an entry."""
        if due is None:
            due = message.scheduled_at
            if due is None:
                due = self._clock.seconds()
        self._schedule.add(message.id, due, message)
        self._arm()

    def remove(self, message_id: str) -> bool:
        return self._schedule.remove(message_id)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._schedule.clear()

    def _arm(self) -> None:
        due = self._schedule.next_due()
        if due is None:
            return
        delay = max(due - self._clock.seconds(), 0.0)
        timer = self._timer
        if timer is not None and timer.active():
            if timer.getTime() <= due:
                return
            timer.reset(delay)
            return
        self._timer = self._clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        for due, message in self._schedule.pop_due(self._clock.seconds() + DUE_SLACK):
            try:
                self._on_due(message, due)
            except Exception:  # one bad message must not strand the rest of the schedule
                log.failure("dispatching scheduled message {id} failed", id=message.id)
        self._arm()
