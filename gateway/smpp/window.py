"""The window: requests we sent that still await their response, by sequence number."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.smpp.frozen_init import fast_init

# Theory of operation
# -------------------
# Two different limits guard what we send (cloudhopper's vocabulary):
#
# * "window full" — `size` requests are already outstanding. That is an
#   immediate answer to the caller (WindowFull from Session.send_request),
#   never a silent queue: the caller decides whether to wait, reroute or fail.
# * "no response" — a request was not answered by its deadline. `expire(now)`
#   hands those back; the session then gives up on the connection.
#
# A session computes every deadline as now + one constant response timeout,
# and `now` does not go backwards, so deadlines arrive in non-decreasing
# order. A plain dict keeps insertion order, hence deadline order: the
# earliest deadline is the first entry and `expire` stops at the first entry
# still in the future. Pops by sequence number are O(1). Should a caller's
# clock step backwards, `add` clamps the deadline to the latest one seen so
# the order (and so `expire`) stays right; that request merely waits a little
# longer.


class WindowFull(Exception):
    """The window already holds `size` outstanding requests: try later."""


@fast_init  # one per request sent: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class WindowEntry:
    """One outstanding request and what the caller wanted remembered with it."""

    sequence_number: int
    request: Any
    context: Any
    deadline: float


class Window:
    """Outstanding requests by sequence number, expiring in deadline order."""

    __slots__ = ("_entries", "_last_deadline", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, not {size}")
        self.size = size
        self._entries: dict[int, WindowEntry] = {}
        self._last_deadline = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sequence_number: object) -> bool:
        return sequence_number in self._entries

    @property
    def is_full(self) -> bool:
        return len(self._entries) >= self.size

    def add(
        self,
        sequence_number: int,
        request: Any,
        context: Any,
        deadline: float,
        *,
        force: bool = False,
    ) -> WindowEntry:
        """Record a request; WindowFull if full (unless `force`, for unbind), ValueError if
        `sequence_number` is already outstanding."""
        entries = self._entries
        if len(entries) >= self.size and not force:
            raise WindowFull(f"{len(entries)} requests outstanding (window {self.size})")
        if sequence_number in entries:
            raise ValueError(f"sequence_number {sequence_number} is already outstanding")
        if deadline < self._last_deadline:
            deadline = self._last_deadline
        else:
            self._last_deadline = deadline
        entry = entries[sequence_number] = WindowEntry(
            sequence_number=sequence_number, request=request, context=context, deadline=deadline)
        return entry

    def get(self, sequence_number: int) -> WindowEntry | None:
        """The outstanding entry for `sequence_number`, left in the window."""
        return self._entries.get(sequence_number)

    def pop(self, sequence_number: int) -> WindowEntry | None:
        """Remove and return the entry answered by `sequence_number`, or None."""
        return self._entries.pop(sequence_number, None)

    def next_deadline(self) -> float | None:
        """The earliest deadline of an outstanding request, None when nothing is outstanding."""
        for entry in self._entries.values():
            return entry.deadline
        return None

    def expire(self, now: float) -> list[WindowEntry]:
        """Remove and return, oldest first, every entry whose deadline is at or before `now`."""
        entries = self._entries
        expired = []
        for entry in entries.values():
            if entry.deadline > now:
                break
            expired.append(entry)
        for entry in expired:
            del entries[entry.sequence_number]
        return expired

    def drain(self) -> list[WindowEntry]:
        """Remove and return every entry, oldest first (the connection is gone)."""
        drained = list(self._entries.values())
        self._entries.clear()
        return drained
