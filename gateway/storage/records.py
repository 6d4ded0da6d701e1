"""Rows to records and back, for both backends: what a row of each table holds, in the
order the backends' SELECTs and INSERTs list their columns (sqlite/ and postgres/ keep
their SQL; the mapping is the same for both)."""
from __future__ import annotations

import json
from functools import lru_cache

from gateway.core.apikeys import ApiKey
from gateway.model import (
    NO_ADDRESS, Account, Address, Cdr, Channel, DeliverVia, DeliveryKind, InboundPart, Message,
    MessageState, NewOutboxItem, OutboxItem)
from gateway.smpp.frozen_init import fast_replace
from gateway.storage.money import from_micro, to_micro

__all__ = [
    "account_from_row", "api_key_from_row", "cdr_from_row", "id_key",
    "inbound_part_row", "message_from_row", "message_row", "smpp_item_as_stored",
    "smpp_outbox_row", "webhook_item_as_stored", "webhook_item_from_row",
    "webhook_outbox_row",
]

_WEBHOOK = Channel.WEBHOOK
_KINDS = {kind.value: kind for kind in DeliveryKind}
_STATES = {int(s): s for s in MessageState}
# a CDR export maps millions of rows: prices repeat, and a dict beats calling the enum
_price = lru_cache(maxsize=4096)(from_micro)


def id_key(message_id: str) -> tuple[int, str]:
    """Message ids ordered as numbers (shorter is smaller), compared as text."""
    return len(message_id), message_id


def account_from_row(row: tuple) -> Account:
    return Account(
        system_id=row[0],
        password_hash=row[1],
        balance=from_micro(row[2]),
        max_binds=row[3],
        throughput=row[4],
        window=row[5],
        allow_ips=tuple(json.loads(row[6])),
        enabled=bool(row[7]),
        webhook_url=row[8],
        webhook_secret=row[9],
        deliver_via=DeliverVia(row[10]),
    )


def api_key_from_row(row: tuple) -> ApiKey:
    return ApiKey(id=row[0], account=row[1], prefix=row[2], label=row[3], created_at=row[4],
                  revoked_at=row[5])


def message_row(m: Message) -> tuple:
    s, d = m.source, m.destination
    return (
        m.id, m.account, s.ton, s.npi, s.addr, d.ton, d.npi, d.addr, m.body, m.data_coding,
        m.esm_class, m.protocol_id, m.priority, m.registered_delivery, m.parts,
        to_micro(m.price), int(m.state), m.error_code, m.submitted_at, m.done_at,
        m.scheduled_at, m.expires_at, m.connector, m.callback_url, m.client_ref, m.owner,
        m.transport,
    )


def message_from_row(r: tuple) -> Message:
    return Message(
        id=r[0], account=r[1],
        source=Address(ton=r[2], npi=r[3], addr=r[4]),
        destination=Address(ton=r[5], npi=r[6], addr=r[7]),
        # bytes(): PostgreSQL's bytea comes back as a memoryview (a no-op on SQLite's bytes)
        body=bytes(r[8]), data_coding=r[9], esm_class=r[10], protocol_id=r[11],
        priority=r[12], registered_delivery=r[13], parts=r[14], price=from_micro(r[15]),
        state=MessageState(r[16]), error_code=r[17], submitted_at=r[18], done_at=r[19],
        scheduled_at=r[20], expires_at=r[21], connector=r[22], callback_url=r[23],
        client_ref=r[24], owner=r[25], transport=r[26],
    )


def smpp_outbox_row(o: NewOutboxItem) -> tuple:
    s, d = o.source, o.destination
    return (
        o.account, o.kind.value, s.ton, s.npi, s.addr, d.ton, d.npi, d.addr, o.body,
        o.esm_class, o.data_coding, o.message_id, o.message_state, o.network_error_code,
        o.created_at, o.claimed_by,
    )


def webhook_outbox_row(o: NewOutboxItem) -> tuple:
    if not o.url or not o.event_id:
        raise ValueError(f"a webhook item needs a url and an event_id: {o!r}")
    # a new item is due at once: its first attempt is when it was made
    return (o.account, o.kind.value, o.message_id, o.url, o.event_id, o.payload,
            o.created_at, o.created_at, o.claimed_by)


def smpp_item_as_stored(o: NewOutboxItem, item_id: int) -> OutboxItem:
    """The SMPP item `o` stored as `item_id`, as pending_outbox reads it back."""
    return _stored_smpp_item(
        _BLANK_SMPP_ITEM, item_id, o.account, o.kind, o.source, o.destination, o.body,
        o.esm_class, o.data_coding, o.message_id, o.message_state, o.network_error_code,
        o.created_at, o.claimed_by)


# One per receipt, on the store's writer thread (which bounds batched sends, see
# bench/profiles/http_api.md): a copy of a blank item with the stored fields replaced
# costs less than 13 keywords to the constructor.
_BLANK_SMPP_ITEM = OutboxItem(id=0, account="", kind=DeliveryKind.RECEIPT, source=NO_ADDRESS,
                              destination=NO_ADDRESS, body=b"")
_stored_smpp_item = fast_replace(
    OutboxItem, "id", "account", "kind", "source", "destination", "body", "esm_class",
    "data_coding", "message_id", "message_state", "network_error_code", "created_at",
    "claimed_by")


def webhook_item_as_stored(o: NewOutboxItem, item_id: int) -> OutboxItem:
    """The webhook item `o` stored as `item_id`, as claim_webhooks reads it back: the
    payload carries everything else."""
    return OutboxItem(
        id=item_id, account=o.account, kind=o.kind, source=NO_ADDRESS,
        destination=NO_ADDRESS, body=b"", message_id=o.message_id, created_at=o.created_at,
        channel=_WEBHOOK, url=o.url, event_id=o.event_id, payload=o.payload,
        next_attempt_at=o.created_at, claimed_by=o.claimed_by,
    )


def webhook_item_from_row(r: tuple) -> OutboxItem:
    return OutboxItem(
        id=r[0], account=r[1], kind=_KINDS[r[2]], source=NO_ADDRESS, destination=NO_ADDRESS,
        body=b"", message_id=r[3], created_at=r[7], channel=_WEBHOOK, url=r[4],
        event_id=r[5], payload=r[6], attempts=r[8], next_attempt_at=r[9], last_error=r[10],
        dead_at=r[11], claimed_by=r[12],
    )


def inbound_part_row(p: InboundPart) -> tuple:
    if not 1 <= p.seq <= p.total:
        raise ValueError(f"part {p.seq} of {p.total}: seq must be 1 to total")
    s, d = p.source, p.destination
    return (p.id, s.ton, s.npi, s.addr, d.ton, d.npi, d.addr, p.ref, p.total,
            p.seq, p.body, p.data_coding, p.connector, p.received_at)


def cdr_from_row(r: tuple) -> Cdr:
    return Cdr(id=r[0], account=r[1], transport=r[2], source=r[3], destination=r[4],
               parts=r[5], data_coding=r[6], price=_price(r[7]), connector=r[8],
               upstream_id=r[9], submitted_at=r[10], done_at=r[11], state=_STATES[r[12]],
               error_code=r[13])
