"""The interfaces the core depends on: the Store, connectors and the sink for their outcomes.

Every Store method returns a Deferred that fires only after the change is
durable (committed); backends are free to batch commits (group commit).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from gateway.core.apikeys import ApiKey
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.idempotency import OnceOutcome
from gateway.core.numbers import OwnedNumber
from gateway.core.pricing import PriceEntry
from gateway.core.routing import Route
from gateway.model import (
    Account,
    Cdr,
    InboundMessage,
    InboundPart,
    Message,
    MessageState,
    NewOutboxItem,
    OutboxItem,
)


class AccountExists(Exception):
    """add_account for a system_id that is already taken."""


class UnknownAccount(Exception):
    """An operation named a system_id the store does not hold."""


class StoreUnavailable(Exception):
    """The store could not commit a write (disk full, file unwritable, database down):
    nothing of the operation was stored, and the caller may retry it later. The router
    raises it for a submit the store refused, so the front-ends answer ESME_RSYSERR /
    HTTP 503 instead of treating it as a bug."""


class ReplaceOutcome(Enum):
    """What `Store.replace` did."""

    REPLACED = "replaced"
    NOT_REPLACEABLE = "not_replaceable"  # unknown, another account's, or no longer SCHEDULED
    NO_BALANCE = "no_balance"  # the price went up by more than the balance: nothing changed


# Builds the receipt items (none, or one per fan-out leg) for a message a cancel deletes;
# pure, run inside the store's transaction so they describe the message as it was deleted.
ReceiptFor = Callable[[Message], Sequence[NewOutboxItem]]
Cancelled = tuple[Message, list[OutboxItem]]


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

    def accept_each(self, account: str, messages: Sequence[Message]
                    ) -> Deferred[list[tuple[bool, Any]]]:
        """`accept` of each message alone at its own price, in order (the submits of one
        read): one Deferred for all, firing with each one's (True, accepted) or (False,
        the exception its accept failed with)."""

    def get_message(self, message_id: str) -> Deferred[Message | None]: ...

    def finish_each(
        self, calls: Sequence[tuple[str, MessageState, int, float, Sequence[NewOutboxItem]]]
    ) -> Deferred[list[tuple[bool, Any]]]:
        """`finish(*call)` for each call, in order (the receipts of one connector tick):
        one Deferred for all, firing with each one's (True, items) or (False, exception)."""

    def finish(
        self,
        message_id: str,
        state: MessageState,
        error_code: int,
        done_at: float,
        outbox: Sequence[NewOutboxItem],
    ) -> Deferred[list[OutboxItem]]:
        """Move a message to final `state` and, in the same transaction, queue `outbox`
        (its receipt: one item per fan-out leg, SMPP and/or WEBHOOK; empty for none).

        Idempotent: a message already final is left alone and [] is returned,
        so a re-dispatched message never produces a second receipt.
        """

    def last_message_id(self) -> Deferred[str | None]:
        """The greatest message id ever stored (ids are issued in increasing order)."""

    def accept_replacing(self, account: str, message: Message) -> Deferred[list[Message] | None]:
        """submit_sm with replace_if_present_flag, in one transaction: move `account`'s
        SCHEDULED messages from `message`'s source to its destination (exact strings) to
        DELETED with their price refunded and no receipt, then `accept` `message` at its
        price. Returns the superseded messages (ordered by id); None, and nothing written,
        when the balance after the refunds cannot cover the new message."""

    # --- scheduled messages (schedule_delivery_time, cancel_sm, replace_sm) -----------------
    def scheduled_messages(self, owner: int, after: tuple[float, str] | None, limit: int
                           ) -> Deferred[list[Message]]:
        """Up to `limit` of `owner`'s SCHEDULED messages ordered by (scheduled_at, numeric
        id), those after the key `after` = (scheduled_at, id) of the previous page's last
        (core/scheduling.py keeps only the earliest in memory and pages the rest in)."""

    def start_scheduled(self, message_id: str, due: float) -> Deferred[Message | None]:
        """Move a SCHEDULED message whose scheduled_at is not after `due` to ENROUTE and
        return it as stored; None (nothing written) when it is not SCHEDULED any more
        (cancelled, already started) or a replace moved it later."""

    def cancel(
        self, account: str, message_id: str, done_at: float, receipt: ReceiptFor
    ) -> Deferred[Cancelled | None]:
        """In one transaction: move `account`'s SCHEDULED message to DELETED at `done_at`,
        refund its price, and queue the items of `receipt(message)`. Returns the deleted
        message and the queued items; None (nothing written) when the message is unknown,
        another account's or not SCHEDULED."""

    def cancel_matching(
        self, account: str, source_addr: str, destination_addr: str, done_at: float,
        receipt: ReceiptFor,
    ) -> Deferred[list[Cancelled]]:
        """`cancel` every SCHEDULED message of `account` from `source_addr` to
        `destination_addr` (exact strings), all in one transaction; ordered by id."""

    def replace(self, account: str, message: Message) -> Deferred[ReplaceOutcome]:
        """In one transaction: if `account`'s message `message.id` is SCHEDULED, set its
        body, registered_delivery, parts, price, scheduled_at and expires_at to those of
        `message`, and charge (or refund) `message.price` minus the stored price. Nothing
        changes when the message is not replaceable or the balance cannot cover the rise."""

    # --- outbox (receipts and MO waiting for their account) ---------------------------------
    def queue_outbox(self, items: Sequence[NewOutboxItem]) -> Deferred[list[OutboxItem]]:
        """Queue `items` (any channel) in one transaction; the stored items, in order."""

    # The SMPP leg: items wait per account for a receiver bind. (WEBHOOK items: WebhookStore.)
    # An item is claimed by the node (owner, see ClusterStore) that pushes it, so two nodes
    # never send it both; an item is queued already claimed when its node pushes it at once.
    def claim_outbox(self, account: str, owner: int, limit: int) -> Deferred[list[OutboxItem]]:
        """Claim for `owner` up to `limit` unclaimed SMPP items of `account`, oldest first,
        and return them. Items another transaction is claiming are skipped, not waited for."""

    def pending_outbox(self, account: str, after_id: int, limit: int
                       ) -> Deferred[list[OutboxItem]]:
        """What waits (claimed or not): undelivered SMPP items of `account` with id >
        after_id, oldest first. For admins and tests; delivery claims instead."""

    def release_outbox(self, item_ids: Sequence[int]) -> Deferred[None]:
        """Let go of claimed items not delivered (their bind went away): claimable again."""

    def ack_outbox(self, item_ids: Sequence[int]) -> Deferred[None]:
        """The items reached their account (deliver_sm_resp OK): remove them."""

    def expire_outbox(self, created_before: float) -> Deferred[int]:
        """Drop SMPP items older than `created_before`; returns how many. (Webhooks are
        dead-lettered instead, and kept.)"""

    def close(self) -> Deferred[None]:
        """Commit what is pending and release the backend."""


class PriceStore(Protocol):
    """Price tables by destination prefix (see core/pricing.py). Changes bump
    settings_version, so running gateways reload them."""

    def set_price(self, account: str, prefix: str, price: Decimal) -> Deferred[None]:
        """Set (or change) one entry; `account` is a system_id or '*' (every account).
        Fails with UnknownAccount, or ValueError for a negative or too precise price."""

    def delete_price(self, account: str, prefix: str) -> Deferred[bool]:
        """Remove one entry; False when there was none."""

    def list_prices(self, account: str | None = None) -> Deferred[list[PriceEntry]]:
        """The entries of one table, or of every table (None), ordered."""


class ApiKeyStore(Protocol):
    """Bearer API keys, stored as hashes (see core/apikeys.py)."""

    def add_api_key(
        self, account: str, key_hash: str, prefix: str, label: str, created_at: float
    ) -> Deferred[ApiKey]:
        """Store a new key of `account`; fails with UnknownAccount."""

    def list_api_keys(self, account: str) -> Deferred[list[ApiKey]]:
        """Every key of `account`, revoked ones too, oldest first; UnknownAccount."""

    def revoke_api_key(self, account: str, key_id: int, revoked_at: float) -> Deferred[bool]:
        """False when `account` has no active key `key_id`."""

    def account_for_api_key(self, key_hash: str) -> Deferred[Account | None]:
        """The account an active key belongs to."""


class IdempotencyStore(Protocol):
    """Submits done at most once per (account, Idempotency-Key); see core/idempotency.py."""

    def accept_once(
        self, account: str, key: str | None, fingerprint: str, messages: Sequence[Message],
        cost: Decimal, result: str, now: float,
    ) -> Deferred[OnceOutcome]:
        """In one transaction: if (account, key) is known, return what it remembered and
        write nothing; else `Store.accept` and, when that succeeds, remember `result` and
        the balance after the debit. Key None: only accept, and report that balance."""

    def expire_idempotency(self, created_before: float) -> Deferred[int]:
        """Forget keys remembered before `created_before`."""


class NumberTaken(Exception):
    """add_number for a (number, keyword) another account (or this one) already owns."""


class NumberStore(Protocol):
    """Numbers (long numbers, short codes; optionally by keyword) accounts own, for MO.
    Changes bump settings_version, so running gateways reload them."""

    def add_number(self, number: OwnedNumber) -> Deferred[None]:
        """Fails with NumberTaken or UnknownAccount."""

    def remove_number(self, number: str, keyword: str = "") -> Deferred[bool]:
        """False when nobody owns (number, keyword)."""

    def list_numbers(self, account: str | None = None) -> Deferred[list[OwnedNumber]]:
        """Every entry (or `account`'s), ordered by number and keyword."""


class WebhookStore(Protocol):
    """The persistent webhook outbox: WEBHOOK items until their receiver answers 2xx.

    A failed item keeps its place with the failure counted and its next attempt time; one
    older than the dead-letter age is marked dead (`dead_at`) and kept until an admin
    replays it."""

    def claim_webhooks(
        self, owner: int, now: float, limit: int, exclude_urls: Sequence[str] = (),
    ) -> Deferred[list[OutboxItem]]:
        """Claim for `owner` and return up to `limit` live (not dead), unclaimed items due
        by `now`, earliest next_attempt_at first (then id), leaving out `exclude_urls`
        (backing off). Items another transaction is claiming are skipped."""

    def webhooks_delivered(self, item_ids: Sequence[int]) -> Deferred[None]:
        """Their receivers answered 2xx: remove them."""

    def webhook_failed(
        self, item_id: int, attempts: int, next_attempt_at: float, error: str,
        dead_at: float | None,
    ) -> Deferred[None]:
        """Record a failed attempt: the count so far, when to try again, what went wrong,
        and `dead_at` when it is given up; the item is unclaimed (any node retries it)."""

    def release_webhooks(self, item_ids: Sequence[int]) -> Deferred[None]:
        """Let go of claimed items not attempted (the sender stopped): claimable again."""

    def list_webhooks(
        self, *, dead: bool | None = None, account: str | None = None, after_id: int = 0,
        limit: int = 100,
    ) -> Deferred[list[OutboxItem]]:
        """Items by id (> after_id): only dead letters (dead=True), only live ones (False) or
        both (None); of one account or all."""

    def replay_webhooks(
        self, *, ids: Sequence[int] | None = None, account: str | None = None, now: float,
    ) -> Deferred[int]:
        """Dead letters (those of `ids`, else of `account`, else all) back to live: due at
        `now`, attempts reset. Returns how many."""

    def webhook_counts(self) -> Deferred[dict[str, int]]:
        """{"pending": live items, "dead": dead letters}."""


class InboundStore(Protocol):
    """Parts of concatenated MO held until their message is whole (or given up)."""

    def add_inbound_part(self, part: InboundPart) -> Deferred[list[InboundPart]]:
        """Hold `part` (a copy of a part already held, same group and seq, is not held
        twice); every part of its group held now, by seq. ValueError for a seq outside
        1..total."""

    def complete_inbound(
        self, parts: Sequence[InboundPart], items: Sequence[NewOutboxItem]
    ) -> Deferred[list[OutboxItem] | None]:
        """In one transaction: let go of the held `parts` (by id) and queue `items`. None,
        and nothing written, unless every one of them is still held (another completion
        won)."""

    def held_inbound(
        self, received_before: float, limit: int
    ) -> Deferred[list[list[InboundPart]]]:
        """Up to `limit` groups, oldest first, each by seq, that are complete (a crash
        came between the last part and its completion) or whose first part arrived
        before `received_before`."""


class HttpStore(Store, PriceStore, ApiKeyStore, IdempotencyStore, Protocol):
    """Everything the HTTP API needs from a store."""


class OutcomeSink(Protocol):
    """Where connectors report what became of a message."""

    def message_final(
        self, message: Message, state: MessageState, error_code: int, done_at: float
    ) -> Deferred[None] | None:
        """`message` reached final `state`; the sink records it and queues its receipt.
        The Deferred (if any) fires once the final state is durable."""


class Connector(Protocol):
    """An upstream that delivers messages."""

    name: str

    def send(self, message: Message) -> None:
        """Take `message` for sending (connectors queue it; what becomes of it goes to the
        OutcomeSink). Raises if the connector cannot take it: the router tries again."""


class InboundRejected(Exception):
    """An inbound message the gateway refuses; `command_status` is what the connector
    answers upstream (e.g. ESME_RINVDSTADR when no account owns the destination)."""

    def __init__(self, command_status: int, reason: str) -> None:
        super().__init__(reason)
        self.command_status = command_status


class InboundSink(Protocol):
    """Where connectors hand mobile-originated messages (the MO path)."""

    def message_received(self, message: InboundMessage) -> Deferred[str]:
        """Fires with the id the MO got once it is durable (rule 3): only then may the
        connector acknowledge it upstream. Fails with InboundRejected for one to refuse."""


# --- upstream connectors, routes and receipt correlation (issue 5) ----------------------------

class ConnectorExists(Exception):
    """add_connector for a name that is already taken."""


class UnknownConnector(Exception):
    """An operation named a connector the store does not hold."""


@dataclass(frozen=True, kw_only=True)
class UpstreamRecord:
    """What the store knows of a message handed to an upstream SMPP connector.

    status 'submitting': a submit_sm was (about to be) sent and no answer was recorded,
    so the upstream may or may not have it; 'submitted': answered ESME_ROK with
    `upstream_id`; 'refused': refunded after a permanent refusal."""

    message_id: str
    connector: str
    status: str
    upstream_id: str = ""
    attempts: int = 0


class UpstreamStore(Protocol):
    """The store operations of upstream connectors and routing. Settings changes bump
    `Store.settings_version`, so running gateways reload connectors and routes."""

    def add_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        """Fails with ConnectorExists."""

    def update_connector(self, settings: ConnectorSettings) -> Deferred[None]:
        """Fails with UnknownConnector."""

    def remove_connector(self, name: str) -> Deferred[None]:
        """Fails with UnknownConnector."""

    def list_connectors(self) -> Deferred[list[ConnectorSettings]]: ...

    def get_connector(self, name: str) -> Deferred[ConnectorSettings | None]: ...

    def add_route(self, route: Route) -> Deferred[int]:
        """Store `route` (its id is ignored) and return the id it got."""

    def remove_route(self, route_id: int) -> Deferred[bool]: ...

    def list_routes(self) -> Deferred[list[Route]]: ...

    def mark_submitting(self, message_id: str, connector: str, at: float) -> Deferred[None]:
        """Durably note that a submit_sm for the message is about to leave (rule 3 for the
        way out: after a crash or a lost answer we know the outcome is unknown)."""

    def record_submitted(self, message_id: str, connector: str, upstream_id: str,
                         keys: Sequence[str], at: float) -> Deferred[None]:
        """The upstream accepted the message as `upstream_id`; `keys` (upstream_ids.id_keys)
        find it again from a receipt."""

    def mark_submitting_each(self, calls: Sequence[tuple[str, str, float]]
                             ) -> Deferred[list[tuple[bool, Any]]]:
        """`mark_submitting(*call)` for each call, in order (the submits of one pump run):
        one Deferred for all, firing with each one's (True, None) or (False, exception)."""

    def record_submitted_each(
        self, calls: Sequence[tuple[str, str, str, Sequence[str], float]]
    ) -> Deferred[list[tuple[bool, Any]]]:
        """`record_submitted(*call)` for each call, in order (the answers of one read)."""

    def release_submit(self, message_id: str) -> Deferred[None]:
        """The upstream refused the submit: the message was never accepted upstream."""

    def find_by_upstream_id(self, connector: str,
                            keys: Sequence[str]) -> Deferred[Message | None]:
        """The message a receipt from `connector` with these id keys is about."""

    def upstream_records(self, message_ids: Sequence[str]) -> Deferred[dict[str, UpstreamRecord]]:
        ...

    def refund(self, message_id: str) -> Deferred[Decimal | None]:
        """Credit the message's price back once; the amount, or None if already refunded."""

    def write_health(self, snapshots: dict[str, dict], at: float) -> Deferred[None]: ...

    def read_health(self) -> Deferred[dict[str, tuple[dict, float]]]: ...


# --- several nodes on one store (issue 10) -------------------------------------------------

class StoreListener(Protocol):
    """What a node does when the store tells it of other nodes' work (store.watch)."""

    def outbox_queued(self, account: str) -> None:
        """Unclaimed SMPP items of `account` were queued or let go."""

    def webhooks_queued(self) -> None:
        """Unclaimed webhook items are due."""

    def settings_changed(self) -> None: ...

    def reconnected(self) -> None:
        """The store's connection was lost and is back: claims may not match memory."""


class NodeIdTaken(Exception):
    """join_cluster for a node_id a live node holds."""

    def __init__(self, node_id: int) -> None:
        super().__init__(f"node_id {node_id} is held by a running node")
        self.node_id = node_id


class ClusterStore(Protocol):
    """Nodes sharing one store. Each run of a gateway process is an *owner* (an
    incarnation: a number never reused) of the node_id it was started with. What a node
    works on is marked with its owner: the messages it accepted and dispatches, the outbox
    and webhook items it claimed, its binds. When an owner is gone (a crash, a stop, a
    heartbeat older than the lease) a live node takes its work over: see core/cluster.py.
    Times are the nodes' clocks, which must agree to well within the lease (NTP)."""

    def join_cluster(self, node_id: int, now: float) -> Deferred[int]:
        """Register a new owner for `node_id` and return it. Fails with NodeIdTaken while
        a live process holds `node_id` (the backend can tell a crashed one at once)."""

    def heartbeat(self, owner: int, now: float) -> Deferred[bool]:
        """Prove `owner` alive; False when it was taken over (it must stop working)."""

    def claim_dead_owner(self, owner: int, now: float,
                         lease: float | None) -> Deferred[int | None]:
        """One owner whose work `owner` must take over: one it claimed before and has not
        retired yet, else one that is gone (it left, or it is an earlier run of `owner`'s
        node_id, or, unless `lease` is None, its heartbeat is older than `lease` seconds),
        now claimed. In the same transaction the gone owner's outbox and webhook claims are
        released and its binds dropped; the caller then adopts its messages
        (`adopt_messages`) and retires it. None when there is none."""

    def adopt_messages(self, from_owner: int, to_owner: int, limit: int
                       ) -> Deferred[list[Message]]:
        """Move up to `limit` unfinished messages of `from_owner` to `to_owner`, lowest ids
        first, and return them as stored: the adopter dispatches them."""

    def retire_owner(self, owner: int) -> Deferred[None]:
        """Forget an owner taken over whose messages are all adopted."""

    def leave_cluster(self, owner: int) -> Deferred[None]:
        """A clean stop: `owner` is gone at once (its binds dropped, its claims released),
        its unfinished messages wait for a live node to adopt them."""

    def release_claims(self, owner: int) -> Deferred[None]:
        """Let go of every outbox and webhook item `owner` claimed (after a lost connection
        to the store, when what this node holds in memory may no longer match)."""

    def add_bind(self, owner: int, bind_id: int, account: str, kind: str, max_binds: int,
                 now: float) -> Deferred[bool]:
        """Count a bind of `account` over the whole cluster; False, and nothing written,
        when `account` already has `max_binds` binds."""

    def remove_bind(self, owner: int, bind_id: int) -> Deferred[None]: ...

    def count_binds(self, account: str) -> Deferred[int]:
        """Binds of `account` over the whole cluster."""
# --- operators: CDRs, readiness, queue depths, message search (issue 11) ----------------------

CdrCursor = tuple[float, str]  # (done_at, id) of the last CDR of the previous page


class CdrStore(Protocol):
    """Call detail records: messages in a final state, by the time they became final."""

    def cdrs(self, since: float, until: float, account: str | None,
             after: CdrCursor | None, limit: int) -> Deferred[list[Cdr]]:
        """Up to `limit` CDRs with since <= done_at < until (of `account`, or of every
        account), ordered by (done_at, id), each after the cursor `after` when given: the
        (done_at, id) of the last CDR of the previous page. Pages never repeat or skip a
        CDR, however many share a done_at."""


class OpsStore(Protocol):
    """What readiness checks and the console ask of the store."""

    def ping(self) -> Deferred[None]:
        """Fires once the store took a write transaction (and let it go): it can commit."""

    def queue_depths(self) -> Deferred[dict[str, int]]:
        """{"unfinished": accepted messages not final yet, "receipts_pending": SMPP outbox
        items (receipts and MO waiting for a bind), "webhooks_pending": live webhook outbox
        items, "webhooks_dead": dead letters}."""

    def find_messages(self, number: str, since: float, limit: int) -> Deferred[list[Message]]:
        """Up to `limit` messages from or to `number` (exactly as stored) submitted at or
        after `since`, newest first."""
