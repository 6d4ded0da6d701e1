"""The messages a connector saw accepted upstream and still awaits a final receipt for, by
the exact text key of their upstream id (upstream_ids.id_keys(...)[0]), in memory.

Why: a receipt matched here goes straight to its final state, one store operation; the
store lookup (find_by_upstream_id) would be a second, sequential one, and with an
upstream's deliver_sm window of 100 the two round trips bounded the chain A→B. The store
stays the truth: what is not here (another node's submit, one from before a restart,
one evicted, an id spelled differently in the receipt) is looked up there as before.
The most recent submit with an id wins here, which is what a recycled upstream id means.
"""
from __future__ import annotations

from gateway.model import Message

__all__ = ["AwaitingReceipts"]

DEFAULT_LIMIT = 20_000


class AwaitingReceipts:
    """At most `limit` entries; the oldest goes first (its receipt is looked up instead)."""

    __slots__ = ("_by_key", "_limit")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._by_key: dict[str, Message] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._by_key)

    def remember(self, key: str, message: Message) -> None:
        by_key = self._by_key
        by_key.pop(key, None)  # a recycled id: the newest submit is at the end
        by_key[key] = message
        if len(by_key) > self._limit:
            del by_key[next(iter(by_key))]

    def get(self, key: str) -> Message | None:
        return self._by_key.get(key)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)
