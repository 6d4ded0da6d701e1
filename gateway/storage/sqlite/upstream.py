"""The SQL of the upstream half of the store: connectors, routes, the submit marks and the
upstream-id keys that correlate receipts, and connector health snapshots. Plain functions
on a cursor inside a transaction the caller owns."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal

from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import ConnectorExists, UnknownConnector, UpstreamRecord
from gateway.core.routing import Route, RouteTarget
from gateway.core.upstream_ids import best_match
from gateway.model import Message
from gateway.storage.money import from_micro
from gateway.storage.sqlite.accounts import BUMP_SETTINGS
from gateway.storage.sqlite.messages import get_message

SUBMITTING = "submitting"
SUBMITTED = "submitted"

# --- connectors ----------------------------------------------------------------------------


def add_connector(cur: sqlite3.Cursor, settings: ConnectorSettings) -> None:
    try:
        cur.execute("INSERT INTO connectors (name, settings, enabled) VALUES (?, ?, ?)",
                    (settings.name, json.dumps(settings.to_dict()), int(settings.enabled)))
    except sqlite3.IntegrityError as e:
        raise ConnectorExists(settings.name) from e
    cur.execute(BUMP_SETTINGS)


def update_connector(cur: sqlite3.Cursor, settings: ConnectorSettings) -> None:
    cur.execute("UPDATE connectors SET settings = ?, enabled = ? WHERE name = ?",
                (json.dumps(settings.to_dict()), int(settings.enabled), settings.name))
    if cur.rowcount == 0:
        raise UnknownConnector(settings.name)
    cur.execute(BUMP_SETTINGS)


def remove_connector(cur: sqlite3.Cursor, name: str) -> None:
    cur.execute("DELETE FROM connectors WHERE name = ?", (name,))
    if cur.rowcount == 0:
        raise UnknownConnector(name)
    cur.execute("DELETE FROM connector_health WHERE name = ?", (name,))
    cur.execute(BUMP_SETTINGS)


def list_connectors(cur: sqlite3.Cursor) -> list[ConnectorSettings]:
    rows = cur.execute("SELECT settings FROM connectors ORDER BY name").fetchall()
    return [ConnectorSettings.from_dict(json.loads(r[0])) for r in rows]


def get_connector(cur: sqlite3.Cursor, name: str) -> ConnectorSettings | None:
    row = cur.execute("SELECT settings FROM connectors WHERE name = ?", (name,)).fetchone()
    return None if row is None else ConnectorSettings.from_dict(json.loads(row[0]))


# --- routes --------------------------------------------------------------------------------


def add_route(cur: sqlite3.Cursor, route: Route) -> int:
    targets = json.dumps([[t.connector, t.weight] for t in route.targets])
    cur.execute("INSERT INTO routes (prefix, account, source_prefix, targets)"
                " VALUES (?, ?, ?, ?)", (route.prefix, route.account, route.source_prefix, targets))
    route_id = cur.lastrowid
    cur.execute(BUMP_SETTINGS)
    return route_id


def remove_route(cur: sqlite3.Cursor, route_id: int) -> bool:
    cur.execute("DELETE FROM routes WHERE id = ?", (route_id,))
    removed = cur.rowcount > 0
    if removed:
        cur.execute(BUMP_SETTINGS)
    return removed


def list_routes(cur: sqlite3.Cursor) -> list[Route]:
    rows = cur.execute(
        "SELECT id, prefix, account, source_prefix, targets FROM routes ORDER BY id").fetchall()
    return [Route(id=r[0], prefix=r[1], account=r[2], source_prefix=r[3],
                  targets=tuple(RouteTarget(connector=c, weight=w)
                                for c, w in json.loads(r[4])))
            for r in rows]


# --- submits and correlation ---------------------------------------------------------------

_MARK_SUBMITTING = (
    "INSERT INTO upstream_messages (message_id, connector, status, attempts, updated_at)"
    " VALUES (?1, ?2, 'submitting', 1, ?3) ON CONFLICT (message_id) DO UPDATE SET"
    " connector = ?2, status = 'submitting', attempts = attempts + 1, updated_at = ?3"
)


def mark_submitting(cur: sqlite3.Cursor, message_id: str, connector: str, at: float) -> None:
    cur.execute(_MARK_SUBMITTING, (message_id, connector, at))


def mark_submitting_many(cur: sqlite3.Cursor, calls: list[tuple]) -> list[None]:
    cur.executemany(_MARK_SUBMITTING, calls)
    return [None] * len(calls)


def record_submitted(cur: sqlite3.Cursor, message_id: str, connector: str, upstream_id: str,
                     keys: Sequence[str], at: float) -> None:
    cur.execute(
        "INSERT INTO upstream_messages (message_id, connector, status, upstream_id, attempts,"
        " updated_at) VALUES (?1, ?2, 'submitted', ?3, 1, ?4) ON CONFLICT (message_id) DO"
        " UPDATE SET connector = ?2, status = 'submitted', upstream_id = ?3, updated_at = ?4",
        (message_id, connector, upstream_id, at))
    cur.executemany(
        "INSERT OR IGNORE INTO upstream_keys (connector, key, message_id) VALUES (?, ?, ?)",
        [(connector, key, message_id) for key in keys])


def record_submitted_many(cur: sqlite3.Cursor, calls: list[tuple]) -> list[None]:
    for call in calls:
        record_submitted(cur, *call)
    return [None] * len(calls)


def release_submit(cur: sqlite3.Cursor, message_id: str) -> None:
    """The upstream refused the submit (it was never accepted): forget the mark."""
    cur.execute("DELETE FROM upstream_messages WHERE message_id = ? AND status = 'submitting'",
                (message_id,))


def find_by_upstream_id(cur: sqlite3.Cursor, connector: str,
                        keys: Sequence[str]) -> Message | None:
    if not keys:
        return None
    found = cur.execute(
        "SELECT key, message_id FROM upstream_keys WHERE connector = ?"
        " AND key IN (SELECT value FROM json_each(?))", (connector, json.dumps(list(keys)))
    ).fetchall()
    message_id = best_match(list(keys), found)
    return None if message_id is None else get_message(cur, message_id)


def upstream_records(cur: sqlite3.Cursor, message_ids: Sequence[str]) -> dict[str, UpstreamRecord]:
    rows = cur.execute(
        "SELECT message_id, connector, status, upstream_id, attempts FROM upstream_messages"
        " WHERE message_id IN (SELECT value FROM json_each(?))", (json.dumps(list(message_ids)),))
    return {r[0]: UpstreamRecord(message_id=r[0], connector=r[1], status=r[2],
                                 upstream_id=r[3], attempts=r[4]) for r in rows}


def refund(cur: sqlite3.Cursor, message_id: str) -> Decimal | None:
    """Credit the message's price back to its account, once; the amount, or None."""
    row = cur.execute("SELECT account, price FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    cur.execute(
        "INSERT INTO upstream_messages (message_id, connector, status, refunded, updated_at)"
        " VALUES (?, '', 'refused', 0, 0) ON CONFLICT (message_id) DO NOTHING", (message_id,))
    cur.execute("UPDATE upstream_messages SET refunded = 1 WHERE message_id = ? AND refunded = 0",
                (message_id,))
    if cur.rowcount == 0:
        return None
    cur.execute("UPDATE accounts SET balance = balance + ? WHERE system_id = ?", (row[1], row[0]))
    return from_micro(row[1])


# --- health --------------------------------------------------------------------------------


def write_health(cur: sqlite3.Cursor, snapshots: dict[str, dict], at: float) -> None:
    cur.executemany(
        "INSERT INTO connector_health (name, health, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET health = excluded.health,"
        " updated_at = excluded.updated_at",
        [(name, json.dumps(health), at) for name, health in snapshots.items()])


def read_health(cur: sqlite3.Cursor) -> dict[str, tuple[dict, float]]:
    rows = cur.execute("SELECT name, health, updated_at FROM connector_health").fetchall()
    return {r[0]: (json.loads(r[1]), r[2]) for r in rows}
