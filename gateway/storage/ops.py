"""A backend's store operations as data: each one a function run inside a transaction the
backend's executor owns, and the table of them that `batched.BatchedStore` serves.

A backend (sqlite/, postgres/) writes each operation once as a plain function
`fn(cursor, *args)`; its executor decides how they share transactions (group commit).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

__all__ = ["Op", "StoreOps"]


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
