"""The SQL of messages on PostgreSQL: the accept (debit and insert in one transaction), the
final state with its receipt's outbox items, lookups, supersede-and-accept, and the
adoption of another owner's unfinished messages. Plain functions on a cursor inside a
transaction their caller owns; runs of calls go to the `*_many` forms (one statement per
table: the rows as arrays, or a COPY: see rows.py).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal

import psycopg

from gateway.core.ports import UnknownAccount
from gateway.model import FINAL_STATES, Message, MessageState, NewOutboxItem, OutboxItem
from gateway.storage.money import to_micro
from gateway.storage.postgres.outbox import outbox_rows, queue_rows
from gateway.storage.postgres.rows import copy_rows
from gateway.storage.records import id_key, message_from_row, message_row

MESSAGE_COLUMNS = (
    "id, account, source_ton, source_npi, source_addr, destination_ton, destination_npi,"
    " destination_addr, body, data_coding, esm_class, protocol_id, priority,"
    " registered_delivery, parts, price, state, error_code, submitted_at, done_at,"
    " scheduled_at, expires_at, connector, callback_url, client_ref, owner, transport"
)
_TYPES = (
    "text", "text", "smallint", "smallint", "text", "smallint", "smallint", "text", "bytea",
    "smallint", "smallint", "smallint", "smallint", "smallint", "integer", "bigint", "smallint",
    "integer", "float8", "float8", "float8", "float8", "text", "text", "text", "bigint", "text",
)
SELECT_MESSAGE = f"SELECT {MESSAGE_COLUMNS} FROM messages"
DEBIT = ("UPDATE accounts SET balance = balance - %(cost)s"
         " WHERE system_id = %(account)s AND balance >= %(cost)s")
CREDIT = "UPDATE accounts SET balance = balance + %s WHERE system_id = %s"
# The greatest id an owner accepted, kept on its own row (no row that every node writes);
# ids compare as numbers of any width: by length first, then as text.
_RAISE_LAST_ID = (
    "UPDATE nodes SET last_message_id = %(id)s WHERE owner = %(owner)s"
    " AND (last_message_id IS NULL OR length(last_message_id) < length(%(id)s)"
    " OR (length(last_message_id) = length(%(id)s) AND last_message_id < %(id)s))"
)
_FINISH = (
    "UPDATE messages SET state = %s, error_code = %s, done_at = %s"
    " WHERE id = %s AND state <= 1"
)
_FINISH_ROWS = (
    "UPDATE messages m SET state = v.state, error_code = v.error_code, done_at = v.done_at"
    " FROM unnest(%b::text[], %b::smallint[], %b::integer[], %b::float8[])"
    " AS v (id, state, error_code, done_at)"
    " WHERE m.id = v.id AND m.state <= 1 RETURNING m.id"
)


def _insert(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    if not rows:
        return
    copy_rows(cur, "messages", MESSAGE_COLUMNS, _TYPES, rows)
    last = max((r[0] for r in rows), key=id_key)
    for owner in {r[25] for r in rows}:
        cur.execute(_RAISE_LAST_ID, {"id": last, "owner": owner})


def accept(cur: psycopg.Cursor, account: str, messages: Sequence[Message],
           cost: Decimal) -> bool:
    """Debit `cost` and insert `messages`, or write nothing and return False."""
    micro = to_micro(cost)
    if micro < 0:
        raise ValueError(f"negative cost {cost}")
    rows = [message_row(m) for m in messages]  # bad values fail before anything is written
    cur.execute(DEBIT, {"cost": micro, "account": account})
    if cur.rowcount == 0:
        if cur.execute("SELECT 1 FROM accounts WHERE system_id = %s", (account,)).fetchone():
            return False
        raise UnknownAccount(account)
    _insert(cur, rows)
    return True


class OneByOne(Exception):
    """A `*_many` function cannot do the whole run at once (and has written nothing)."""


def accept_many(cur: psycopg.Cursor,
                calls: list[tuple[str, Sequence[Message], Decimal]]) -> list[bool]:
    """`accept` for each call when every one succeeds: the balances are checked (and locked,
    in a fixed order, so two nodes cannot deadlock on them) before anything is written,
    then one debit per account and one insert for the run."""
    debits: dict[str, int] = {}
    rows = []
    for account, messages, cost in calls:
        micro = to_micro(cost)
        if micro < 0:
            raise OneByOne("negative cost")
        debits[account] = debits.get(account, 0) + micro
        rows += [message_row(m) for m in messages]
    accounts = sorted(debits)
    found = dict(cur.execute(
        "SELECT system_id, balance FROM accounts WHERE system_id = ANY(%s)"
        " ORDER BY system_id FOR UPDATE", (accounts,)).fetchall())
    if any(found.get(a, -1) < debits[a] for a in accounts):
        raise OneByOne("a balance short of the run's total, or an unknown account")
    cur.execute(
        "UPDATE accounts a SET balance = a.balance - v.amount"
        " FROM unnest(%s::text[], %s::bigint[]) AS v (account, amount)"
        " WHERE a.system_id = v.account", (accounts, [debits[a] for a in accounts]))
    _insert(cur, rows)
    return [True] * len(calls)


def get_message(cur: psycopg.Cursor, message_id: str) -> Message | None:
    row = cur.execute(f"{SELECT_MESSAGE} WHERE id = %s", (message_id,)).fetchone()
    return None if row is None else message_from_row(row)


def finish(cur: psycopg.Cursor, message_id: str, state: MessageState, error_code: int,
           done_at: float, outbox: Sequence[NewOutboxItem]) -> list[OutboxItem]:
    """Make a message final and queue `outbox`; [] and nothing written if it already was
    final (or is unknown)."""
    state = MessageState(state)
    if not state.is_final:
        raise ValueError(f"finish() needs a final state, not {state.name}")
    rows = outbox_rows(outbox)  # a bad item fails before anything is written
    cur.execute(_FINISH, (int(state), error_code, done_at, message_id))
    if cur.rowcount == 0:
        return []
    return queue_rows(cur, rows)


def finish_many(cur: psycopg.Cursor, calls: list[tuple]) -> list[list[OutboxItem]]:
    """`finish` for each call, in order: one update for the run (the first finish of a
    message in the run is the one that counts), then one insert per outbox table."""
    firsts: dict[str, int] = {}
    for index, call in enumerate(calls):
        if call[1] not in FINAL_STATES:
            raise OneByOne("not a final state")
        firsts.setdefault(call[0], index)
    chosen = [calls[i] for i in firsts.values()]
    # a bad item declines the run before anything is written
    outbox_rows([item for call in chosen for item in call[4]])
    cur.execute(_FINISH_ROWS, ([c[0] for c in chosen], [int(c[1]) for c in chosen],
                               [c[2] for c in chosen], [c[3] for c in chosen]))
    finished = {r[0] for r in cur.fetchall()}
    wanted = [(firsts[c[0]], c[4]) for c in chosen if c[0] in finished and c[4]]
    stored = queue_rows(cur, outbox_rows([item for _, outbox in wanted for item in outbox]))
    results: list[list[OutboxItem]] = [[] for _ in calls]
    start = 0
    for index, outbox in wanted:
        results[index] = stored[start:start + len(outbox)]
        start += len(outbox)
    return results


def last_message_id(cur: psycopg.Cursor) -> str | None:
    row = cur.execute(
        "SELECT id FROM (SELECT last_message_id AS id FROM nodes"
        " UNION ALL SELECT last_message_id FROM meta) t WHERE id IS NOT NULL"
        " ORDER BY length(id) DESC, id DESC LIMIT 1").fetchone()
    return None if row is None else row[0]


def accept_replacing(cur: psycopg.Cursor, account: str, message: Message) -> list[Message] | None:
    """Delete and refund `account`'s SCHEDULED messages from message's source to its
    destination, then `accept` `message`; None with nothing written when the balance,
    refunds included, cannot cover it."""
    balance = cur.execute("SELECT balance FROM accounts WHERE system_id = %s FOR UPDATE",
                          (account,)).fetchone()
    if balance is None:
        raise UnknownAccount(account)
    rows = cur.execute(
        f"{SELECT_MESSAGE} WHERE state = {int(MessageState.SCHEDULED)} AND account = %s"
        " AND source_addr = %s AND destination_addr = %s FOR UPDATE",
        (account, message.source.addr, message.destination.addr)).fetchall()
    superseded = sorted((message_from_row(r) for r in rows), key=lambda m: id_key(m.id))
    refund = sum(to_micro(m.price) for m in superseded)
    if balance[0] + refund < to_micro(message.price):
        return None
    done_at = message.submitted_at
    if superseded:
        cur.execute(
            f"UPDATE messages SET state = {int(MessageState.DELETED)}, done_at = %s"
            " WHERE id = ANY(%s)", (done_at, [m.id for m in superseded]))
        cur.execute(CREDIT, (refund, account))
    if not accept(cur, account, [message], message.price):
        raise RuntimeError("the balance checked above could not cover the debit")
    return [dataclasses.replace(m, state=MessageState.DELETED, done_at=done_at)
            for m in superseded]


def adopt_messages(cur: psycopg.Cursor, from_owner: int, to_owner: int,
                   limit: int) -> list[Message]:
    """Move up to `limit` unfinished messages of `from_owner` to `to_owner`, lowest first."""
    if limit <= 0:
        return []
    rows = cur.execute(
        f"UPDATE messages SET owner = %s WHERE id IN (SELECT id FROM messages"
        " WHERE owner = %s AND state <= 1 ORDER BY length(id), id LIMIT %s FOR UPDATE)"
        f" RETURNING {MESSAGE_COLUMNS}", (to_owner, from_owner, limit)).fetchall()
    return sorted((message_from_row(r) for r in rows), key=lambda m: id_key(m.id))
