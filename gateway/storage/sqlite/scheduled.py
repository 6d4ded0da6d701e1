"""The SQL of operations on messages still SCHEDULED: start at their time, cancel_sm (with
refund) and replace_sm (with the price difference). Each function takes a cursor and runs
inside a transaction its caller owns, so every one is atomic: the state
change, the balance change and the receipt commit together or not at all.
"""
from __future__ import annotations

import dataclasses
import sqlite3

from gateway.core.ports import Cancelled, ReceiptFor, ReplaceOutcome
from gateway.model import Message, MessageState
from gateway.storage.money import to_micro
from gateway.storage.sqlite.messages import (
    CREDIT,
    DEBIT,
    MESSAGE_COLUMNS,
    SELECT_MESSAGE,
    message_from_row,
)
from gateway.storage.sqlite.outbox import outbox_rows, queue_rows

__all__ = ["cancel", "cancel_matching", "replace", "scheduled_messages", "start_scheduled"]

_SCHEDULED = int(MessageState.SCHEDULED)
_ENROUTE = int(MessageState.ENROUTE)
_DELETED = int(MessageState.DELETED)

_START = (
    f"UPDATE messages SET state = {_ENROUTE} WHERE id = ? AND state = {_SCHEDULED}"
    f" AND (scheduled_at IS NULL OR scheduled_at <= ?) RETURNING {MESSAGE_COLUMNS}"
)
_SELECT_SCHEDULED = f"{SELECT_MESSAGE} WHERE id = ? AND account = ? AND state = {_SCHEDULED}"
# `state <= 1` lets SQLite walk the small partial index of unfinished messages.
_SELECT_MATCHING = (
    f"{SELECT_MESSAGE} WHERE state <= 1 AND state = {_SCHEDULED} AND account = ?"
    " AND source_addr = ? AND destination_addr = ?"
)
_DELETE = (
    f"UPDATE messages SET state = {_DELETED}, done_at = ? WHERE id = ? AND state = {_SCHEDULED}"
)
_REPLACE = (
    "UPDATE messages SET body = ?, registered_delivery = ?, parts = ?, price = ?,"
    f" scheduled_at = ?, expires_at = ? WHERE id = ? AND state = {_SCHEDULED}"
)


# The partial index messages_scheduled (owner, scheduled_at, length(id), id), in order.
_SCHEDULED_FIRST = (f"{SELECT_MESSAGE} WHERE state = {_SCHEDULED} AND owner = ?"
                    " ORDER BY scheduled_at, length(id), id LIMIT ?")
_SCHEDULED_AFTER = (f"{SELECT_MESSAGE} WHERE state = {_SCHEDULED} AND owner = ?"
                    " AND (scheduled_at, length(id), id) > (?, ?, ?)"
                    " ORDER BY scheduled_at, length(id), id LIMIT ?")


def scheduled_messages(cur: sqlite3.Cursor, owner: int, after: tuple[float, str] | None,
                       limit: int) -> list[Message]:
    if limit <= 0:
        return []
    if after is None:
        rows = cur.execute(_SCHEDULED_FIRST, (owner, limit))
    else:
        due, message_id = after
        rows = cur.execute(_SCHEDULED_AFTER, (owner, due, len(message_id), message_id, limit))
    return [message_from_row(r) for r in rows]


def start_scheduled(cur: sqlite3.Cursor, message_id: str, due: float) -> Message | None:
    row = cur.execute(_START, (message_id, due)).fetchone()
    return None if row is None else message_from_row(row)


def cancel(
    cur: sqlite3.Cursor, account: str, message_id: str, done_at: float, receipt: ReceiptFor
) -> Cancelled | None:
    row = cur.execute(_SELECT_SCHEDULED, (message_id, account)).fetchone()
    return None if row is None else _delete(cur, message_from_row(row), done_at, receipt)


def cancel_matching(
    cur: sqlite3.Cursor, account: str, source_addr: str, destination_addr: str,
    done_at: float, receipt: ReceiptFor,
) -> list[Cancelled]:
    rows = cur.execute(_SELECT_MATCHING, (account, source_addr, destination_addr)).fetchall()
    messages = sorted((message_from_row(r) for r in rows), key=lambda m: (len(m.id), m.id))
    return [_delete(cur, m, done_at, receipt) for m in messages]


def _delete(cur: sqlite3.Cursor, message: Message, done_at: float, receipt: ReceiptFor
            ) -> Cancelled:
    # first: a failing builder (or a bad item) must leave nothing written
    rows = outbox_rows(receipt(message))
    cur.execute(_DELETE, (done_at, message.id))
    cur.execute(CREDIT, (to_micro(message.price), message.account))
    items = queue_rows(cur, rows)
    deleted = dataclasses.replace(message, state=MessageState.DELETED, done_at=done_at)
    return deleted, items


def replace(cur: sqlite3.Cursor, account: str, message: Message) -> ReplaceOutcome:
    row = cur.execute(
        f"SELECT price FROM messages WHERE id = ? AND account = ? AND state = {_SCHEDULED}",
        (message.id, account)).fetchone()
    if row is None:
        return ReplaceOutcome.NOT_REPLACEABLE
    new_price = to_micro(message.price)
    if new_price < 0:
        raise ValueError(f"negative price {message.price}")
    delta = new_price - row[0]
    if delta > 0:
        cur.execute(DEBIT, (delta, account))
        if cur.rowcount == 0:
            return ReplaceOutcome.NO_BALANCE
    elif delta < 0:
        cur.execute(CREDIT, (-delta, account))
    cur.execute(_REPLACE, (
        message.body, message.registered_delivery, message.parts, new_price,
        message.scheduled_at, message.expires_at, message.id))
    return ReplaceOutcome.REPLACED
