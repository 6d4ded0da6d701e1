"""The SQL of the two outbox tables on PostgreSQL: what is waiting to reach an account.

Each fan-out leg of an event is one item (see core/fanout.py): SMPP items in `outbox`,
WEBHOOK items in `webhook_outbox` (their delivery state: webhooks.py). An item claimed by
an owner (claimed_by) is being pushed by that gateway process; an unclaimed one is for
whichever node claims it, and queueing one notifies the nodes (channels smsgw_outbox,
with the account, and smsgw_webhooks). Claims skip rows another transaction is claiming
(FOR UPDATE SKIP LOCKED): two nodes never take one item, and never wait for each other.
"""
from __future__ import annotations

from collections.abc import Sequence

import psycopg

from gateway.model import Address, Channel, DeliveryKind, NewOutboxItem, OutboxItem
from gateway.storage.postgres.rows import unnest_insert
from gateway.storage.records import smpp_item_as_stored, smpp_outbox_row, webhook_item_as_stored, webhook_outbox_row

__all__ = [
    "ack_outbox", "ack_outbox_many", "claim_outbox", "expire_outbox", "outbox_rows",
    "pending_outbox", "queue_outbox", "queue_outbox_many", "queue_rows", "release_outbox",
    "release_outbox_many",
]

_SMPP = Channel.SMPP
_WEBHOOK = Channel.WEBHOOK

OUTBOX_COLUMNS = (
    "account, kind, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, body, esm_class, data_coding, message_id, message_state,"
    " network_error_code, created_at, claimed_by"
)
_OUTBOX_TYPES = ("text", "text", "smallint", "smallint", "text", "smallint", "smallint",
                 "text", "bytea", "smallint", "smallint", "text", "smallint", "bytea",
                 "float8", "bigint")
_WEBHOOK_COLUMNS = (
    "account, kind, message_id, url, event_id, payload, created_at, next_attempt_at,"
    " claimed_by"
)
_WEBHOOK_TYPES = ("text", "text", "text", "text", "text", "text", "float8", "float8", "bigint")


QueueRows = tuple[Sequence[NewOutboxItem], list[tuple], list[tuple]]


def outbox_rows(items: Sequence[NewOutboxItem]) -> QueueRows:
    """The rows `queue_rows` writes for `items`; ValueError for an item no table takes."""
    smpp, webhook = [], []
    for o in items:
        if o.channel is _SMPP:
            smpp.append(smpp_outbox_row(o))
        elif o.channel is _WEBHOOK:
            webhook.append(webhook_outbox_row(o))
        else:
            raise ValueError(f"no outbox for channel {o.channel!r}")
    return items, smpp, webhook


def queue_rows(cur: psycopg.Cursor, rows: QueueRows) -> list[OutboxItem]:
    """Insert what `outbox_rows` built; the stored items, in the order of the items."""
    items, smpp, webhook = rows
    if not items:
        return []
    smpp_ids = [r[0] for r in unnest_insert(cur, "outbox", OUTBOX_COLUMNS, _OUTBOX_TYPES,
                                            smpp, "id")]
    webhook_ids = [r[0] for r in unnest_insert(cur, "webhook_outbox", _WEBHOOK_COLUMNS,
                                               _WEBHOOK_TYPES, webhook, "id")]
    smpp_ids.sort()
    webhook_ids.sort()
    waiting = sorted({r[0] for r in smpp if r[15] is None})
    if waiting:
        cur.execute("SELECT pg_notify('smsgw_outbox', a) FROM unnest(%s::text[]) AS a",
                    (waiting,))
    if any(r[8] is None for r in webhook):
        cur.execute("SELECT pg_notify('smsgw_webhooks', '')")
    smpp_next, webhook_next = iter(smpp_ids), iter(webhook_ids)
    queued = []
    for o in items:
        if o.channel is _SMPP:
            queued.append(smpp_item_as_stored(o, next(smpp_next)))
        else:
            queued.append(webhook_item_as_stored(o, next(webhook_next)))
    return queued


def queue_outbox(cur: psycopg.Cursor, items: Sequence[NewOutboxItem]) -> list[OutboxItem]:
    return queue_rows(cur, outbox_rows(items))


def queue_outbox_many(cur: psycopg.Cursor,
                      calls: list[tuple[Sequence[NewOutboxItem]]]) -> list[list[OutboxItem]]:
    queued = queue_outbox(cur, [o for items, in calls for o in items])
    results, start = [], 0
    for items, in calls:
        results.append(queued[start:start + len(items)])
        start += len(items)
    return results


# --- the SMPP leg --------------------------------------------------------------------------

def _outbox_item(r: tuple) -> OutboxItem:
    return OutboxItem(
        id=r[0], account=r[1], kind=DeliveryKind(r[2]),
        source=Address(ton=r[3], npi=r[4], addr=r[5]),
        destination=Address(ton=r[6], npi=r[7], addr=r[8]),
        body=bytes(r[9]), esm_class=r[10], data_coding=r[11], message_id=r[12],
        message_state=r[13], network_error_code=None if r[14] is None else bytes(r[14]),
        created_at=r[15], claimed_by=r[16])


_CLAIM = (
    f"UPDATE outbox SET claimed_by = %s WHERE id IN (SELECT id FROM outbox"
    " WHERE account = %s AND claimed_by IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
    f" RETURNING id, {OUTBOX_COLUMNS}"
)


def claim_outbox(cur: psycopg.Cursor, account: str, owner: int, limit: int) -> list[OutboxItem]:
    if limit <= 0:
        return []
    rows = cur.execute(_CLAIM, (owner, account, limit)).fetchall()
    return sorted((_outbox_item(r) for r in rows), key=lambda item: item.id)


def pending_outbox(cur: psycopg.Cursor, account: str, after_id: int,
                   limit: int) -> list[OutboxItem]:
    if limit <= 0:
        return []
    rows = cur.execute(f"SELECT id, {OUTBOX_COLUMNS} FROM outbox WHERE account = %s"
                       " AND id > %s ORDER BY id LIMIT %s", (account, after_id, limit))
    return [_outbox_item(r) for r in rows]


def _ids(item_ids: Sequence[int]) -> list[int]:
    return [int(item_id) for item_id in item_ids]


def release_outbox(cur: psycopg.Cursor, item_ids: Sequence[int]) -> None:
    rows = cur.execute("UPDATE outbox SET claimed_by = NULL WHERE id = ANY(%s)"
                       " AND claimed_by IS NOT NULL RETURNING account",
                       (_ids(item_ids),)).fetchall()
    accounts = sorted({r[0] for r in rows})
    if accounts:  # claimable again: other nodes with a bind of these accounts may take them
        cur.execute("SELECT pg_notify('smsgw_outbox', a) FROM unnest(%s::text[]) AS a",
                    (accounts,))


def release_outbox_many(cur: psycopg.Cursor, calls: list[tuple[Sequence[int]]]) -> list[None]:
    release_outbox(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


def ack_outbox(cur: psycopg.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute("DELETE FROM outbox WHERE id = ANY(%s)", (_ids(item_ids),))


def ack_outbox_many(cur: psycopg.Cursor, calls: list[tuple[Sequence[int]]]) -> list[None]:
    ack_outbox(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


def expire_outbox(cur: psycopg.Cursor, created_before: float) -> int:
    cur.execute("DELETE FROM outbox WHERE created_at < %s", (created_before,))
    return cur.rowcount
