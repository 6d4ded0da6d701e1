"""Opening a SQLite store file: WAL, fsync on every commit, migrations, the write lock.

`connect` returns a `StoreConnection`: a sqlite3 connection that can also hold the
process's node lock (see `hold_node_lock`), which is how a gateway on this file tells a
crashed predecessor with its node_id (lock free) from a running one (lock held).
"""
from __future__ import annotations

import fcntl
import os
import random
import sqlite3
import time
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from typing import IO

__all__ = [
    "StoreConnection", "begin_immediate", "bind_none_and_bytes_directly", "connect", "migrate",
    "migrations", "read_migrations", "schema_version", "split_sql",
]

SCHEMA_PACKAGE = "gateway.storage.sqlite"
SCHEMA_DIR = ("schema",)


class StoreConnection(sqlite3.Connection):
    """A connection to a store file that may hold its process's node lock."""

    node_lock: IO[bytes] | None = None
    database_path = ""

    def hold_node_lock(self, node_id: int) -> bool:
        """Take `<file>.node-<node_id>.lock` (an flock held until the connection closes);
        False when another process holds it. In-memory databases have nothing to share."""
        path = self.database_path
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            return True
        if self.node_lock is not None:
            self.node_lock.close()
            self.node_lock = None
        handle = open(f"{path}.node-{node_id}.lock", "ab")  # noqa: SIM115 -- held open
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.node_lock = handle
        return True

    def close(self) -> None:
        if self.node_lock is not None:
            self.node_lock.close()
            self.node_lock = None
        super().close()


def bind_none_and_bytes_directly() -> None:
    """Register sqlite3 adapters that hand None and bytes back unchanged.

    sqlite3 binds an int, float, str or bytearray as it is, but sends every other value,
    None and bytes included, through its adapter search first. When no adapter is
    registered for the type, that search ends in a failed attribute lookup on the
    PrepareProtocol type, which formats an AttributeError only to clear it again. A message
    and its receipt bind 7 such values. A registered adapter ends the search at its first
    step: a dict lookup and a call that returns the value unchanged. The rows and what is
    stored stay the same.
    (bench/store_bench.py under callgrind: 306,000 -> 292,365 instructions per message.)
    The registry belongs to the sqlite3 module, so this affects every sqlite3 connection in
    the process. They all still bind what they were given.
    """
    sqlite3.register_adapter(type(None), {}.get)  # {}.get(None) is None: a C call, no frame
    sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b for an exact bytes


def connect(path: str | os.PathLike[str], busy_timeout: float) -> StoreConnection:
    """Open `path` in autocommit mode (we issue BEGIN/COMMIT ourselves), WAL, fsync on
    every commit, foreign keys on, and migrated to the newest schema."""
    bind_none_and_bytes_directly()
    conn = sqlite3.connect(
        os.fspath(path),
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
        timeout=busy_timeout,
        factory=StoreConnection,
    )
    conn.database_path = os.fspath(path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if conn.database_path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise sqlite3.OperationalError(f"{path}: cannot switch to WAL (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration file, in order. Files are NNNN_name.sql."""
    return read_migrations(resources.files(SCHEMA_PACKAGE).joinpath(*SCHEMA_DIR).iterdir())


def read_migrations(entries: Iterable[Traversable]) -> list[tuple[int, str, str]]:
    """(version, name, sql) of the .sql files among `entries`, in order; ValueError when two
    share a version."""
    found = []
    for entry in entries:
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for (version, first, _), (following, second, _) in zip(found, found[1:], strict=False):
        if version == following:
            raise ValueError(f"migrations {first} and {second} share version {version}")
    return found


def schema_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied (older ones may be missing: see `migrate`)."""
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def applied_migrations(conn: sqlite3.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT version FROM schema_version")}


def migrate(conn: sqlite3.Connection, busy_timeout: float) -> int:
    """Apply every migration the file lacks, in version order, each in its own transaction;
    returns the newest version.

    "Lacks" means its version is not recorded, not that it is above the newest recorded:
    migrations are written on branches, so 0003 may land after files reached 0004, and
    those files still need it. Safe when the gateway and the CLI open the same file at
    once: what is applied is re-read under the write lock.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    applied = applied_migrations(conn)
    for version, name, sql in migrations():
        if version in applied:
            continue
        begin_immediate(conn, busy_timeout)
        try:
            if version not in applied_migrations(conn):
                for statement in split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise sqlite3.OperationalError(f"migration {name} failed: {e}") from e
            raise
    return schema_version(conn)


def split_sql(script: str) -> list[str]:
    """The statements of `script` (executescript would commit behind our back)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at end of migration: {current!r}")
    return statements


def begin_immediate(conn: sqlite3.Connection, timeout: float) -> None:
    """BEGIN IMMEDIATE, polling finely for the write lock for up to `timeout` seconds.

    SQLite's own busy handler backs off to 100 ms sleeps; a busy gateway releases the lock
    only for microseconds between its group commits, so a short poll finds that gap where
    the coarse one would time out with 'database is locked'.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.0001, 0.001))
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


