"""The SQL of what operators read on PostgreSQL (CdrStore, OpsStore): CDRs by final time,
a write probe for readiness, queue depths and message search. CDR pages seek the partial
index messages_final with a row comparison on (done_at, id): a deep page costs what the
first one does."""
from __future__ import annotations


import psycopg

from gateway.core.ids import first_id_at
from gateway.core.ports import CdrCursor
from gateway.model import Cdr, Message
from gateway.storage.postgres.messages import SELECT_MESSAGE, last_message_id
from gateway.storage.postgres.webhooks import webhook_counts
from gateway.storage.records import cdr_from_row, message_from_row

__all__ = ["cdrs", "find_messages", "ping", "queue_depths"]

# The connector is the upstream that took the message when there is one (upstream_messages),
# else the one the router chose (the simulator).
_CDR_SELECT = (
    "SELECT m.id, m.account, m.transport, m.source_addr, m.destination_addr, m.parts,"
    " m.data_coding, m.price, coalesce(u.connector, m.connector), coalesce(u.upstream_id, ''),"
    " m.submitted_at, m.done_at, m.state, m.error_code"
    " FROM messages AS m LEFT JOIN upstream_messages AS u ON u.message_id = m.id"
    " WHERE m.done_at IS NOT NULL AND (m.done_at, m.id) > (%(after_done)s, %(after_id)s)"
    " AND m.done_at >= %(since)s AND m.done_at < %(until)s"
)
_CDRS = _CDR_SELECT + " ORDER BY m.done_at, m.id LIMIT %(limit)s"
_CDRS_OF_ACCOUNT = (_CDR_SELECT + " AND m.account = %(account)s"
                    " ORDER BY m.done_at, m.id LIMIT %(limit)s")


def cdrs(cur: psycopg.Cursor, since: float, until: float, account: str | None,
         after: CdrCursor | None, limit: int) -> list[Cdr]:
    if limit <= 0:
        return []
    # no cursor: from `since` on; (since, '') is below every row at `since` (ids are not '')
    after_done, after_id = after if after is not None else (since, "")
    params = {"since": since, "until": until, "after_done": after_done, "after_id": after_id,
              "limit": limit, "account": account}
    rows = cur.execute(_CDRS if account is None else _CDRS_OF_ACCOUNT, params)
    return [cdr_from_row(r) for r in rows]


def ping(cur: psycopg.Cursor) -> None:
    """A write the server must accept: a read-only server (a standby, a full disk in
    read-only mode) fails it, so readiness fails too."""
    cur.execute("SELECT txid_current()")


def queue_depths(cur: psycopg.Cursor) -> dict[str, int]:
    unfinished, receipts = cur.execute(
        "SELECT (SELECT count(*) FROM messages WHERE state <= 1),"
        " (SELECT count(*) FROM outbox)").fetchone()
    webhooks = webhook_counts(cur)
    return {"unfinished": unfinished, "receipts_pending": receipts,
            "webhooks_pending": webhooks["pending"], "webhooks_dead": webhooks["dead"]}


def find_messages(cur: psycopg.Cursor, number: str, since: float,
                  limit: int) -> list[Message]:
    """Newest first over the ids of each length from the first id of `since` on: ranges of
    the primary key read backwards (ids grow with time, see core/ids.py)."""
    low = str(first_id_at(since))
    newest = last_message_id(cur)
    found: list[Message] = []
    if newest is None or limit <= 0:
        return found
    for length in range(len(newest), len(low) - 1, -1):
        floor = low if length == len(low) else "1" + "0" * (length - 1)
        rows = cur.execute(
            f"{SELECT_MESSAGE} WHERE id >= %s AND length(id) = %s"
            " AND (destination_addr = %s OR source_addr = %s) ORDER BY id DESC LIMIT %s",
            (floor, length, number, number, limit - len(found))).fetchall()
        found += [message_from_row(r) for r in rows]
        if len(found) >= limit:
            break
    return found
