"""The one store type the gateway and the CLI use: every port of core/ports.py served by a
backend's table of operations (ops.StoreOps) through its executor.

The executor runs each operation inside a transaction and fires the operation's Deferred
only after that transaction committed (rule 3); how operations share transactions is its
business: the SQLite and PostgreSQL writers group-commit whatever queued up, the memory
store runs each one inline.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from gateway.core.apikeys import ApiKey
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.idempotency import OnceOutcome
from gateway.core.numbers import OwnedNumber
from gateway.core.ports import (
    Cancelled,
    CdrCursor,
    ReceiptFor,
    ReplaceOutcome,
    StoreListener,
    UpstreamRecord,
)
from gateway.core.pricing import PriceEntry
from gateway.core.routing import Route
from gateway.model import (
    Account,
    Cdr,
    InboundPart,
    Message,
    MessageState,
    NewOutboxItem,
    OutboxItem,
)
from gateway.storage.group_commit import BatchObserver
from gateway.storage.ops import Op, StoreOps

__all__ = ["BatchedStore", "Executor"]


class Executor(Protocol):
    """Runs operations in committed transactions (sqlite/writer.py, memory.py)."""

    commits: int
    operations: int
    batches: int

    def submit(self, op: Op, args: tuple) -> Deferred: ...

    def submit_each(self, op: Op, calls: list[tuple]) -> Deferred[list[tuple[bool, Any]]]:
        """`submit` of each call, fired once for all: each call's (ok, value or exception)."""

    def close(self) -> Deferred[None]: ...


class BatchedStore:
    """Store, PriceStore, ApiKeyStore, IdempotencyStore, NumberStore, InboundStore,
    WebhookStore, UpstreamStore, ClusterStore, CdrStore and OpsStore over `ops` run by
    `executor`.

    Call it from the reactor thread; `backend` names the backend in messages and logs."""

    backend = "store"

    def __init__(self, executor: Executor, ops: StoreOps) -> None:
        self._executor = executor
        self._ops = ops
        self._submit = executor.submit
        self._submit_each = executor.submit_each

    @property
    def commits(self) -> int:
        """Write transactions committed so far; with group commit, far fewer than writes."""
        return self._executor.commits

    @property
    def operations(self) -> int:
        return self._executor.operations

    @property
    def batches(self) -> int:
        """Batches run so far: one transaction each."""
        return self._executor.batches

    def close(self) -> Deferred[None]:
        """Commit everything submitted so far, then release the backend. Idempotent."""
        return self._executor.close()

    def observe(self, observer: BatchObserver) -> None:
        """Tell `observer` of each committed write batch: its seconds from BEGIN to COMMIT
        and its number of operations (the metrics' store histograms)."""
        if hasattr(self._executor, "observer"):
            self._executor.observer = observer

    def watch(self, listener: StoreListener) -> None:
        """Tell `listener` what other nodes do, where the backend can (PostgreSQL does);
        a single-node store has nothing to tell: its gateway sees everything itself."""

    # --- accounts ------------------------------------------------------------------------
    def add_account(self, account: Account) -> Deferred[None]:
        return self._submit(self._ops.add_account, (account,))

    def update_account(self, account: Account) -> Deferred[None]:
        return self._submit(self._ops.update_account, (account,))

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        return self._submit(self._ops.get_account, (system_id,))

    def list_accounts(self) -> Deferred[list[Account]]:
        return self._submit(self._ops.list_accounts, ())

    def topup(self, system_id: str, amount: Decimal) -> Deferred[Decimal]:
        return self._submit(self._ops.topup, (system_id, amount))

    def settings_version(self) -> Deferred[int]:
        return self._submit(self._ops.settings_version, ())

    # --- messages ------------------------------------------------------------------------
    def accept(self, account: str, messages: Sequence[Message], cost: Decimal) -> Deferred[bool]:
        return self._submit(self._ops.accept, (account, messages, cost))

    def accept_each(self, account: str, messages: Sequence[Message]
                    ) -> Deferred[list[tuple[bool, Any]]]:
        accept = self._ops.accept
        return self._submit_each(accept, [(account, (m,), m.price) for m in messages])

    def accept_replacing(self, account: str, message: Message) -> Deferred[list[Message] | None]:
        return self._submit(self._ops.accept_replacing, (account, message))

    def get_message(self, message_id: str) -> Deferred[Message | None]:
        return self._submit(self._ops.get_message, (message_id,))

    def finish(self, message_id: str, state: MessageState, error_code: int, done_at: float,
               outbox: Sequence[NewOutboxItem]) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.finish, (message_id, state, error_code, done_at, outbox))

    def finish_each(self, calls: Sequence[tuple[str, MessageState, int, float,
                                                Sequence[NewOutboxItem]]]
                    ) -> Deferred[list[tuple[bool, Any]]]:
        return self._submit_each(self._ops.finish, list(calls))

    def last_message_id(self) -> Deferred[str | None]:
        return self._submit(self._ops.last_message_id, ())

    # --- scheduled messages --------------------------------------------------------------
    def scheduled_messages(self, owner: int, after: tuple[float, str] | None, limit: int
                           ) -> Deferred[list[Message]]:
        return self._submit(self._ops.scheduled_messages, (owner, after, limit))

    def start_scheduled(self, message_id: str, due: float) -> Deferred[Message | None]:
        return self._submit(self._ops.start_scheduled, (message_id, due))

    def cancel(self, account: str, message_id: str, done_at: float, receipt: ReceiptFor
               ) -> Deferred[Cancelled | None]:
        return self._submit(self._ops.cancel, (account, message_id, done_at, receipt))

    def cancel_matching(self, account: str, source_addr: str, destination_addr: str,
                        done_at: float, receipt: ReceiptFor) -> Deferred[list[Cancelled]]:
        return self._submit(self._ops.cancel_matching,
                            (account, source_addr, destination_addr, done_at, receipt))

    def replace(self, account: str, message: Message) -> Deferred[ReplaceOutcome]:
        return self._submit(self._ops.replace, (account, message))

    # --- outbox --------------------------------------------------------------------------
    def queue_outbox(self, items: Sequence[NewOutboxItem]) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.queue_outbox, (items,))

    def claim_outbox(self, account: str, owner: int, limit: int) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.claim_outbox, (account, owner, limit))

    def pending_outbox(self, account: str, after_id: int, limit: int
                       ) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.pending_outbox, (account, after_id, limit))

    def release_outbox(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(self._ops.release_outbox, (item_ids,))

    def ack_outbox(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(self._ops.ack_outbox, (item_ids,))

    def expire_outbox(self, created_before: float) -> Deferred[int]:
        return self._submit(self._ops.expire_outbox, (created_before,))

    # --- prices, API keys, idempotent accepts --------------------------------------------
    def set_price(self, account: str, prefix: str, price: Decimal) -> Deferred[None]:
        return self._submit(self._ops.set_price, (account, prefix, price))

    def delete_price(self, account: str, prefix: str) -> Deferred[bool]:
        return self._submit(self._ops.delete_price, (account, prefix))

    def list_prices(self, account: str | None = None) -> Deferred[list[PriceEntry]]:
        return self._submit(self._ops.list_prices, (account,))

    def add_api_key(self, account: str, key_hash: str, prefix: str, label: str,
                    created_at: float) -> Deferred[ApiKey]:
        return self._submit(self._ops.add_api_key, (account, key_hash, prefix, label, created_at))

    def list_api_keys(self, account: str) -> Deferred[list[ApiKey]]:
        return self._submit(self._ops.list_api_keys, (account,))

    def revoke_api_key(self, account: str, key_id: int, revoked_at: float) -> Deferred[bool]:
        return self._submit(self._ops.revoke_api_key, (account, key_id, revoked_at))

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        return self._submit(self._ops.account_for_api_key, (key_hash,))

    def accept_once(self, account: str, key: str | None, fingerprint: str,
                    messages: Sequence[Message], cost: Decimal, result: str, now: float,
                    ) -> Deferred[OnceOutcome]:
        return self._submit(self._ops.accept_once,
                            (account, key, fingerprint, messages, cost, result, now))

    def expire_idempotency(self, created_before: float) -> Deferred[int]:
        return self._submit(self._ops.expire_idempotency, (created_before,))

    # --- numbers and parts of concatenated MO --------------------------------------------
    def add_number(self, number: OwnedNumber) -> Deferred[None]:
        return self._submit(self._ops.add_number, (number,))

    def remove_number(self, number: str, keyword: str = "") -> Deferred[bool]:
        return self._submit(self._ops.remove_number, (number, keyword))

    def list_numbers(self, account: str | None = None) -> Deferred[list[OwnedNumber]]:
        return self._submit(self._ops.list_numbers, (account,))

    def add_inbound_part(self, part: InboundPart) -> Deferred[list[InboundPart]]:
        return self._submit(self._ops.add_inbound_part, (part,))

    def complete_inbound(self, parts: Sequence[InboundPart], items: Sequence[NewOutboxItem]
                         ) -> Deferred[list[OutboxItem] | None]:
        return self._submit(self._ops.complete_inbound, (parts, items))

    def held_inbound(self, received_before: float,
                     limit: int) -> Deferred[list[list[InboundPart]]]:
        return self._submit(self._ops.held_inbound, (received_before, limit))

    # --- webhooks ------------------------------------------------------------------------
    def claim_webhooks(self, owner: int, now: float, limit: int,
                       exclude_urls: Sequence[str] = ()) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.claim_webhooks, (owner, now, limit, exclude_urls))

    def webhooks_delivered(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(self._ops.webhooks_delivered, (item_ids,))

    def webhook_failed(self, item_id: int, attempts: int, next_attempt_at: float, error: str,
                       dead_at: float | None) -> Deferred[None]:
        return self._submit(self._ops.webhook_failed,
                            (item_id, attempts, next_attempt_at, error, dead_at))

    def release_webhooks(self, item_ids: Sequence[int]) -> Deferred[None]:
        return self._submit(self._ops.release_webhooks, (item_ids,))

    def list_webhooks(self, *, dead: bool | None = None, account: str | None = None,
                      after_id: int = 0, limit: int = 100) -> Deferred[list[OutboxItem]]:
        return self._submit(self._ops.list_webhooks, (dead, account, after_id, limit))

    def replay_webhooks(self, *, ids: Sequence[int] | None = None, account: str | None = None,
                        now: float) -> Deferred[int]:
        return self._submit(self._ops.replay_webhooks, (ids, account, now))

    def webhook_counts(self) -> Deferred[dict[str, int]]:
        return self._submit(self._ops.webhook_counts, ())

    # --- upstream connectors, routes, receipt correlation --------------------------------
    def add_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        return self._submit(self._ops.add_connector, (settings,))

    def update_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        return self._submit(self._ops.update_connector, (settings,))

    def remove_connector(self, name: str) -> Deferred[None]:
        return self._submit(self._ops.remove_connector, (name,))

    def list_connectors(self) -> Deferred[list[ConnectorSettings]]:
        return self._submit(self._ops.list_connectors, ())

    def get_connector(self, name: str) -> Deferred[ConnectorSettings | None]:
        return self._submit(self._ops.get_connector, (name,))

    def add_route(self, route: Route) -> Deferred[int]:
        return self._submit(self._ops.add_route, (route,))

    def remove_route(self, route_id: int) -> Deferred[bool]:
        return self._submit(self._ops.remove_route, (route_id,))

    def list_routes(self) -> Deferred[list[Route]]:
        return self._submit(self._ops.list_routes, ())

    def mark_submitting(self, message_id: str, connector: str, at: float) -> Deferred[None]:
        return self._submit(self._ops.mark_submitting, (message_id, connector, at))

    def record_submitted(self, message_id: str, connector: str, upstream_id: str,
                         keys: Sequence[str], at: float) -> Deferred[None]:
        return self._submit(self._ops.record_submitted,
                            (message_id, connector, upstream_id, keys, at))

    def mark_submitting_each(self, calls: Sequence[tuple[str, str, float]]
                             ) -> Deferred[list[tuple[bool, Any]]]:
        return self._submit_each(self._ops.mark_submitting, list(calls))

    def record_submitted_each(
        self, calls: Sequence[tuple[str, str, str, Sequence[str], float]]
    ) -> Deferred[list[tuple[bool, Any]]]:
        return self._submit_each(self._ops.record_submitted, list(calls))

    def release_submit(self, message_id: str) -> Deferred[None]:
        return self._submit(self._ops.release_submit, (message_id,))

    def find_by_upstream_id(self, connector: str,
                            keys: Sequence[str]) -> Deferred[Message | None]:
        return self._submit(self._ops.find_by_upstream_id, (connector, keys))

    def upstream_records(self, message_ids: Sequence[str]) -> Deferred[dict[str, UpstreamRecord]]:
        return self._submit(self._ops.upstream_records, (message_ids,))

    def refund(self, message_id: str) -> Deferred[Decimal | None]:
        return self._submit(self._ops.refund, (message_id,))

    def write_health(self, snapshots: dict[str, dict], at: float) -> Deferred[None]:
        return self._submit(self._ops.write_health, (snapshots, at))

    def read_health(self) -> Deferred[dict[str, tuple[dict, float]]]:
        return self._submit(self._ops.read_health, ())

    # --- several nodes ---------------------------------------------------------------------
    def join_cluster(self, node_id: int, now: float) -> Deferred[int]:
        return self._submit(self._ops.join_cluster, (node_id, now))

    def heartbeat(self, owner: int, now: float) -> Deferred[bool]:
        return self._submit(self._ops.heartbeat, (owner, now))

    def claim_dead_owner(self, owner: int, now: float, lease: float) -> Deferred[int | None]:
        return self._submit(self._ops.claim_dead_owner, (owner, now, lease))

    def adopt_messages(self, from_owner: int, to_owner: int, limit: int
                       ) -> Deferred[list[Message]]:
        return self._submit(self._ops.adopt_messages, (from_owner, to_owner, limit))

    def retire_owner(self, owner: int) -> Deferred[None]:
        return self._submit(self._ops.retire_owner, (owner,))

    def leave_cluster(self, owner: int) -> Deferred[None]:
        return self._submit(self._ops.leave_cluster, (owner,))

    def release_claims(self, owner: int) -> Deferred[None]:
        return self._submit(self._ops.release_claims, (owner,))

    def add_bind(self, owner: int, bind_id: int, account: str, kind: str, max_binds: int,
                 now: float) -> Deferred[bool]:
        return self._submit(self._ops.add_bind, (owner, bind_id, account, kind, max_binds, now))

    def remove_bind(self, owner: int, bind_id: int) -> Deferred[None]:
        return self._submit(self._ops.remove_bind, (owner, bind_id))

    def count_binds(self, account: str) -> Deferred[int]:
        return self._submit(self._ops.count_binds, (account,))

    # --- operators: CDRs, readiness, queue depths, search --------------------------------
    def cdrs(self, since: float, until: float, account: str | None,
             after: CdrCursor | None, limit: int) -> Deferred[list[Cdr]]:
        return self._submit(self._ops.cdrs, (since, until, account, after, limit))

    def ping(self) -> Deferred[None]:
        return self._submit(self._ops.ping, ())

    def queue_depths(self) -> Deferred[dict[str, int]]:
        return self._submit(self._ops.queue_depths, ())

    def find_messages(self, number: str, since: float, limit: int) -> Deferred[list[Message]]:
        return self._submit(self._ops.find_messages, (number, since, limit))
