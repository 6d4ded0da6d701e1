"""The SQL of operations on messages still SCHEDULED, on PostgreSQL: start at their time,
cancel_sm (with refund) and replace_sm (with the price difference). Each runs inside a
transaction its caller owns, so the state change, the balance change and the receipt
commit together or not at all; the rows are locked, so two nodes cannot both start,
cancel or replace one message."""
from __future__ import annotations

import dataclasses

import psycopg

from gateway.core.ports import Cancelled, ReceiptFor, ReplaceOutcome
from gateway.model import Message, MessageState
from gateway.storage.money import to_micro
from gateway.storage.postgres.messages import (
    CREDIT,
    DEBIT,
    MESSAGE_COLUMNS,
    SELECT_MESSAGE,
    id_key,
    message_from_row,
)
from gateway.storage.postgres.outbox import outbox_rows, queue_rows

__all__ = ["cancel", "cancel_matching", "replace", "scheduled_messages", "start_scheduled"]

_SCHEDULED = int(MessageState.SCHEDULED)
_ENROUTE = int(MessageState.ENROUTE)
_DELETED = int(MessageState.DELETED)


# The partial index messages_due (owner, scheduled_at, length(id), id), in order.
_SCHEDULED_QUERY = (f"{SELECT_MESSAGE} WHERE state = {_SCHEDULED} AND owner = %s"
              " AND (scheduled_at, length(id), id) > (%s, %s, %s)"
              " ORDER BY scheduled_at, length(id), id LIMIT %s")


def scheduled_messages(cur: psycopg.Cursor, owner: int, after: tuple[float, str] | None,
                       limit: int) -> list[Message]:
    if limit <= 0:
        return []
    due, message_id = after if after is not None else (float("-inf"), "")
    rows = cur.execute(_SCHEDULED_QUERY, (owner, due, len(message_id), message_id, limit))
    return [message_from_row(r) for r in rows]


def start_scheduled(cur: psycopg.Cursor, message_id: str, due: float) -> Message | None:
    row = cur.execute(
        f"UPDATE messages SET state = {_ENROUTE} WHERE id = %s AND state = {_SCHEDULED}"
        f" AND (scheduled_at IS NULL OR scheduled_at <= %s) RETURNING {MESSAGE_COLUMNS}",
        (message_id, due)).fetchone()
    return None if row is None else message_from_row(row)


def cancel(cur: psycopg.Cursor, account: str, message_id: str, done_at: float,
           receipt: ReceiptFor) -> Cancelled | None:
    row = cur.execute(f"{SELECT_MESSAGE} WHERE id = %s AND account = %s"
                      f" AND state = {_SCHEDULED} FOR UPDATE", (message_id, account)).fetchone()
    return None if row is None else _delete(cur, message_from_row(row), done_at, receipt)


def cancel_matching(cur: psycopg.Cursor, account: str, source_addr: str,
                    destination_addr: str, done_at: float,
                    receipt: ReceiptFor) -> list[Cancelled]:
    rows = cur.execute(
        f"{SELECT_MESSAGE} WHERE state = {_SCHEDULED} AND account = %s AND source_addr = %s"
        " AND destination_addr = %s FOR UPDATE",
        (account, source_addr, destination_addr)).fetchall()
    messages = sorted((message_from_row(r) for r in rows), key=lambda m: id_key(m.id))
    return [_delete(cur, m, done_at, receipt) for m in messages]


def _delete(cur: psycopg.Cursor, message: Message, done_at: float,
            receipt: ReceiptFor) -> Cancelled:
    rows = outbox_rows(receipt(message))  # first: a failing builder leaves nothing written
    cur.execute(f"UPDATE messages SET state = {_DELETED}, done_at = %s"
                f" WHERE id = %s AND state = {_SCHEDULED}", (done_at, message.id))
    cur.execute(CREDIT, (to_micro(message.price), message.account))
    items = queue_rows(cur, rows)
    return dataclasses.replace(message, state=MessageState.DELETED, done_at=done_at), items


def replace(cur: psycopg.Cursor, account: str, message: Message) -> ReplaceOutcome:
    row = cur.execute(
        f"SELECT price FROM messages WHERE id = %s AND account = %s AND state = {_SCHEDULED}"
        " FOR UPDATE", (message.id, account)).fetchone()
    if row is None:
        return ReplaceOutcome.NOT_REPLACEABLE
    new_price = to_micro(message.price)
    if new_price < 0:
        raise ValueError(f"negative price {message.price}")
    delta = new_price - row[0]
    if delta > 0:
        cur.execute(DEBIT, {"cost": delta, "account": account})
        if cur.rowcount == 0:
            return ReplaceOutcome.NO_BALANCE
    elif delta < 0:
        cur.execute(CREDIT, (-delta, account))
    cur.execute(
        "UPDATE messages SET body = %s, registered_delivery = %s, parts = %s, price = %s,"
        f" scheduled_at = %s, expires_at = %s WHERE id = %s AND state = {_SCHEDULED}",
        (message.body, message.registered_delivery, message.parts, new_price,
         message.scheduled_at, message.expires_at, message.id))
    return ReplaceOutcome.REPLACED
