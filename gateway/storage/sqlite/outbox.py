"""The SQL of the two outbox tables: what is waiting to reach an account.

Each fan-out leg of an event is one item (see core/fanout.py). SMPP items wait in
`outbox` for a receiver bind of their account (pending_outbox, ack_outbox, expire_outbox
here); WEBHOOK items wait in `webhook_outbox` until their URL answers 2xx, with their
delivery state (webhooks.py). The tables number their items apart. An item claimed by an
owner (claimed_by) is being pushed by that gateway process; an unclaimed one waits for any.

`queue_items` writes any mix of items with one multi-row INSERT per table and numbers them
without reading anything back: both tables are AUTOINCREMENT, so each new row gets
max(every id ever used) + 1, and the caller's transaction holds the write lock, so the
rows one call inserts into a table got consecutive ids ending at `lastrowid`.
Every function takes a cursor and runs inside a transaction its caller owns.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from gateway.model import Address, Channel, DeliveryKind, NewOutboxItem, OutboxItem
from gateway.storage.records import smpp_item_as_stored, smpp_outbox_row, webhook_item_as_stored, webhook_outbox_row
from gateway.storage.sqlite.rows import execute_rows, placeholders

__all__ = [
    "ack_outbox", "ack_outbox_many", "claim_outbox", "expire_outbox", "outbox_rows",
    "pending_outbox",
    "queue_items", "queue_outbox", "queue_outbox_many", "queue_rows", "release_outbox",
    "release_outbox_many",
]

_SMPP = Channel.SMPP
_WEBHOOK = Channel.WEBHOOK

# --- writing either table ------------------------------------------------------------------

_OUTBOX_COLUMNS = (
    "account, kind, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, body, esm_class, data_coding, message_id, message_state,"
    " network_error_code, created_at, claimed_by"
)
_INSERT_OUTBOXES = f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES {{rows}}"
_OUTBOX_PLACEHOLDERS = placeholders(16)

_WEBHOOK_INSERT_COLUMNS = (
    "account, kind, message_id, url, event_id, payload, created_at, next_attempt_at,"
    " claimed_by"
)
_INSERT_WEBHOOKS = f"INSERT INTO webhook_outbox ({_WEBHOOK_INSERT_COLUMNS}) VALUES {{rows}}"
_WEBHOOK_PLACEHOLDERS = placeholders(9)


# (items, SMPP rows, WEBHOOK rows): rows are built before anything is written, so a bad
# item fails its operation without a write to undo.
QueueRows = tuple[Sequence[NewOutboxItem], list[tuple], list[tuple]]


def outbox_rows(items: Sequence[NewOutboxItem]) -> QueueRows:
    """The rows `queue_rows` writes for `items`; ValueError for an item no table takes."""
    smpp, webhook = [], []
    for o in items:
        channel = o.channel
        if channel is _SMPP:
            smpp.append(smpp_outbox_row(o))
        elif channel is _WEBHOOK:
            webhook.append(webhook_outbox_row(o))
        else:
            raise ValueError(f"no outbox for channel {channel!r}")
    return items, smpp, webhook


def queue_rows(cur: sqlite3.Cursor, rows: QueueRows) -> list[OutboxItem]:
    """Insert what `outbox_rows` built; the stored items, in the order of the items."""
    items, smpp, webhook = rows
    if not items:
        return []
    smpp_id = webhook_id = 0
    if smpp:
        execute_rows(cur, _INSERT_OUTBOXES, _OUTBOX_PLACEHOLDERS, smpp)
        smpp_id = cur.lastrowid - len(smpp) + 1  # consecutive: see the module docstring
    if webhook:
        execute_rows(cur, _INSERT_WEBHOOKS, _WEBHOOK_PLACEHOLDERS, webhook)
        webhook_id = cur.lastrowid - len(webhook) + 1
    queued = []
    for o in items:
        if o.channel is _SMPP:
            queued.append(smpp_item_as_stored(o, smpp_id))
            smpp_id += 1
        else:
            queued.append(webhook_item_as_stored(o, webhook_id))
            webhook_id += 1
    return queued


def queue_items(cur: sqlite3.Cursor, items: Sequence[NewOutboxItem]) -> list[OutboxItem]:
    """Queue `items` (any mix of channels); the stored items, in order."""
    return queue_rows(cur, outbox_rows(items))


def queue_outbox(cur: sqlite3.Cursor, items: Sequence[NewOutboxItem]) -> list[OutboxItem]:
    return queue_items(cur, items)


def queue_outbox_many(cur: sqlite3.Cursor,
                      calls: list[tuple[Sequence[NewOutboxItem]]]) -> list[list[OutboxItem]]:
    """`queue_outbox` for each call: the run's items in one insert per table."""
    queued = queue_items(cur, [o for items, in calls for o in items])
    results, start = [], 0
    for items, in calls:
        results.append(queued[start:start + len(items)])
        start += len(items)
    return results


# --- the SMPP leg --------------------------------------------------------------------------

# outbox_account (account, id) gives the order; claimed items are few (those on the wire).
_CLAIMABLE = "SELECT id FROM outbox WHERE account = ? AND claimed_by IS NULL ORDER BY id LIMIT ?"
_CLAIM = (
    f"UPDATE outbox SET claimed_by = ? WHERE id IN (SELECT value FROM json_each(?))"
    f" AND claimed_by IS NULL RETURNING id, {_OUTBOX_COLUMNS}"
)


def _outbox_item(r: tuple) -> OutboxItem:
    return OutboxItem(
        id=r[0], account=r[1], kind=DeliveryKind(r[2]),
        source=Address(ton=r[3], npi=r[4], addr=r[5]),
        destination=Address(ton=r[6], npi=r[7], addr=r[8]),
        body=r[9], esm_class=r[10], data_coding=r[11], message_id=r[12], message_state=r[13],
        network_error_code=r[14], created_at=r[15], claimed_by=r[16],
    )


def claim_outbox(cur: sqlite3.Cursor, account: str, owner: int, limit: int) -> list[OutboxItem]:
    """Claim up to `limit` unclaimed SMPP items of `account` for `owner`, oldest first."""
    if limit <= 0:
        return []
    ids = [r[0] for r in cur.execute(_CLAIMABLE, (account, limit))]
    if not ids:
        return []
    rows = cur.execute(_CLAIM, (owner, json.dumps(ids))).fetchall()
    return sorted((_outbox_item(r) for r in rows), key=lambda item: item.id)


_PENDING_OUTBOX = (
    f"SELECT id, {_OUTBOX_COLUMNS} FROM outbox WHERE account = ? AND id > ? ORDER BY id LIMIT ?"
)


def pending_outbox(cur: sqlite3.Cursor, account: str, after_id: int,
                   limit: int) -> list[OutboxItem]:
    if limit <= 0:
        return []
    return [_outbox_item(r) for r in cur.execute(_PENDING_OUTBOX, (account, after_id, limit))]


def _json_ids(item_ids: Sequence[int]) -> str:
    return json.dumps([int(item_id) for item_id in item_ids])


_RELEASE = "UPDATE outbox SET claimed_by = NULL WHERE id IN (SELECT value FROM json_each(?))"
_DELETE_OUTBOXES = "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))"


def release_outbox(cur: sqlite3.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute(_RELEASE, (_json_ids(item_ids),))


def release_outbox_many(cur: sqlite3.Cursor, calls: list[tuple[Sequence[int]]]) -> list[None]:
    release_outbox(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


def ack_outbox(cur: sqlite3.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute(_DELETE_OUTBOXES, (_json_ids(item_ids),))


def ack_outbox_many(cur: sqlite3.Cursor, calls: list[tuple[Sequence[int]]]) -> list[None]:
    ack_outbox(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


def expire_outbox(cur: sqlite3.Cursor, created_before: float) -> int:
    cur.execute("DELETE FROM outbox WHERE created_at < ?", (created_before,))
    return cur.rowcount
