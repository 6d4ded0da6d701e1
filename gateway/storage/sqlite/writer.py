"""SQLite's side of the group-commit writer (storage/group_commit.py): one connection, the
write lock taken with a fine poll, and SQLite's way of telling a dirty transaction.

A failed SQLite statement undoes itself and leaves the transaction open, so an operation
that raised is dirty only if `total_changes` moved while it ran; a transaction SQLite
rolled back by itself (disk full, I/O error) is lost as a whole. Between batches the write
lock is free, so another process (the `smsgw` CLI) can write the same file; see
connection.begin_immediate.
"""
from __future__ import annotations

import random
import sqlite3
import time
from typing import Any

from gateway.storage.group_commit import TransactionLost
from gateway.storage.sqlite.connection import StoreConnection

__all__ = ["SqliteTransactions"]


class SqliteTransactions:
    """`group_commit.Transactions` over one SQLite connection."""

    def __init__(self, conn: StoreConnection, busy_timeout: float) -> None:
        self._conn = conn
        self._busy_timeout = busy_timeout
        # the writer polls for the lock itself (see begin); in WAL mode nothing else waits
        conn.execute("PRAGMA busy_timeout = 0")
        self._cur = conn.cursor()

    def cursor(self) -> sqlite3.Cursor:
        return self._cur

    def begin(self, cur: sqlite3.Cursor, writes: bool) -> None:
        if not writes:
            cur.execute("BEGIN")
            return
        # SQLite's own busy handler backs off to 100 ms sleeps; another writer of the file
        # (a busy gateway, when this is the CLI) frees the lock only for microseconds
        # between its commits, so a fine poll finds the gap where the coarse one times out
        deadline = None
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                now = time.monotonic()
                deadline = deadline or now + self._busy_timeout
                if now >= deadline:
                    raise
            time.sleep(random.uniform(0.0001, 0.001))

    def commit(self, cur: sqlite3.Cursor) -> None:
        cur.execute("COMMIT")

    def rollback(self, cur: sqlite3.Cursor | None) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def mark(self) -> int:
        return self._conn.total_changes

    def dirty(self, mark: Any, error: BaseException, may_have_written: bool) -> bool:
        if not self._conn.in_transaction:
            raise TransactionLost() from error
        return self._conn.total_changes != mark

    def close(self) -> None:
        try:
            self._conn.execute("PRAGMA optimize")
        finally:
            self._conn.close()
