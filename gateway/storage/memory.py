"""An in-memory store for tests: the SQLite backend's operations on a private in-memory
database, each run inline in its own transaction, so every Deferred has fired by the time
the call returns. Unit tests of core, http and transport run on it with `task.Clock` and
no real waits; it passes the same contract suites as the file and PostgreSQL stores.
"""
from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed

from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import StoreClosed
from gateway.storage.ops import Op
from gateway.storage.sqlite.connection import StoreConnection, connect
from gateway.storage.sqlite.store import SQLITE_OPS

__all__ = ["MemoryStore"]


class _InlineExecutor:
    """Runs each operation at once in a transaction of its own (no thread, no batching)."""

    def __init__(self, conn: StoreConnection) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        self._closed = False
        self.commits = 0
        self.operations = 0
        self.batches = 0

    def submit(self, op: Op, args: tuple) -> Deferred:
        if self._closed:
            return fail(StoreClosed("the store is closed"))
        cur = self._cur
        cur.execute("BEGIN IMMEDIATE" if op.writes else "BEGIN")
        try:
            value = op.fn(cur, *args)
            cur.execute("COMMIT")
        except Exception as e:  # reported to the caller, with nothing written
            if self._conn.in_transaction:
                cur.execute("ROLLBACK")
            return fail(e)
        self.operations += 1
        self.batches += 1
        self.commits += op.writes
        return succeed(value)

    def submit_each(self, op: Op, calls: list[tuple]) -> Deferred[list[tuple[bool, Any]]]:
        if self._closed:
            return fail(StoreClosed("the store is closed"))
        results: list[tuple[bool, Any]] = []
        for args in calls:
            self.submit(op, args).addCallbacks(
                lambda value: results.append((True, value)),
                lambda failure: results.append((False, failure.value)))
        return succeed(results)

    def close(self) -> Deferred[None]:
        if not self._closed:
            self._closed = True
            self._conn.close()
        return succeed(None)


class MemoryStore(BatchedStore):
    """A fresh, empty store that lives as long as the object (call it from one thread)."""

    backend = "memory"

    def __init__(self) -> None:
        super().__init__(_InlineExecutor(connect(":memory:", 0.0)), SQLITE_OPS)
