"""A backend's store operations as data: each one a function run inside a transaction the
backend's executor owns, and the table of them that `batched.BatchedStore` serves.

A backend (sqlite/, postgres/) writes each operation once as a plain function
`fn(cursor, *args)`; its executor decides how they share transactions (group commit).
Both backends lay their modules out alike, so `OPERATIONS` says once where each operation
lives and what kind it is, and `collect` builds a backend's table from its package.
"""
from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

__all__ = ["OPERATIONS", "Kind", "Op", "StoreOps", "collect"]


class Op(NamedTuple):
    """A store operation: `fn(cursor, *args)`, run inside the batch's transaction.

    `writes`: it may write, so the batch takes the write lock, and if it raises after
    writing, its writes must be undone (see sqlite/writer.py).
    `many`: optional `many(cursor, [args, ...]) -> [result, ...]`, the same as calling `fn`
    for each args in order when every call succeeds; it raises (anything) when it cannot
    tell, and the calls then run one by one. It should decline before writing: failing
    after a write costs a rerun of the whole batch.
    """

    fn: Callable[..., Any]
    writes: bool
    many: Callable[[Any, list[tuple]], list[Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class StoreOps:
    """Every operation of the ports in core/ports.py, one field each (named as the method)."""

    # Store: accounts and messages
    add_account: Op
    update_account: Op
    get_account: Op
    list_accounts: Op
    topup: Op
    settings_version: Op
    accept: Op
    accept_replacing: Op
    get_message: Op
    finish: Op
    last_message_id: Op
    scheduled_messages: Op
    start_scheduled: Op
    cancel: Op
    cancel_matching: Op
    replace: Op
    queue_outbox: Op
    claim_outbox: Op
    pending_outbox: Op
    release_outbox: Op
    ack_outbox: Op
    expire_outbox: Op
    # PriceStore, ApiKeyStore, IdempotencyStore
    set_price: Op
    delete_price: Op
    list_prices: Op
    add_api_key: Op
    list_api_keys: Op
    revoke_api_key: Op
    account_for_api_key: Op
    accept_once: Op
    expire_idempotency: Op
    # NumberStore, InboundStore
    add_number: Op
    remove_number: Op
    list_numbers: Op
    add_inbound_part: Op
    complete_inbound: Op
    held_inbound: Op
    # WebhookStore
    claim_webhooks: Op
    webhooks_delivered: Op
    webhook_failed: Op
    release_webhooks: Op
    list_webhooks: Op
    replay_webhooks: Op
    webhook_counts: Op
    # UpstreamStore
    add_connector: Op
    update_connector: Op
    remove_connector: Op
    list_connectors: Op
    get_connector: Op
    add_route: Op
    remove_route: Op
    list_routes: Op
    mark_submitting: Op
    record_submitted: Op
    release_submit: Op
    find_by_upstream_id: Op
    upstream_records: Op
    refund: Op
    write_health: Op
    read_health: Op
    # ClusterStore
    join_cluster: Op
    heartbeat: Op
    claim_dead_owner: Op
    adopt_messages: Op
    retire_owner: Op
    leave_cluster: Op
    release_claims: Op
    add_bind: Op
    remove_bind: Op
    count_binds: Op
    # CdrStore, OpsStore
    cdrs: Op
    ping: Op
    queue_depths: Op
    find_messages: Op

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class Kind(enum.Enum):
    READ = "reads only"
    WRITE = "may write"
    WRITE_MANY = "may write, and has a multi-row form named `<operation>_many`"


READ, WRITE, WRITE_MANY = Kind.READ, Kind.WRITE, Kind.WRITE_MANY

# operation (a function of that name): (its module in the backend's package, its kind)
OPERATIONS: dict[str, tuple[str, Kind]] = {
    "add_account": ("accounts", WRITE),
    "update_account": ("accounts", WRITE),
    "get_account": ("accounts", READ),
    "list_accounts": ("accounts", READ),
    "topup": ("accounts", WRITE),
    "settings_version": ("accounts", READ),
    "accept": ("messages", WRITE_MANY),
    "accept_replacing": ("messages", WRITE),
    "get_message": ("messages", READ),
    "finish": ("messages", WRITE_MANY),
    "last_message_id": ("messages", READ),
    "scheduled_messages": ("scheduled", READ),
    "start_scheduled": ("scheduled", WRITE),
    "cancel": ("scheduled", WRITE),
    "cancel_matching": ("scheduled", WRITE),
    "replace": ("scheduled", WRITE),
    "queue_outbox": ("outbox", WRITE_MANY),
    "claim_outbox": ("outbox", WRITE),
    "pending_outbox": ("outbox", READ),
    "release_outbox": ("outbox", WRITE_MANY),
    "ack_outbox": ("outbox", WRITE_MANY),
    "expire_outbox": ("outbox", WRITE),
    "set_price": ("http_api", WRITE),
    "delete_price": ("http_api", WRITE),
    "list_prices": ("http_api", READ),
    "add_api_key": ("http_api", WRITE),
    "list_api_keys": ("http_api", READ),
    "revoke_api_key": ("http_api", WRITE),
    "account_for_api_key": ("http_api", READ),
    "accept_once": ("http_api", WRITE),
    "expire_idempotency": ("http_api", WRITE),
    "add_number": ("inbound", WRITE),
    "remove_number": ("inbound", WRITE),
    "list_numbers": ("inbound", READ),
    "add_inbound_part": ("inbound", WRITE),
    "complete_inbound": ("inbound", WRITE),
    "held_inbound": ("inbound", READ),
    "claim_webhooks": ("webhooks", WRITE),
    "webhooks_delivered": ("webhooks", WRITE_MANY),
    "webhook_failed": ("webhooks", WRITE_MANY),
    "release_webhooks": ("webhooks", WRITE),
    "list_webhooks": ("webhooks", READ),
    "replay_webhooks": ("webhooks", WRITE),
    "webhook_counts": ("webhooks", READ),
    "add_connector": ("upstream", WRITE),
    "update_connector": ("upstream", WRITE),
    "remove_connector": ("upstream", WRITE),
    "list_connectors": ("upstream", READ),
    "get_connector": ("upstream", READ),
    "add_route": ("upstream", WRITE),
    "remove_route": ("upstream", WRITE),
    "list_routes": ("upstream", READ),
    "mark_submitting": ("upstream", WRITE_MANY),
    "record_submitted": ("upstream", WRITE_MANY),
    "release_submit": ("upstream", WRITE),
    "find_by_upstream_id": ("upstream", READ),
    "upstream_records": ("upstream", READ),
    "refund": ("upstream", WRITE),
    "write_health": ("upstream", WRITE),
    "read_health": ("upstream", READ),
    "join_cluster": ("cluster", WRITE),
    "heartbeat": ("cluster", WRITE),
    "claim_dead_owner": ("cluster", WRITE),
    "adopt_messages": ("messages", WRITE),
    "retire_owner": ("cluster", WRITE),
    "leave_cluster": ("cluster", WRITE),
    "release_claims": ("cluster", WRITE),
    "add_bind": ("cluster", WRITE),
    "remove_bind": ("cluster", WRITE),
    "count_binds": ("cluster", READ),
    "cdrs": ("reports", READ),
    "ping": ("reports", WRITE),
    "queue_depths": ("reports", READ),
    "find_messages": ("reports", READ),
}


def collect(package: str) -> StoreOps:
    """The table of a backend's operations, e.g. `collect("gateway.storage.sqlite")`."""
    ops = {}
    for name, (module_name, kind) in OPERATIONS.items():
        module = importlib.import_module(f"{package}.{module_name}")
        many = getattr(module, f"{name}_many") if kind is WRITE_MANY else None
        ops[name] = Op(getattr(module, name), writes=kind is not READ, many=many)
    return StoreOps(**ops)
