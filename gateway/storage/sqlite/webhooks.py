"""The SQL of the persistent webhook outbox (WebhookStore): the WEBHOOK items
outbox.queue_items wrote, claimed by a node when due, removed on a 2xx, rescheduled (and
unclaimed) or dead-lettered on failure, listed and replayed by admins. Plain functions on
a cursor inside a transaction the caller owns."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import cache

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
_SELECT = f"SELECT {_COLUMNS} FROM webhook_outbox"


def _ids(item_ids: Sequence[int]) -> str:
    return json.dumps([int(item_id) for item_id in item_ids])


# --- the dispatcher ------------------------------------------------------------------------

# `dead_at IS NULL` lets SQLite walk the partial index webhook_outbox_due in order.
_CLAIMABLE = (
    "SELECT id FROM webhook_outbox WHERE dead_at IS NULL AND next_attempt_at <= ?"
    " AND claimed_by IS NULL AND url NOT IN (SELECT value FROM json_each(?))"
    " ORDER BY next_attempt_at, id LIMIT ?"
)
_CLAIM = (
    f"UPDATE webhook_outbox SET claimed_by = ? WHERE id IN (SELECT value FROM json_each(?))"
    f" AND claimed_by IS NULL RETURNING {_COLUMNS}"
)


def claim_webhooks(
    cur: sqlite3.Cursor, owner: int, now: float, limit: int, exclude_urls: Sequence[str] = (),
) -> list[OutboxItem]:
    """Claim for `owner` the live, unclaimed items due by `now`, earliest first, but those
    of URLs backing off."""
    if limit <= 0:
        return []
    ids = [r[0] for r in cur.execute(_CLAIMABLE, (now, json.dumps(list(exclude_urls)), limit))]
    if not ids:
        return []
    items = [webhook_item_from_row(r) for r in cur.execute(_CLAIM, (owner, _ids(ids)))]
    return sorted(items, key=lambda item: (item.next_attempt_at, item.id))


_DELETE = "DELETE FROM webhook_outbox WHERE id IN (SELECT value FROM json_each(?))"


def webhooks_delivered(cur: sqlite3.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute(_DELETE, (_ids(item_ids),))


def webhooks_delivered_many(cur: sqlite3.Cursor,
                            calls: list[tuple[Sequence[int]]]) -> list[None]:
    """`webhooks_delivered` for each call: one DELETE for the run."""
    webhooks_delivered(cur, [item_id for item_ids, in calls for item_id in item_ids])
    return [None] * len(calls)


_FAILED = (
    "UPDATE webhook_outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, dead_at = ?,"
    " claimed_by = NULL WHERE id = ?"
)


def webhook_failed(cur: sqlite3.Cursor, item_id: int, attempts: int, next_attempt_at: float,
                   error: str, dead_at: float | None) -> None:
    """Record a failed attempt; an item already gone (delivered meanwhile) stays gone."""
    cur.execute(_FAILED, (attempts, next_attempt_at, error, dead_at, item_id))


def webhook_failed_many(cur: sqlite3.Cursor, calls: list[tuple]) -> list[None]:
    """`webhook_failed` for each call, in order (executemany: its loop runs in C)."""
    cur.executemany(_FAILED, [(a, n, e, d, i) for i, a, n, e, d in calls])
    return [None] * len(calls)


def release_webhooks(cur: sqlite3.Cursor, item_ids: Sequence[int]) -> None:
    cur.execute("UPDATE webhook_outbox SET claimed_by = NULL"
                " WHERE id IN (SELECT value FROM json_each(?))", (_ids(item_ids),))


# --- admins --------------------------------------------------------------------------------

_LIVE_OR_DEAD = {None: "", True: " AND dead_at IS NOT NULL", False: " AND dead_at IS NULL"}


@cache
def list_sql(dead: bool | None, of_account: bool) -> str:
    """The query of list_webhooks: args (after_id[, account], limit)."""
    account = " AND account = ?" if of_account else ""
    return f"{_SELECT} WHERE id > ?{_LIVE_OR_DEAD[dead]}{account} ORDER BY id LIMIT ?"


def list_webhooks(cur: sqlite3.Cursor, dead: bool | None, account: str | None,
                  after_id: int, limit: int) -> list[OutboxItem]:
    """Items by id after `after_id`: dead letters, live ones or both; of one account or all."""
    if limit <= 0:
        return []
    if account is None:
        rows = cur.execute(list_sql(dead, False), (after_id, limit))
    else:
        rows = cur.execute(list_sql(dead, True), (after_id, account, limit))
    return [webhook_item_from_row(r) for r in rows]


def replay_webhooks(cur: sqlite3.Cursor, ids: Sequence[int] | None, account: str | None,
                    now: float) -> int:
    """Dead letters back to live, due at `now` with attempts reset (their last error kept);
    those of `ids` and/or of `account` (both given: `account`'s among `ids`), else all."""
    sql = ("UPDATE webhook_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = ?"
           " WHERE dead_at IS NOT NULL")
    args: list = [now]
    if ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        args.append(_ids(ids))
    if account is not None:
        sql += " AND account = ?"
        args.append(account)
    cur.execute(sql, args)
    return cur.rowcount


def webhook_counts(cur: sqlite3.Cursor) -> dict[str, int]:
    pending, dead = cur.execute(
        "SELECT (SELECT count(*) FROM webhook_outbox WHERE dead_at IS NULL),"
        " (SELECT count(*) FROM webhook_outbox WHERE dead_at IS NOT NULL)").fetchone()
    return {"pending": pending, "dead": dead}
