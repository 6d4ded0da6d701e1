"""The interfaces the core depends on: the Store, connectors and the sink for their outcomes.

Every Store method returns a Deferred that fires only after the change is
durable (committed); backends are free to batch commits (group commit).
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from twisted.internet.defer import Deferred

from gateway.model import Account, Message, MessageState, NewOutboxItem, OutboxItem


class AccountExists(Exception):
    """add_account for a system_id that is already taken."""


class UnknownAccount(Exception):
    """An operation named a system_id the store does not hold."""


class Store(Protocol):
    # --- accounts -------------------------------------------------------------------------
    def add_account(self, account: Account) -> Deferred[None]:
        """Insert a new account; fails with AccountExists."""

    def update_account(self, account: Account) -> Deferred[None]:
        """Replace an account's settings (not its balance); fails with UnknownAccount."""

    def get_account(self, system_id: str) -> Deferred[Account | None]: ...

    def list_accounts(self) -> Deferred[list[Account]]: ...

    def topup(self, system_id: str, amount: Decimal) -> Deferred[Decimal]:
        """Add `amount` (may be negative for a correction) and return the new balance."""

    def settings_version(self) -> Deferred[int]:
        """A number that grows whenever any account's settings or balance change by admin."""

    # --- messages -------------------------------------------------------------------------
    def accept(self, account: str, messages: Sequence[Message], cost: Decimal) -> Deferred[bool]:
        """Atomically debit `cost` and insert `messages`, or do neither and return False
        when the balance cannot cover `cost`. One transaction: no race goes negative."""

    def get_message(self, message_id: str) -> Deferred[Message | None]: ...

    def finish(
        self,
        message_id: str,
        state: MessageState,
        error_code: int,
        done_at: float,
        outbox: NewOutboxItem | None,
    ) -> Deferred[OutboxItem | None]:
        """Move a message to final `state` and, in the same transaction, queue `outbox`.

        Idempotent: a message already final is left alone and None is returned,
        so a re-dispatched message never produces a second receipt.
        """

    def unfinished_messages(self, after_id: str, limit: int) -> Deferred[list[Message]]:
        """Messages not yet final, ordered by id, with id > after_id (for recovery)."""

    def last_message_id(self) -> Deferred[str | None]:
        """The greatest message id ever stored (ids are issued in increasing order)."""

    # --- outbox (receipts and MO waiting for their account) ---------------------------------
    def pending_outbox(self, account: str, after_id: int, limit: int) -> Deferred[list[OutboxItem]]:
        """Undelivered items of `account` with id > after_id, oldest first."""

    def ack_outbox(self, item_id: int) -> Deferred[None]:
        """The item reached its account (deliver_sm_resp OK): remove it from the outbox."""

    def expire_outbox(self, created_before: float) -> Deferred[int]:
        """Drop items older than `created_before`; returns how many."""

    def close(self) -> Deferred[None]:
        """Commit what is pending and release the backend."""


class OutcomeSink(Protocol):
    """Where connectors report what became of a message."""

    def message_final(
        self, message: Message, state: MessageState, error_code: int, done_at: float
    ) -> None:
        """`message` reached final `state`; the sink records it and queues its receipt."""


class Connector(Protocol):
    """An upstream that delivers messages. `send` fires once the connector has taken it."""

    name: str

    def send(self, message: Message) -> Deferred[None]: ...
