"""The SQL of the persistent webhook outbox on PostgreSQL (WebhookStore): the WEBHOOK items
outbox.queue_rows wrote, claimed by one node when due (SKIP LOCKED: nodes never wait for
each other), removed on a 2xx, rescheduled (and unclaimed) or dead-lettered on failure,
listed and replayed by admins."""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import psycopg

from gateway.model import OutboxItem
from gateway.storage.records import webhook_item_from_row

__all__ = [
    "claim_webhooks", "list_webhooks", "release_webhooks", "replay_webhooks", "webhook_counts",
    "webhook_failed", "webhook_failed_many", "webhooks_delivered", "webhooks_delivered_many",
]

_COLUMNS = (
    "id, account, kind, message_id, url, event_id, payload, created_at, attempts,"
    " next_attempt_at, last_error, dead_at, claimed_by"
)


def _ids(item_ids: Sequence[int]) -> list[int]:
    return [int(item_id) for item_id in item_ids]


# The subquery walks the partial index webhook_outbox_due in order.
_CLAIM = (
    "UPDATE webhook_outbox SET claimed_by = %s WHERE id IN (SELECT id FROM webhook_outbox"
    " WHERE dead_at IS NULL AND claimed_by IS NULL AND next_attempt_at <= %s"
    " AND NOT (url = ANY(%s)) ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    f" RETURNING {_COLUMNS}"
)


def claim_webhooks(cur: psycopg.Cursor, owner: int, now: float, limit: int,
                   exclude_urls: Sequence[str] = ()) -> list[OutboxItem]:
    if limit <= 0:
        return []
    rows = cur.execute(_CLAIM, (owner, now, list(exclude_urls), limit)).fetchall()
    return sorted((webhook_item_from_row(r) for r in rows), key=lambda item: (item.next_attempt_at, item.id))


def webhooks_delivered(cur: psycopg.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute("DELETE FROM webhook_outbox WHERE id = ANY(%s)", (_ids(item_ids),))


def webhooks_delivered_many(cur: psycopg.Cursor,
                            calls: list[tuple[Sequence[int]]]) -> list[None]:
    webhooks_delivered(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


_FAILED = (
    "UPDATE webhook_outbox SET attempts = %s, next_attempt_at = %s, last_error = %s,"
    " dead_at = %s, claimed_by = NULL WHERE id = %s"
)


def webhook_failed(cur: psycopg.Cursor, item_id: int, attempts: int, next_attempt_at: float,
                   error: str, dead_at: float | None) -> None:
    cur.execute(_FAILED, (attempts, next_attempt_at, error, dead_at, item_id))


def webhook_failed_many(cur: psycopg.Cursor, calls: list[tuple]) -> list[None]:
    """`webhook_failed` for each call in order: one statement, the later of two failures of
    one item winning (as when run one by one)."""
    last = {}
    for call in calls:
        last[call[0]] = call
    chosen = list(last.values())
    cur.execute(
        "UPDATE webhook_outbox w SET attempts = v.attempts, next_attempt_at = v.next_at,"
        " last_error = v.error, dead_at = v.dead_at, claimed_by = NULL"
        " FROM unnest(%s::bigint[], %s::integer[], %s::float8[], %s::text[], %s::float8[])"
        " AS v (id, attempts, next_at, error, dead_at) WHERE w.id = v.id",
        ([c[0] for c in chosen], [c[1] for c in chosen], [c[2] for c in chosen],
         [c[3] for c in chosen], [c[4] for c in chosen]))
    return [None] * len(calls)


def release_webhooks(cur: psycopg.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute("UPDATE webhook_outbox SET claimed_by = NULL WHERE id = ANY(%s)",
                (_ids(item_ids),))
    cur.execute("SELECT pg_notify('smsgw_webhooks', '')")


_LIVE_OR_DEAD = {None: "", True: " AND dead_at IS NOT NULL", False: " AND dead_at IS NULL"}


@cache
def _list_sql(dead: bool | None, of_account: bool) -> str:
    account = " AND account = %s" if of_account else ""
    return (f"SELECT {_COLUMNS} FROM webhook_outbox WHERE id > %s{_LIVE_OR_DEAD[dead]}"
            f"{account} ORDER BY id LIMIT %s")


def list_webhooks(cur: psycopg.Cursor, dead: bool | None, account: str | None,
                  after_id: int, limit: int) -> list[OutboxItem]:
    if limit <= 0:
        return []
    if account is None:
        rows = cur.execute(_list_sql(dead, False), (after_id, limit))
    else:
        rows = cur.execute(_list_sql(dead, True), (after_id, account, limit))
    return [webhook_item_from_row(r) for r in rows]


def replay_webhooks(cur: psycopg.Cursor, ids: Sequence[int] | None, account: str | None,
                    now: float) -> int:
    sql = ("UPDATE webhook_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = %s"
           " WHERE dead_at IS NOT NULL")
    args: list = [now]
    if ids is not None:
        sql += " AND id = ANY(%s)"
        args.append(_ids(ids))
    if account is not None:
        sql += " AND account = %s"
        args.append(account)
    cur.execute(sql, args)
    replayed = cur.rowcount
    if replayed:
        cur.execute("SELECT pg_notify('smsgw_webhooks', '')")
    return replayed


def webhook_counts(cur: psycopg.Cursor) -> dict[str, int]:
    pending, dead = cur.execute(
        "SELECT count(*) FILTER (WHERE dead_at IS NULL),"
        " count(*) FILTER (WHERE dead_at IS NOT NULL) FROM webhook_outbox").fetchone()
    return {"pending": pending, "dead": dead}
