"""Registry of live binds per account, and the channel interface the fan-out pushes through."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from gateway.model import BindKind, OutboxItem


class DeliveryAnswers(Protocol):
    """Where a channel reports what became of an item it sent (core/delivery.Delivery):
    plain calls rather than a Deferred per item, as receipts are the busiest path."""

    def answered(self, item: OutboxItem, status: int) -> None:
        """The peer answered `item` with `status` (0: it took it)."""

    def not_answered(self, item: OutboxItem) -> None:
        """The bind went away, or the peer did not answer in time."""


class DeliveryChannel(Protocol):
    """A live bind seen from the core: SMPP sessions implement it in transport/."""

    account: str
    kind: BindKind

    def load(self) -> int:
        """Requests sent on this bind and not yet answered: its traffic right now."""

    def has_room(self) -> bool:
        """False while the bind's window of unanswered server PDUs is full."""

    def deliver(self, item: OutboxItem, answers: DeliveryAnswers) -> bool:
        """Send the item and tell `answers` of its outcome once there is one. False, and
        nothing sent, when the bind cannot take it now (its window is full or it is
        closing): the caller keeps the item."""

    def hold_writes(self) -> None:
        """The next delivers may keep their PDUs until release_writes sends them together."""

    def release_writes(self) -> None:
        """Send what the delivers since hold_writes kept."""


class BindRegistry:
    def __init__(self) -> None:
        self._by_account: dict[str, list[DeliveryChannel]] = {}
        # the receiver-capable ones apart: the fan-out asks about them several times per
        # receipt, and an account without one has no entry
        self._receivers: dict[str, list[DeliveryChannel]] = {}

    def add(self, channel: DeliveryChannel) -> None:
        self._by_account.setdefault(channel.account, []).append(channel)
        if channel.kind.can_receive:
            self._receivers.setdefault(channel.account, []).append(channel)

    def remove(self, channel: DeliveryChannel) -> None:
        for index in (self._by_account, self._receivers):
            channels = index.get(channel.account)
            if channels and channel in channels:
                channels.remove(channel)
                if not channels:
                    del index[channel.account]

    def count(self, account: str) -> int:
        return len(self._by_account.get(account, ()))

    def receivers(self, account: str) -> list[DeliveryChannel]:
        return list(self._receivers.get(account, ()))

    def has_receiver(self, account: str) -> bool:
        """Whether `account` has a bind that can take receipts (receivers() without the list)."""
        return account in self._receivers

    def receiver_has_room(self, account: str) -> bool:
        """Whether a receiver-capable bind of `account` has room in its window."""
        for channel in self._receivers.get(account, ()):
            if channel.has_room():
                return True
        return False

    def least_busy_receiver(self, account: str) -> DeliveryChannel | None:
        """The receiver-capable bind with room and the least traffic right now.

        Ties go to the bind that has waited longest (the list is rotated on each
        pick), so equal binds share the load instead of the first taking it all.
        """
        channels = self._receivers.get(account)
        if not channels:
            return None
        best = None
        best_load = 0
        for channel in channels:
            if channel.has_room():
                load = channel.load()
                if best is None or load < best_load:
                    best, best_load = channel, load
        if best is not None and len(channels) > 1:
            channels.remove(best)
            channels.append(best)
        return best

    def accounts(self) -> list[str]:
        return list(self._by_account)

    def __iter__(self) -> Iterator[DeliveryChannel]:
        for channels in list(self._by_account.values()):
            yield from list(channels)
