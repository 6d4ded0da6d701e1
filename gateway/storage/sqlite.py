"""The default store: one SQLite file in WAL mode.

`SqliteStore` is the gateway's `Store`: every call returns a Deferred that fires after the
change is committed, and concurrent calls share commits (see group_commit.py).
`SqliteDatabase` offers the same operations synchronously, one transaction per call, for
the `smsgw` admin CLI, which may run against the same file while the gateway does.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Self, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads

from gateway.core.apikeys import ApiKey
from gateway.core.idempotency import OnceOutcome
from gateway.core.ports import Cancelled, ReceiptFor, ReplaceOutcome
from gateway.core.pricing import PriceEntry
from gateway.model import Account, Message, MessageState, NewOutboxItem, OutboxItem
from gateway.storage import sqlite_http as http_ops
from gateway.storage import sqlite_ops as ops
from gateway.storage import sqlite_outbox as outbox_ops
from gateway.storage import sqlite_pending as pending
from gateway.storage.group_commit import GroupCommitWriter, Op, StoreClosed
from gateway.storage.sqlite_cdrs import CdrDatabaseMixin, CdrStoreMixin
from gateway.storage.sqlite_ops import from_micro, to_micro
from gateway.storage.sqlite_upstream_api import UpstreamDatabaseMixin, UpstreamStoreMixin
from gateway.storage.sqlite_webhooks_api import WebhookDatabaseMixin, WebhookStoreMixin

__all__ = ["SqliteDatabase", "SqliteStore", "StoreClosed", "from_micro", "to_micro"]

DEFAULT_BUSY_TIMEOUT = 5.0

T = TypeVar("T")


class SqliteDatabase(UpstreamDatabaseMixin, WebhookDatabaseMixin, CdrDatabaseMixin):
    """Synchronous access to a store file: each method is one committed transaction.

    Not thread-safe: use one instance from one thread at a time.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.connection = ops.connect(path, busy_timeout)
        self._cur = self.connection.cursor()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self.connection
        ops.begin_immediate(conn, self.busy_timeout)
        try:
            result = fn(self._cur, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._cur, *args)

    # --- accounts ------------------------------------------------------------------------
    def add_account(self, account: Account) -> None:
        self._write(ops.add_account, account)

    def update_account(self, account: Account) -> None:
        self._write(ops.update_account, account)

    def get_account(self, system_id: str) -> Account | None:
        return self._read(ops.get_account, system_id)

    def list_accounts(self) -> list[Account]:
        return self._read(ops.list_accounts)

    def topup(self, system_id: str, amount: Decimal) -> Decimal:
        return self._write(ops.topup, system_id, amount)

    def settings_version(self) -> int:
        return self._read(ops.settings_version)

    # --- messages ------------------------------------------------------------------------
    def accept(self, account: str, messages: Sequence[Message], cost: Decimal) -> bool:
        return self._write(ops.accept, account, messages, cost)

    def get_message(self, message_id: str) -> Message | None:
        return self._read(ops.get_message, message_id)

    def finish(
        self,
        message_id: str,
        state: MessageState,
        error_code: int,
        done_at: float,
        outbox: Sequence[NewOutboxItem],
    ) -> list[OutboxItem]:
        return self._write(ops.finish, message_id, state, error_code, done_at, outbox)

    def unfinished_messages(self, after_id: str, limit: int) -> list[Message]:
        return self._read(ops.unfinished_messages, after_id, limit)

    def last_message_id(self) -> str | None:
        return self._read(ops.last_message_id)

    # --- outbox --------------------------------------------------------------------------
    def queue_outbox(self, items: Sequence[NewOutboxItem]) -> list[OutboxItem]:
        return self._write(outbox_ops.queue_outbox, items)

    def pending_outbox(self, account: str, after_id: int, limit: int) -> list[OutboxItem]:
        return self._read(outbox_ops.pending_outbox, account, after_id, limit)

    def ack_outbox(self, item_id: int) -> None:
        self._write(outbox_ops.ack_outbox, item_id)

    def ack_outbox_items(self, item_ids: Sequence[int]) -> None:
        self._write(outbox_ops.ack_outbox_items, item_ids)

    def expire_outbox(self, created_before: float) -> int:
        return self._write(outbox_ops.expire_outbox, created_before)

    # --- scheduled messages --------------------------------------------------------------
    def start_scheduled(self, message_id: str, due: float) -> Message | None:
        return self._write(pending.start_scheduled, message_id, due)

    def cancel(
        self, account: str, message_id: str, done_at: float, receipt: ReceiptFor
    ) -> Cancelled | None:
        return self._write(pending.cancel, account, message_id, done_at, receipt)

    def cancel_matching(
        self, account: str, source_addr: str, destination_addr: str, done_at: float,
        receipt: ReceiptFor,
    ) -> list[Cancelled]:
        return self._write(
            pending.cancel_matching, account, source_addr, destination_addr, done_at, receipt)

    def replace(self, account: str, message: Message) -> ReplaceOutcome:
        return self._write(pending.replace, account, message)

    # --- HTTP API: prices, API keys, idempotent accepts ----------------------------------
    def set_price(self, account: str, prefix: str, price: Decimal) -> None:
        self._write(http_ops.set_price, account, prefix, price)

    def delete_price(self, account: str, prefix: str) -> bool:
        return self._write(http_ops.delete_price, account, prefix)

    def list_prices(self, account: str | None = None) -> list[PriceEntry]:
        return self._read(http_ops.list_prices, account)

    def add_api_key(
        self, account: str, key_hash: str, prefix: str, label: str, created_at: float
    ) -> ApiKey:
        return self._write(http_ops.add_api_key, account, key_hash, prefix, label, created_at)

    def list_api_keys(self, account: str) -> list[ApiKey]:
        return self._read(http_ops.list_api_keys, account)

    def revoke_api_key(self, account: str, key_id: int, revoked_at: float) -> bool:
        return self._write(http_ops.revoke_api_key, account, key_id, revoked_at)

    def account_for_api_key(self, key_hash: str) -> Account | None:
        return self._read(http_ops.account_for_api_key, key_hash)

    def accept_once(
        self, account: str, key: str | None, fingerprint: str, messages: Sequence[Message],
        cost: Decimal, result: str, now: float,
    ) -> OnceOutcome:
        return self._write(
            http_ops.accept_once, account, key, fingerprint, messages, cost, result, now)

    def expire_idempotency(self, created_before: float) -> int:
        return self._write(http_ops.expire_idempotency, created_before)


# Which operations write (the batch then takes the write lock).
_ADD_ACCOUNT = Op(ops.add_account, writes=True)
_UPDATE_ACCOUNT = Op(ops.update_account, writes=True)
_GET_ACCOUNT = Op(ops.get_account, writes=False)
_LIST_ACCOUNTS = Op(ops.list_accounts, writes=False)
_TOPUP = Op(ops.topup, writes=True)
_SETTINGS_VERSION = Op(ops.settings_version, writes=False)
_ACCEPT = Op(ops.accept, writes=True, many=ops.accept_many)
_GET_MESSAGE = Op(ops.get_message, writes=False)
_FINISH = Op(ops.finish, writes=True, many=ops.finish_many)
_UNFINISHED = Op(ops.unfinished_messages, writes=False)
_LAST_MESSAGE_ID = Op(ops.last_message_id, writes=False)
_QUEUE_OUTBOX = Op(outbox_ops.queue_outbox, writes=True, many=outbox_ops.queue_outbox_many)
_PENDING_OUTBOX = Op(outbox_ops.pending_outbox, writes=False)
_ACK_OUTBOX = Op(outbox_ops.ack_outbox, writes=True, many=outbox_ops.ack_outbox_many)
_ACK_OUTBOX_ITEMS = Op(outbox_ops.ack_outbox_items, writes=True)
_EXPIRE_OUTBOX = Op(outbox_ops.expire_outbox, writes=True)
_START_SCHEDULED = Op(pending.start_scheduled, writes=True)
_CANCEL = Op(pending.cancel, writes=True)
_CANCEL_MATCHING = Op(pending.cancel_matching, writes=True)
_REPLACE = Op(pending.replace, writes=True)
_SET_PRICE = Op(http_ops.set_price, writes=True)
_DELETE_PRICE = Op(http_ops.delete_price, writes=True)
_LIST_PRICES = Op(http_ops.list_prices, writes=False)
_ADD_API_KEY = Op(http_ops.add_api_key, writes=True)
_LIST_API_KEYS = Op(http_ops.list_api_keys, writes=False)
_REVOKE_API_KEY = Op(http_ops.revoke_api_key, writes=True)
_ACCOUNT_FOR_API_KEY = Op(http_ops.account_for_api_key, writes=False)
_ACCEPT_ONCE = Op(http_ops.accept_once, writes=True)
_EXPIRE_IDEMPOTENCY = Op(http_ops.expire_idempotency, writes=True)


class SqliteStore(UpstreamStoreMixin, WebhookStoreMixin, CdrStoreMixin):
    """The `Store` over a SQLite file, with group commit. Call it from the reactor thread.

    Opening (and migrating) the file happens in the constructor, so a bad path fails at
    start; from then on one writer thread owns the connection until `close()`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        reactor: IReactorFromThreads,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        observer: Callable[[float, int], None] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        conn = ops.connect(path, busy_timeout)
        # observer: see GroupCommitWriter (the store's metrics)
        self._writer = GroupCommitWriter(conn, reactor.callFromThread, observer=observer)
        self._submit = self._writer.submit

    @property
    def commits(self) -> int:
        """Write transactions committed so far; with group commit, far fewer than writes."""
        return self._writer.commits

    @property
    def operations(self) -> int:
        """Operations run so far."""
        return self._writer.operations

    @property
    def batches(self) -> int:
        """Batches run so far: one transaction and one callFromThread each."""
        return self._writer.batches

    def close(self) -> Deferred[None]:
        """Commit everything submitted so far, then release the file. Idempotent."""
        return self._writer.close()

    # --- accounts ------------------------------------------------------------------------
    def add_account(self, account: Account) -> Deferred[None]:
        return self._submit(_ADD_ACCOUNT, (account,))

    def update_account(self, account: Account) -> Deferred[None]:
        return self._submit(_UPDATE_ACCOUNT, (account,))

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        return self._submit(_GET_ACCOUNT, (system_id,))

    def list_accounts(self) -> Deferred[list[Account]]:
        return self._submit(_LIST_ACCOUNTS, ())

    def topup(self, system_id: str, amount: Decimal) -> Deferred[Decimal]:
        return self._submit(_TOPUP, (system_id, amount))

    def settings_version(self) -> Deferred[int]:
        return self._submit(_SETTINGS_VERSION, ())

    # --- messages ------------------------------------------------------------------------
    def accept(self, account: str, messages: Sequence[Message], cost: Decimal) -> Deferred[bool]:
        return self._submit(_ACCEPT, (account, messages, cost))

    def get_message(self, message_id: str) -> Deferred[Message | None]:
        return self._submit(_GET_MESSAGE, (message_id,))

    def finish(
        self,
        message_id: str,
        state: MessageState,
        error_code: int,
        done_at: float,
        outbox: Sequence[NewOutboxItem],
    ) -> Deferred[list[OutboxItem]]:
        return self._submit(_FINISH, (message_id, state, error_code, done_at, outbox))

    def unfinished_messages(self, after_id: str, limit: int) -> Deferred[list[Message]]:
        return self._submit(_UNFINISHED, (after_id, limit))

    def last_message_id(self) -> Deferred[str | None]:
        return self._submit(_LAST_MESSAGE_ID, ())

    # --- outbox --------------------------------------------------------------------------
    def queue_outbox(self, items: Sequence[NewOutboxItem]) -> Deferred[list[OutboxItem]]:
        return self._submit(_QUEUE_OUTBOX, (items,))

    def pending_outbox(
        self, account: str, after_id: int, limit: int
    ) -> Deferred[list[OutboxItem]]:
        return self._submit(_PENDING_OUTBOX, (account, after_id, limit))

    def ack_outbox(self, item_id: int) -> Deferred[None]:
        return self._submit(_ACK_OUTBOX, (item_id,))

    def ack_outbox_items(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(_ACK_OUTBOX_ITEMS, (item_ids,))

    def expire_outbox(self, created_before: float) -> Deferred[int]:
        return self._submit(_EXPIRE_OUTBOX, (created_before,))

    # --- scheduled messages --------------------------------------------------------------
    def start_scheduled(self, message_id: str, due: float) -> Deferred[Message | None]:
        return self._submit(_START_SCHEDULED, (message_id, due))

    def cancel(
        self, account: str, message_id: str, done_at: float, receipt: ReceiptFor
    ) -> Deferred[Cancelled | None]:
        return self._submit(_CANCEL, (account, message_id, done_at, receipt))

    def cancel_matching(
        self, account: str, source_addr: str, destination_addr: str, done_at: float,
        receipt: ReceiptFor,
    ) -> Deferred[list[Cancelled]]:
        return self._submit(
            _CANCEL_MATCHING, (account, source_addr, destination_addr, done_at, receipt))

    def replace(self, account: str, message: Message) -> Deferred[ReplaceOutcome]:
        return self._submit(_REPLACE, (account, message))

    # --- HTTP API: prices, API keys, idempotent accepts ----------------------------------
    def set_price(self, account: str, prefix: str, price: Decimal) -> Deferred[None]:
        return self._submit(_SET_PRICE, (account, prefix, price))

    def delete_price(self, account: str, prefix: str) -> Deferred[bool]:
        return self._submit(_DELETE_PRICE, (account, prefix))

    def list_prices(self, account: str | None = None) -> Deferred[list[PriceEntry]]:
        return self._submit(_LIST_PRICES, (account,))

    def add_api_key(
        self, account: str, key_hash: str, prefix: str, label: str, created_at: float
    ) -> Deferred[ApiKey]:
        return self._submit(_ADD_API_KEY, (account, key_hash, prefix, label, created_at))

    def list_api_keys(self, account: str) -> Deferred[list[ApiKey]]:
        return self._submit(_LIST_API_KEYS, (account,))

    def revoke_api_key(self, account: str, key_id: int, revoked_at: float) -> Deferred[bool]:
        return self._submit(_REVOKE_API_KEY, (account, key_id, revoked_at))

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        return self._submit(_ACCOUNT_FOR_API_KEY, (key_hash,))

    def accept_once(
        self, account: str, key: str | None, fingerprint: str, messages: Sequence[Message],
        cost: Decimal, result: str, now: float,
    ) -> Deferred[OnceOutcome]:
        return self._submit(
            _ACCEPT_ONCE, (account, key, fingerprint, messages, cost, result, now))

    def expire_idempotency(self, created_before: float) -> Deferred[int]:
        return self._submit(_EXPIRE_IDEMPOTENCY, (created_before,))
