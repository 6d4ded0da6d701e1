"""The SQL of what operators read (CdrStore, OpsStore): CDRs by final time, a write probe
for readiness, queue depths and message search. Plain functions on a cursor inside a
transaction their caller owns.

The CDR query pages by (done_at, id) through the partial index messages_final (0007): each
page starts its index range at the cursor's done_at, so a deep page costs what the first
one does (no OFFSET, no row-value comparison, which SQLite would not seek with).
"""
from __future__ import annotations

import sqlite3

from gateway.core.ids import first_id_at
from gateway.core.ports import CdrCursor
from gateway.model import Cdr, Message
from gateway.storage.records import cdr_from_row, message_from_row
from gateway.storage.sqlite.messages import SELECT_MESSAGE
from gateway.storage.sqlite.webhooks import webhook_counts

__all__ = ["CDR_SQL", "cdrs", "find_messages", "ping", "queue_depths"]

# The connector is the upstream that took the message when there is one (upstream_messages),
# else the one the router chose (the simulator).
_CDR_SELECT = (
    "SELECT m.id, m.account, m.transport, m.source_addr, m.destination_addr, m.parts,"
    " m.data_coding, m.price, coalesce(u.connector, m.connector), coalesce(u.upstream_id, ''),"
    " m.submitted_at, m.done_at, m.state, m.error_code"
    " FROM messages AS m LEFT JOIN upstream_messages AS u ON u.message_id = m.id"
    " WHERE m.done_at >= :low AND m.done_at < :until"
    " AND NOT (m.done_at = :after_done AND m.id <= :after_id)"
)
CDR_SQL = _CDR_SELECT + " ORDER BY m.done_at, m.id LIMIT :limit"
_CDR_SQL_ACCOUNT = _CDR_SELECT + " AND m.account = :account ORDER BY m.done_at, m.id LIMIT :limit"

_QUEUE_DEPTHS = (
    "SELECT (SELECT count(*) FROM messages WHERE state <= 1),"  # the partial index
    " (SELECT count(*) FROM outbox)"
)
# Newest first over the ids of one length from the first id of `since` on: a range of the
# primary key read backwards (ids grow with time, see core/ids.py).
_FIND_MESSAGES = (
    f"{SELECT_MESSAGE} WHERE id >= :low AND length(id) = :length"
    " AND (destination_addr = :number OR source_addr = :number) ORDER BY id DESC LIMIT :limit"
)


def cdrs(cur: sqlite3.Cursor, since: float, until: float, account: str | None,
         after: CdrCursor | None, limit: int) -> list[Cdr]:
    if limit <= 0:
        return []
    after_done, after_id = after if after is not None else (since, "")
    params = {"low": max(since, after_done), "until": until, "after_done": after_done,
              "after_id": after_id, "limit": limit, "account": account}
    sql = CDR_SQL if account is None else _CDR_SQL_ACCOUNT
    return [cdr_from_row(r) for r in cur.execute(sql, params)]


def ping(cur: sqlite3.Cursor) -> None:
    """Nothing: the batch around it took the write lock (Op writes=True) and committed."""


def queue_depths(cur: sqlite3.Cursor) -> dict[str, int]:
    unfinished, receipts = cur.execute(_QUEUE_DEPTHS).fetchone()
    webhooks = webhook_counts(cur)
    return {"unfinished": unfinished, "receipts_pending": receipts,
            "webhooks_pending": webhooks["pending"], "webhooks_dead": webhooks["dead"]}


def find_messages(cur: sqlite3.Cursor, number: str, since: float, limit: int) -> list[Message]:
    low = str(first_id_at(since))
    newest = cur.execute("SELECT last_message_id FROM meta WHERE id = 1").fetchone()[0]
    found: list[Message] = []
    if newest is None or limit <= 0:
        return found
    # ids of more digits than `low` are newer: from the longest down (one length, as a rule)
    for length in range(len(newest), len(low) - 1, -1):
        floor = low if length == len(low) else "1" + "0" * (length - 1)
        rows = cur.execute(_FIND_MESSAGES, {"low": floor, "length": length, "number": number,
                                            "limit": limit - len(found)}).fetchall()
        found += [message_from_row(r) for r in rows]
        if len(found) >= limit:
            break
    return found
