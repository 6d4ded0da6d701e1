"""The WebhookStore, NumberStore and InboundStore operations on the two SQLite front-ends:
synchronous for the CLI (`SqliteDatabase`) and group-committed Deferreds for the gateway
(`SqliteStore`). The dispatcher's and the reassembler's calls (due_webhooks,
webhook_failed, add_inbound_part, ...) are on both, so one contract covers both."""
from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred

from gateway.core.numbers import OwnedNumber
from gateway.model import InboundPart, NewOutboxItem, OutboxItem
from gateway.storage import sqlite_inbound as mo
from gateway.storage import sqlite_webhooks as wh
from gateway.storage.group_commit import Op

__all__ = ["WebhookDatabaseMixin", "WebhookStoreMixin"]

_DUE_WEBHOOKS = Op(wh.due_webhooks, writes=False)
_WEBHOOKS_DELIVERED = Op(wh.webhooks_delivered, writes=True, many=wh.webhooks_delivered_many)
_WEBHOOK_FAILED = Op(wh.webhook_failed, writes=True, many=wh.webhook_failed_many)
_LIST_WEBHOOKS = Op(wh.list_webhooks, writes=False)
_REPLAY_WEBHOOKS = Op(wh.replay_webhooks, writes=True)
_WEBHOOK_COUNTS = Op(wh.webhook_counts, writes=False)
_ADD_NUMBER = Op(mo.add_number, writes=True)
_REMOVE_NUMBER = Op(mo.remove_number, writes=True)
_LIST_NUMBERS = Op(mo.list_numbers, writes=False)
_ADD_INBOUND_PART = Op(mo.add_inbound_part, writes=True)
_COMPLETE_INBOUND = Op(mo.complete_inbound, writes=True)
_HELD_INBOUND = Op(mo.held_inbound, writes=False)


class WebhookDatabaseMixin:
    """For SqliteDatabase: each call one committed transaction."""

    # --- webhooks ------------------------------------------------------------------------
    def due_webhooks(self, now: float, limit: int, exclude_ids: Sequence[int] = (),
                     exclude_urls: Sequence[str] = ()) -> list[OutboxItem]:
        return self._read(wh.due_webhooks, now, limit, exclude_ids, exclude_urls)

    def webhooks_delivered(self, item_ids: Sequence[int]) -> None:
        self._write(wh.webhooks_delivered, item_ids)

    def webhook_failed(self, item_id: int, attempts: int, next_attempt_at: float, error: str,
                       dead_at: float | None) -> None:
        self._write(wh.webhook_failed, item_id, attempts, next_attempt_at, error, dead_at)

    def list_webhooks(self, *, dead: bool | None = None, account: str | None = None,
                      after_id: int = 0, limit: int = 100) -> list[OutboxItem]:
        return self._read(wh.list_webhooks, dead, account, after_id, limit)

    def replay_webhooks(self, *, ids: Sequence[int] | None = None, account: str | None = None,
                        now: float) -> int:
        return self._write(wh.replay_webhooks, ids, account, now)

    def webhook_counts(self) -> dict[str, int]:
        return self._read(wh.webhook_counts)

    # --- numbers -------------------------------------------------------------------------
    def add_number(self, number: OwnedNumber) -> None:
        self._write(mo.add_number, number)

    def remove_number(self, number: str, keyword: str = "") -> bool:
        return self._write(mo.remove_number, number, keyword)

    def list_numbers(self, account: str | None = None) -> list[OwnedNumber]:
        return self._read(mo.list_numbers, account)

    # --- parts of concatenated MO --------------------------------------------------------
    def add_inbound_part(self, part: InboundPart) -> list[InboundPart]:
        return self._write(mo.add_inbound_part, part)

    def complete_inbound(self, parts: Sequence[InboundPart], items: Sequence[NewOutboxItem]
                         ) -> list[OutboxItem] | None:
        return self._write(mo.complete_inbound, parts, items)

    def held_inbound(self, received_before: float, limit: int) -> list[list[InboundPart]]:
        return self._read(mo.held_inbound, received_before, limit)


class WebhookStoreMixin:
    """For SqliteStore: Deferreds fired after the group commit."""

    # --- webhooks ------------------------------------------------------------------------
    def due_webhooks(self, now: float, limit: int, exclude_ids: Sequence[int] = (),
                     exclude_urls: Sequence[str] = ()) -> Deferred[list[OutboxItem]]:
        return self._submit(_DUE_WEBHOOKS, (now, limit, exclude_ids, exclude_urls))

    def webhooks_delivered(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(_WEBHOOKS_DELIVERED, (item_ids,))

    def webhook_failed(self, item_id: int, attempts: int, next_attempt_at: float, error: str,
                       dead_at: float | None) -> Deferred[None]:
        return self._submit(_WEBHOOK_FAILED, (item_id, attempts, next_attempt_at, error,
                                              dead_at))

    def list_webhooks(self, *, dead: bool | None = None, account: str | None = None,
                      after_id: int = 0, limit: int = 100) -> Deferred[list[OutboxItem]]:
        return self._submit(_LIST_WEBHOOKS, (dead, account, after_id, limit))

    def replay_webhooks(self, *, ids: Sequence[int] | None = None, account: str | None = None,
                        now: float) -> Deferred[int]:
        return self._submit(_REPLAY_WEBHOOKS, (ids, account, now))

    def webhook_counts(self) -> Deferred[dict[str, int]]:
        return self._submit(_WEBHOOK_COUNTS, ())

    # --- numbers -------------------------------------------------------------------------
    def add_number(self, number: OwnedNumber) -> Deferred[None]:
        return self._submit(_ADD_NUMBER, (number,))

    def remove_number(self, number: str, keyword: str = "") -> Deferred[bool]:
        return self._submit(_REMOVE_NUMBER, (number, keyword))

    def list_numbers(self, account: str | None = None) -> Deferred[list[OwnedNumber]]:
        return self._submit(_LIST_NUMBERS, (account,))

    # --- parts of concatenated MO --------------------------------------------------------
    def add_inbound_part(self, part: InboundPart) -> Deferred[list[InboundPart]]:
        return self._submit(_ADD_INBOUND_PART, (part,))

    def complete_inbound(self, parts: Sequence[InboundPart], items: Sequence[NewOutboxItem]
                         ) -> Deferred[list[OutboxItem] | None]:
        return self._submit(_COMPLETE_INBOUND, (parts, items))

    def held_inbound(self, received_before: float,
                     limit: int) -> Deferred[list[list[InboundPart]]]:
        return self._submit(_HELD_INBOUND, (received_before, limit))
