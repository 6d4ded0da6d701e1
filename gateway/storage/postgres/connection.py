"""Opening the PostgreSQL store: one connection per use (the writer's, the listener's),
migrations applied once however many nodes start at the same moment, and the node lock.

A running gateway holds a session-level advisory lock for its node_id on the writer's
connection (`take_node_lock`): PostgreSQL frees it the moment that connection ends, so a
node restarted after a crash knows at once that its node_id is free, while a second
process started with a node_id a live one holds is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit, urlunsplit

import psycopg

__all__ = [
    "CONNECT_TIMEOUT", "StoreConnection", "connect", "migrate", "migrations", "redacted",
]

SCHEMA_PACKAGE = "gateway.storage.postgres"
CONNECT_TIMEOUT = 5  # s; a database that does not answer fails the start (or a batch) soon
# pg_advisory_lock(key1, key2): key1 names smsgw's locks in this schema (advisory locks
# are per database: two stores in two schemas of one database must not share them), key2
# the node_id or MIGRATIONS.
LOCK_SPACE = "hashtext('smsgw:' || current_schema())"
MIGRATIONS = -1


class StoreConnection(psycopg.Connection):
    """A connection that remembers the node lock it should hold (for reconnecting)."""

    node_id: int | None = None

    def take_node_lock(self, node_id: int) -> bool:
        """The advisory lock of `node_id` for this session; False when another holds it."""
        row = self.execute(f"SELECT pg_try_advisory_lock({LOCK_SPACE}, %s)",
                           (node_id,)).fetchone()
        if row[0]:
            self.node_id = node_id
        return bool(row[0])


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, application_name: str = "smsgw") -> StoreConnection:
    """A connection in autocommit mode (the writer issues BEGIN and COMMIT itself), with
    TCP keepalives so a vanished peer is noticed."""
    return StoreConnection.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
        application_name=application_name, keepalives=1, keepalives_idle=10,
        keepalives_interval=5, keepalives_count=3)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration file, in order. Files are NNNN_name.sql."""
    return read_migrations(resources.files(SCHEMA_PACKAGE).joinpath("schema").iterdir())


def read_migrations(entries: Iterable[Traversable]) -> list[tuple[int, str, str]]:
    found = sorted((int(e.name.split("_", 1)[0]), e.name, e.read_text(encoding="utf-8"))
                   for e in entries if e.name.endswith(".sql"))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"two migrations share a version: {[n for _, n, _ in found]}")
    return found


def migrate(conn: psycopg.Connection) -> int:
    """Apply every migration the database lacks, each in its own transaction, under an
    advisory lock (nodes starting together apply each one once); the newest version."""
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, %s)", (MIGRATIONS,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY)")
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_version")}
        for version, name, sql in migrations():
            if version in applied:
                continue
            try:
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            except psycopg.Error as e:
                raise psycopg.OperationalError(f"migration {name} failed: {e}") from e
        return max(applied | {v for v, _, _ in migrations()})
