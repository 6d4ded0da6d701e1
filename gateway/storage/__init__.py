"""The stores behind core/ports.py: SQLite (the default, one machine), PostgreSQL (several
nodes) and an in-memory one for tests; `open_store` picks one from the `database` setting."""
from __future__ import annotations

from pathlib import Path

from twisted.internet.interfaces import IReactorFromThreads

from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import BatchObserver

__all__ = ["StoreUnavailable", "is_postgres_url", "open_store"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StoreUnavailable(Exception):
    """The configured database cannot be opened; the message says why."""


def is_postgres_url(database: str) -> bool:
    return database.startswith(POSTGRES_SCHEMES)


def open_store(database: str, sqlite_path: Path, reactor: IReactorFromThreads, *,
               observer: BatchObserver | None = None) -> BatchedStore:
    """A running store: PostgreSQL when `database` is a postgresql:// URL, else the SQLite
    file `sqlite_path`. Raises StoreUnavailable when it cannot be opened (unreachable,
    refused, not a database, a schema it cannot migrate)."""
    if is_postgres_url(database):
        from gateway.storage.postgres.store import PostgresStore, connect_error

        try:
            return PostgresStore(database, reactor, observer=observer)
        except Exception as e:
            raise StoreUnavailable(connect_error(database, e)) from e
    import sqlite3

    from gateway.storage.sqlite.store import SqliteStore

    try:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(sqlite_path, reactor, observer=observer)
    except (OSError, sqlite3.Error, ValueError) as e:
        raise StoreUnavailable(f"cannot open the SQLite store {sqlite_path}: {e}") from e
