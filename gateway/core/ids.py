"""Message ids: unique across restarts and nodes, increasing, at most 20 characters.

An id is a 63-bit number written in decimal (at most 19 digits):
milliseconds since 2024-01-01 (41 bits, good until 2093) | node id (10 bits) |
sequence within the millisecond (12 bits). The generator never goes below the
greatest id already stored, so a clock stepped back across a restart cannot
reissue an id.
"""
from __future__ import annotations

from collections.abc import Callable

EPOCH_MS = 1_704_067_200_000
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE_ID = (1 << NODE_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
_TIME_SHIFT = NODE_BITS + SEQUENCE_BITS


class MessageIdGenerator:
    def __init__(self, node_id: int, clock: Callable[[], float], floor: str | None = None) -> None:
        if not 0 <= node_id <= MAX_NODE_ID:
            raise ValueError(f"node_id must be 0..{MAX_NODE_ID}, got {node_id}")
        self._node = node_id << SEQUENCE_BITS
        self._clock = clock
        self._last_ms = -1
        self._sequence = 0
        if floor:
            self._last_ms = int(floor) >> _TIME_SHIFT
            self._sequence = _SEQUENCE_MASK  # the next id moves to the next millisecond

    def next_id(self) -> str:
        self._sequence = self._next_sequence(int(self._clock() * 1000) - EPOCH_MS)
        return str((self._last_ms << _TIME_SHIFT) | self._node | self._sequence)

    def next_ids(self, count: int) -> list[str]:
        """`count` ids, the ones `count` calls of next_id at this moment would give, with
        one clock reading (a batch's messages)."""
        now_ms = int(self._clock() * 1000) - EPOCH_MS
        ids: list[str] = []
        while count > 0:
            start = self._next_sequence(now_ms)
            take = min(count, _SEQUENCE_MASK + 1 - start)
            first = (self._last_ms << _TIME_SHIFT) | self._node | start
            ids += map(str, range(first, first + take))
            self._sequence = start + take - 1
            count -= take
        return ids

    def _next_sequence(self, now_ms: int) -> int:
        """The sequence number of the next id at `now_ms`, moving its millisecond on."""
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            return 0
        if self._sequence < _SEQUENCE_MASK:
            return self._sequence + 1
        # 4,096 ids in one millisecond (or the clock went back): borrow the next one
        self._last_ms += 1
        return 0


def id_timestamp(message_id: str) -> float:
    """The POSIX time encoded in an id (for diagnostics)."""
    return ((int(message_id) >> _TIME_SHIFT) + EPOCH_MS) / 1000


def first_id_at(timestamp: float) -> int:
    """The smallest id a message submitted at or after `timestamp` can have."""
    return max(0, int(timestamp * 1000) - EPOCH_MS) << _TIME_SHIFT
