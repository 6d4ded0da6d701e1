"""The SQL of messages: the accept (debit and insert in one transaction), the final state
with its receipt's outbox items, lookups, and the adoption of another owner's unfinished
messages. Plain functions on a cursor inside a transaction their caller owns.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal

from gateway.core.ports import UnknownAccount
from gateway.model import FINAL_STATES, Message, MessageState, NewOutboxItem, OutboxItem
from gateway.storage.money import to_micro
from gateway.storage.records import id_key, message_from_row, message_row
from gateway.storage.sqlite.outbox import outbox_rows, queue_rows
from gateway.storage.sqlite.rows import execute_rows, placeholders

MESSAGE_COLUMNS = (
    "id, account, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, body, data_coding, esm_class, protocol_id, priority,"
    " registered_delivery, parts, price, state, error_code, submitted_at, done_at,"
    " scheduled_at, expires_at, connector, callback_url, client_ref, owner, transport"
)
_INSERT_MESSAGES = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES {{rows}}"
_MESSAGE_PLACEHOLDERS = placeholders(27)
SELECT_MESSAGE = f"SELECT {MESSAGE_COLUMNS} FROM messages"
DEBIT = "UPDATE accounts SET balance = balance - ?1 WHERE system_id = ?2 AND balance >= ?1"
# Ids compare as numbers of any width: by length first, then as text.
_RAISE_LAST_ID = (
    "UPDATE meta SET last_message_id = ?1 WHERE id = 1 AND (last_message_id IS NULL"
    " OR length(last_message_id) < length(?1)"
    " OR (length(last_message_id) = length(?1) AND last_message_id < ?1))"
)
_FINISH = (
    "UPDATE messages SET state = ?, error_code = ?, done_at = ? WHERE id = ? AND state <= 1"
)
# Of the ids (a JSON array), those whose messages are not final yet, as one JSON array (one
# row: one sqlite3_step, see rows.py).
_UNFINISHED_AMONG = (
    "SELECT json_group_array(id) FROM messages"
    " WHERE id IN (SELECT value FROM json_each(?)) AND state <= 1"
)
_FINISH_ROWS = (
    "WITH v (id, state, error_code, done_at) AS (VALUES {rows})"
    " UPDATE messages SET state = v.state, error_code = v.error_code, done_at = v.done_at"
    " FROM v WHERE messages.id = v.id AND messages.state <= 1"
)


def accept(cur: sqlite3.Cursor, account: str, messages: Sequence[Message], cost: Decimal) -> bool:
    """Debit `cost` and insert `messages`, or write nothing and return False.

    The caller must run this in a transaction (or savepoint) it rolls back on an exception,
    so a failing insert (duplicate id) also undoes the debit.
    """
    micro = to_micro(cost)
    if micro < 0:
        raise ValueError(f"negative cost {cost}")
    rows = [message_row(m) for m in messages]  # bad values fail before anything is written
    cur.execute(DEBIT, (micro, account))
    if cur.rowcount == 0:
        if cur.execute("SELECT 1 FROM accounts WHERE system_id = ?", (account,)).fetchone():
            return False
        raise UnknownAccount(account)
    # a batch's rows in a few multi-row statements, not one statement (and one GIL
    # hand-off, see rows.py) per row
    execute_rows(cur, _INSERT_MESSAGES, _MESSAGE_PLACEHOLDERS, rows)
    if rows:
        cur.execute(_RAISE_LAST_ID, (max((r[0] for r in rows), key=id_key),))
    return True


class OneByOne(Exception):
    """A `*_many` function cannot do the whole run at once (and has written nothing): run
    each call alone."""


def accept_many(
    cur: sqlite3.Cursor, calls: list[tuple[str, Sequence[Message], Decimal]]
) -> list[bool]:
    """`accept` for each call, when every one of them succeeds: one debit per account for
    the run's total (enough balance for the total means enough for each in turn) and
    multi-row inserts. Raises otherwise (see ops.Op.many): before writing when the
    run has one account, the usual case, as a refused debit writes nothing."""
    debits: dict[str, int] = {}
    rows = []
    for account, messages, cost in calls:
        micro = to_micro(cost)
        if micro < 0:
            raise OneByOne("negative cost")
        debits[account] = debits.get(account, 0) + micro
        rows += [message_row(m) for m in messages]
    for account, micro in debits.items():
        cur.execute(DEBIT, (micro, account))
        if cur.rowcount == 0:
            raise OneByOne(f"{account}: balance short of the run's total, or unknown")
    execute_rows(cur, _INSERT_MESSAGES, _MESSAGE_PLACEHOLDERS, rows)
    if rows:
        cur.execute(_RAISE_LAST_ID, (max((r[0] for r in rows), key=id_key),))
    return [True] * len(calls)


def get_message(cur: sqlite3.Cursor, message_id: str) -> Message | None:
    row = cur.execute(f"{SELECT_MESSAGE} WHERE id = ?", (message_id,)).fetchone()
    return None if row is None else message_from_row(row)


def finish(
    cur: sqlite3.Cursor,
    message_id: str,
    state: MessageState,
    error_code: int,
    done_at: float,
    outbox: Sequence[NewOutboxItem],
) -> list[OutboxItem]:
    """Make a message final and queue `outbox` (its receipt's legs, any channel); [] and
    nothing written if it already was final (or is unknown)."""
    state = MessageState(state)
    if not state.is_final:
        raise ValueError(f"finish() needs a final state, not {state.name}")
    rows = outbox_rows(outbox)  # a bad item fails before anything is written
    cur.execute(_FINISH, (int(state), error_code, done_at, message_id))
    if cur.rowcount == 0:
        return []
    return queue_rows(cur, rows)


def finish_many(cur: sqlite3.Cursor, calls: list[tuple]) -> list[list[OutboxItem]]:
    """`finish` for each call, in order: one query, then a multi-row update and one
    multi-row insert per outbox table for the whole run (see outbox.queue_rows)."""
    for call in calls:
        if call[1] not in FINAL_STATES:
            raise OneByOne("not a final state")
    ids = json.dumps([call[0] for call in calls])
    unfinished = set(json.loads(cur.execute(_UNFINISHED_AMONG, (ids,)).fetchone()[0]))
    updates: list[tuple] = []
    queued: list[tuple[int, int]] = []  # (index of the call, how many items it queues)
    items: list[NewOutboxItem] = []
    for index, (message_id, state, error_code, done_at, outbox) in enumerate(calls):
        if message_id not in unfinished:
            continue  # already final (or unknown): finish() writes nothing
        unfinished.discard(message_id)  # a second finish of it in this run finds it final
        updates.append((message_id, int(state), error_code, done_at))
        if outbox:
            queued.append((index, len(outbox)))
            items += outbox
    rows = outbox_rows(items)  # a bad item declines the run before anything is written
    execute_rows(cur, _FINISH_ROWS, "(?, ?, ?, ?)", updates)
    stored = queue_rows(cur, rows)
    results: list[list[OutboxItem]] = [[] for _ in calls]
    start = 0
    for index, count in queued:
        results[index] = stored[start:start + count]
        start += count
    return results


def last_message_id(cur: sqlite3.Cursor) -> str | None:
    return cur.execute("SELECT last_message_id FROM meta WHERE id = 1").fetchone()[0]


_SUPERSEDED = (
    f"{SELECT_MESSAGE} WHERE state <= 1 AND state = {int(MessageState.SCHEDULED)}"
    " AND account = ? AND source_addr = ? AND destination_addr = ?"
)
_SUPERSEDE = (
    f"UPDATE messages SET state = {int(MessageState.DELETED)}, done_at = ?"
    f" WHERE id = ? AND state = {int(MessageState.SCHEDULED)}"
)
CREDIT = "UPDATE accounts SET balance = balance + ? WHERE system_id = ?"


def accept_replacing(cur: sqlite3.Cursor, account: str, message: Message) -> list[Message] | None:
    """Delete and refund `account`'s SCHEDULED messages from message's source to its
    destination, then `accept` `message`; None with nothing written when the balance,
    refunds included, cannot cover it (the caller's transaction rolls back on a raise)."""
    rows = cur.execute(_SUPERSEDED, (account, message.source.addr,
                                     message.destination.addr)).fetchall()
    superseded = sorted((message_from_row(r) for r in rows), key=lambda m: id_key(m.id))
    refund = sum(to_micro(m.price) for m in superseded)
    price = to_micro(message.price)
    balance = cur.execute("SELECT balance FROM accounts WHERE system_id = ?",
                          (account,)).fetchone()
    if balance is None:
        raise UnknownAccount(account)
    if balance[0] + refund < price:
        return None
    done_at = message.submitted_at
    for old in superseded:
        cur.execute(_SUPERSEDE, (done_at, old.id))
    if refund:
        cur.execute(CREDIT, (refund, account))
    if not accept(cur, account, [message], message.price):
        raise RuntimeError("the balance checked above could not cover the debit")
    return [_deleted(m, done_at) for m in superseded]


def _deleted(message: Message, done_at: float) -> Message:
    return dataclasses.replace(message, state=MessageState.DELETED, done_at=done_at)


# Seeks the partial index messages_unfinished (owner, length(id), id).
_ADOPTABLE = (
    "SELECT id FROM messages WHERE owner = ? AND state <= 1 ORDER BY length(id), id LIMIT ?"
)
_ADOPT = (
    f"UPDATE messages SET owner = ? WHERE id IN (SELECT value FROM json_each(?))"
    f" AND owner = ? AND state <= 1 RETURNING {MESSAGE_COLUMNS}"
)


def adopt_messages(cur: sqlite3.Cursor, from_owner: int, to_owner: int,
                   limit: int) -> list[Message]:
    """Move up to `limit` unfinished messages of `from_owner` to `to_owner`, lowest first."""
    if limit <= 0:
        return []
    ids = [r[0] for r in cur.execute(_ADOPTABLE, (from_owner, limit))]
    if not ids:
        return []
    rows = cur.execute(_ADOPT, (to_owner, json.dumps(ids), from_owner)).fetchall()
    return sorted((message_from_row(r) for r in rows), key=lambda m: id_key(m.id))
