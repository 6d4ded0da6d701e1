"""The SQL of the upstream half of the store on PostgreSQL: connectors, routes, the submit
marks and the upstream-id keys that correlate receipts, and connector health snapshots."""
from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

import psycopg

from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import ConnectorExists, UnknownConnector, UpstreamRecord
from gateway.core.routing import Route, RouteTarget
from gateway.core.upstream_ids import best_match
from gateway.model import Message
from gateway.storage.money import from_micro
from gateway.storage.postgres.accounts import bump_settings
from gateway.storage.postgres.messages import get_message


def add_connector(cur: psycopg.Cursor, settings: ConnectorSettings) -> None:
    added = cur.execute("INSERT INTO connectors (name, settings, enabled) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING RETURNING 1",
                        (settings.name, json.dumps(settings.to_dict()),
                         bool(settings.enabled))).fetchone()
    if added is None:
        raise ConnectorExists(settings.name)
    bump_settings(cur)


def update_connector(cur: psycopg.Cursor, settings: ConnectorSettings) -> None:
    cur.execute("UPDATE connectors SET settings = %s, enabled = %s WHERE name = %s",
                (json.dumps(settings.to_dict()), bool(settings.enabled), settings.name))
    if cur.rowcount == 0:
        raise UnknownConnector(settings.name)
    bump_settings(cur)


def remove_connector(cur: psycopg.Cursor, name: str) -> None:
    cur.execute("DELETE FROM connectors WHERE name = %s", (name,))
    if cur.rowcount == 0:
        raise UnknownConnector(name)
    cur.execute("DELETE FROM connector_health WHERE name = %s", (name,))
    bump_settings(cur)


def list_connectors(cur: psycopg.Cursor) -> list[ConnectorSettings]:
    rows = cur.execute("SELECT settings FROM connectors ORDER BY name").fetchall()
    return [ConnectorSettings.from_dict(json.loads(r[0])) for r in rows]


def get_connector(cur: psycopg.Cursor, name: str) -> ConnectorSettings | None:
    row = cur.execute("SELECT settings FROM connectors WHERE name = %s", (name,)).fetchone()
    return None if row is None else ConnectorSettings.from_dict(json.loads(row[0]))


def add_route(cur: psycopg.Cursor, route: Route) -> int:
    targets = json.dumps([[t.connector, t.weight] for t in route.targets])
    route_id = cur.execute(
        "INSERT INTO routes (prefix, account, source_prefix, targets) VALUES (%s, %s, %s, %s)"
        " RETURNING id", (route.prefix, route.account, route.source_prefix, targets)
    ).fetchone()[0]
    bump_settings(cur)
    return route_id


def remove_route(cur: psycopg.Cursor, route_id: int) -> bool:
    cur.execute("DELETE FROM routes WHERE id = %s", (route_id,))
    removed = cur.rowcount > 0
    if removed:
        bump_settings(cur)
    return removed


def list_routes(cur: psycopg.Cursor) -> list[Route]:
    rows = cur.execute(
        "SELECT id, prefix, account, source_prefix, targets FROM routes ORDER BY id").fetchall()
    return [Route(id=r[0], prefix=r[1], account=r[2], source_prefix=r[3],
                  targets=tuple(RouteTarget(connector=c, weight=w)
                                for c, w in json.loads(r[4])))
            for r in rows]


_MARK_SUBMITTING = (
    "INSERT INTO upstream_messages (message_id, connector, status, attempts, updated_at)"
    " VALUES (%(id)s, %(connector)s, 'submitting', 1, %(at)s) ON CONFLICT (message_id)"
    " DO UPDATE SET connector = %(connector)s, status = 'submitting',"
    " attempts = upstream_messages.attempts + 1, updated_at = %(at)s"
)


def mark_submitting(cur: psycopg.Cursor, message_id: str, connector: str, at: float) -> None:
    cur.execute(_MARK_SUBMITTING, {"id": message_id, "connector": connector, "at": at})


def mark_submitting_many(cur: psycopg.Cursor, calls: list[tuple]) -> list[None]:
    cur.executemany(_MARK_SUBMITTING, [{"id": m, "connector": c, "at": a} for m, c, a in calls])
    return [None] * len(calls)


def record_submitted(cur: psycopg.Cursor, message_id: str, connector: str, upstream_id: str,
                     keys: Sequence[str], at: float) -> None:
    cur.execute(
        "INSERT INTO upstream_messages (message_id, connector, status, upstream_id, attempts,"
        " updated_at) VALUES (%(id)s, %(connector)s, 'submitted', %(upstream)s, 1, %(at)s)"
        " ON CONFLICT (message_id) DO UPDATE SET connector = %(connector)s,"
        " status = 'submitted', upstream_id = %(upstream)s, updated_at = %(at)s",
        {"id": message_id, "connector": connector, "upstream": upstream_id, "at": at})
    if keys:
        cur.execute(
            "INSERT INTO upstream_keys (connector, key, message_id)"
            " SELECT %s, k, %s FROM unnest(%s::text[]) AS k ON CONFLICT DO NOTHING",
            (connector, message_id, list(keys)))


def record_submitted_many(cur: psycopg.Cursor, calls: list[tuple]) -> list[None]:
    for call in calls:
        record_submitted(cur, *call)
    return [None] * len(calls)


def release_submit(cur: psycopg.Cursor, message_id: str) -> None:
    cur.execute("DELETE FROM upstream_messages WHERE message_id = %s AND status = 'submitting'",
                (message_id,))


def find_by_upstream_id(cur: psycopg.Cursor, connector: str,
                        keys: Sequence[str]) -> Message | None:
    if not keys:
        return None
    found = cur.execute("SELECT key, message_id FROM upstream_keys WHERE connector = %s"
                        " AND key = ANY(%s)", (connector, list(keys))).fetchall()
    message_id = best_match(list(keys), [tuple(r) for r in found])
    return None if message_id is None else get_message(cur, message_id)


def upstream_records(cur: psycopg.Cursor,
                     message_ids: Sequence[str]) -> dict[str, UpstreamRecord]:
    rows = cur.execute(
        "SELECT message_id, connector, status, upstream_id, attempts FROM upstream_messages"
        " WHERE message_id = ANY(%s)", (list(message_ids),))
    return {r[0]: UpstreamRecord(message_id=r[0], connector=r[1], status=r[2],
                                 upstream_id=r[3], attempts=r[4]) for r in rows}


def refund(cur: psycopg.Cursor, message_id: str) -> Decimal | None:
    """Credit the message's price back to its account, once; the amount, or None."""
    row = cur.execute("SELECT account, price FROM messages WHERE id = %s",
                      (message_id,)).fetchone()
    if row is None:
        return None
    cur.execute(
        "INSERT INTO upstream_messages (message_id, connector, status, refunded, updated_at)"
        " VALUES (%s, '', 'refused', FALSE, 0) ON CONFLICT (message_id) DO NOTHING",
        (message_id,))
    cur.execute("UPDATE upstream_messages SET refunded = TRUE WHERE message_id = %s"
                " AND NOT refunded", (message_id,))
    if cur.rowcount == 0:
        return None
    cur.execute("UPDATE accounts SET balance = balance + %s WHERE system_id = %s",
                (row[1], row[0]))
    return from_micro(row[1])


def write_health(cur: psycopg.Cursor, snapshots: dict[str, dict], at: float) -> None:
    if not snapshots:
        return
    cur.executemany(
        "INSERT INTO connector_health (name, health, updated_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET health = excluded.health,"
        " updated_at = excluded.updated_at",
        [(name, json.dumps(health), at) for name, health in snapshots.items()])


def read_health(cur: psycopg.Cursor) -> dict[str, tuple[dict, float]]:
    rows = cur.execute("SELECT name, health, updated_at FROM connector_health").fetchall()
    return {r[0]: (json.loads(r[1]), r[2]) for r in rows}
