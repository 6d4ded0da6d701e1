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
earliest due time, instead of one DelayedCall per message.

With a `loader` (the store's BacklogStore.scheduled_messages) memory holds only a
window of the schedule, never all of it: a restart over a million scheduled
messages pages in the earliest `page` of them, not the million. The invariant:
memory holds exactly the SCHEDULED messages whose key (due, numeric id) is at or
below `horizon`, the key of the last message loaded; the store holds the rest, and
the next page starts after `horizon`. So `add` keeps a message in memory only when
its key is inside the window (beyond it, the store's copy will come with a later
page), and when memory runs low the next page is loaded. Adds and removes made
while a page is being read are replayed once it has arrived, against the new
horizon, so a page read before a replace_sm or cancel_sm never resurrects the old
version. Without a loader memory holds everything (`complete`), as before.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import count
from typing import Generic, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from gateway.model import Message

__all__ = ["DUE_SLACK", "DEFAULT_PAGE", "Schedule", "Scheduler"]

T = TypeVar("T")
log = Logger()

# Entries due within this much of "now" count as due: a timer armed for t may fire at a
# clock reading a rounding error below t.
DUE_SLACK = 0.001
_COMPACT_MIN = 64
DEFAULT_PAGE = 10_000  # scheduled messages paged in at a time (memory holds up to ~1.5x)
RELOAD_DELAY = 5.0  # s before retrying a page the store failed to read

Loader = Callable[[tuple[float, str] | None, int], Deferred]
_Key = tuple[float, int, str]


def _key(due: float, message_id: str) -> _Key:
    """Schedule order: due time, then numeric id (ids compare by length, then as text)."""
    return (due, len(message_id), message_id)


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
    """Calls `on_due(message, due)` when a scheduled message's time comes; one timer.
    With a `loader`, memory holds a window of the schedule (see the module docstring)."""

    def __init__(self, clock: IReactorTime, on_due: Callable[[Message, float], None],
                 loader: Loader | None = None, page: int = DEFAULT_PAGE) -> None:
        self._clock = clock
        self._on_due = on_due
        self._schedule: Schedule[Message] = Schedule()
        self._timer: IDelayedCall | None = None
        self._loader = loader
        self._page = page
        self._complete = loader is None  # memory holds every scheduled message
        self._horizon: _Key | None = None  # key of the last message loaded
        self._loading = False
        # what add/remove did while a page was being read: id -> (due, message), None
        self._during_load: dict[str, tuple[float, Message] | None] = {}
        self._stopped = False

    def __len__(self) -> int:
        return len(self._schedule)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._schedule

    @property
    def complete(self) -> bool:
        """True when memory holds every scheduled message (nothing left to page in)."""
        return self._complete

    def start(self) -> None:
        """Page in the earliest scheduled messages from the store (with a loader)."""
        self._stopped = False
        self._refill()

    def add(self, message: Message, due: float | None = None, *, pinned: bool = False) -> None:
        """Wait for `due` (default: the message's scheduled_at, or now); replaces an entry.
        `pinned` keeps it in memory whatever the window (a retry: the store's copy carries
        the old time, behind the window)."""
        if due is None:
            due = message.scheduled_at
            if due is None:
                due = self._clock.seconds()
        if self._horizon is None and not pinned:
            self._refill()  # the first add before start() pages the store in
        if self._loading and not pinned:
            self._during_load[message.id] = (due, message)
        if pinned or self._in_window(due, message.id):
            self._schedule.add(message.id, due, message)
            self._arm()
        else:  # beyond the window: the store's copy comes with a later page
            self._schedule.remove(message.id)
            self._refill()

    def remove(self, message_id: str) -> bool:
        if self._loading:
            self._during_load[message_id] = None
        removed = self._schedule.remove(message_id)
        self._refill()
        return removed

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._schedule.clear()

    def _in_window(self, due: float, message_id: str) -> bool:
        if self._complete:
            return True
        return self._horizon is not None and _key(due, message_id) <= self._horizon

    # --- paging ------------------------------------------------------------------------------
    def _refill(self) -> None:
        if (self._complete or self._loading or self._stopped
                or len(self._schedule) > self._page // 2):
            return
        self._loading = True
        horizon = self._horizon
        after = None if horizon is None else (horizon[0], horizon[2])
        d = self._loader(after, self._page)
        d.addCallbacks(self._loaded, self._load_failed)

    def _loaded(self, page: list[Message]) -> None:
        self._loading = False
        touched, self._during_load = self._during_load, {}
        if self._stopped:
            return
        for message in page:
            if message.id not in touched:
                self._schedule.add(message.id, message.scheduled_at, message)
        if page:
            last = page[-1]
            self._horizon = _key(last.scheduled_at, last.id)
        if len(page) < self._page:
            self._complete = True
        for message_id, entry in touched.items():  # replayed against the new window
            if entry is None or not self._in_window(entry[0], message_id):
                self._schedule.remove(message_id)
            else:
                self._schedule.add(message_id, entry[0], entry[1])
        self._arm()
        self._refill()

    def _load_failed(self, failure) -> None:
        self._loading = False
        touched, self._during_load = self._during_load, {}
        for message_id, entry in touched.items():
            if entry is None or not self._in_window(entry[0], message_id):
                self._schedule.remove(message_id)
        if self._stopped:
            return
        log.failure("paging in scheduled messages failed; retrying in {delay}s", failure,
                    delay=RELOAD_DELAY)
        self._clock.callLater(RELOAD_DELAY, self._refill)

    # --- the timer ---------------------------------------------------------------------------
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
        self._refill()
