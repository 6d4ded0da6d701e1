"""The default store: one SQLite file in WAL mode, served through the group-commit writer.

`SQLITE_OPS` is the table of its store operations (the functions of this package, found
by storage/ops.OPERATIONS); `SqliteStore` opens a file and serves them. The gateway and the
`smsgw` CLI both use it, on the same file at once if need be.
"""
from __future__ import annotations

import os

from twisted.internet.interfaces import IReactorFromThreads

from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import BatchObserver, GroupCommitWriter
from gateway.storage.ops import collect
from gateway.storage.sqlite.connection import connect
from gateway.storage.sqlite.writer import SqliteTransactions

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SQLITE_OPS", "SqliteStore"]

DEFAULT_BUSY_TIMEOUT = 5.0

SQLITE_OPS = collect("gateway.storage.sqlite")


class SqliteStore(BatchedStore):
    """The store over a SQLite file, with group commit. Call it from the reactor thread.

    Opening (and migrating) the file happens in the constructor, so a bad path fails at
    start; from then on one writer thread owns the connection until `close()`.
    """

    backend = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        reactor: IReactorFromThreads,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        observer: BatchObserver | None = None,
    ) -> None:
        self.path = os.fspath(path)
        conn = connect(path, busy_timeout)
        writer = GroupCommitWriter(SqliteTransactions(conn, busy_timeout),
                                   reactor.callFromThread, name="sqlite-writer",
                                   observer=observer)
        super().__init__(writer, SQLITE_OPS)
