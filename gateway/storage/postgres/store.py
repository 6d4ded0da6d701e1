"""The PostgreSQL store: several gateway nodes on one database, served through the same
group-commit writer as SQLite (one connection, one thread: see writer.py for why), with a
listener for what the other nodes do.

`POSTGRES_OPS` is the table of its store operations (the functions of this package, found
by storage/ops.OPERATIONS); `PostgresStore` connects, migrates and serves them. The gateway and the `smsgw` CLI both use it.
"""
from __future__ import annotations

from twisted.internet.interfaces import IReactorFromThreads
from twisted.python import log

from gateway.core.ports import StoreListener
from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import BatchObserver, GroupCommitWriter
from gateway.storage.ops import collect
from gateway.storage.postgres.connection import connect, migrate, redacted
from gateway.storage.postgres.listener import Listener
from gateway.storage.postgres.writer import PostgresTransactions

__all__ = ["POSTGRES_OPS", "PostgresStore", "connect_error"]

POSTGRES_OPS = collect("gateway.storage.postgres")


def connect_error(url: str, error: Exception) -> str:
    """What to tell an operator whose database cannot be opened."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"cannot use the PostgreSQL database {redacted(url)}: {reason}"


class PostgresStore(BatchedStore):
    """The store over a PostgreSQL database. Call it from the reactor thread.

    Connecting and migrating happen in the constructor, so an unreachable or wrong
    database fails at start; from then on one writer thread owns the connection (and
    reopens it when it is lost) until `close()`.
    """

    backend = "postgresql"

    def __init__(self, url: str, reactor: IReactorFromThreads, *,
                 observer: BatchObserver | None = None) -> None:
        self.url = url
        self._reactor = reactor
        conn = connect(url, application_name="smsgw-writer")
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._listener: Listener | None = None
        self._watcher: StoreListener | None = None
        tx = PostgresTransactions(url, conn, on_reconnect=self._reconnected)
        writer = GroupCommitWriter(tx, reactor.callFromThread, name="postgres-writer",
                                   observer=observer)
        super().__init__(writer, POSTGRES_OPS)

    def watch(self, listener: StoreListener) -> None:
        """Hand `listener` the other nodes' notifications (from now until close)."""
        self._watcher = listener
        if self._listener is None:
            self._listener = Listener(self.url, listener, self._reactor.callFromThread)

    def _reconnected(self) -> None:  # the writer thread
        watcher = self._watcher
        if watcher is not None:
            self._reactor.callFromThread(watcher.reconnected)

    def close(self):
        if self._listener is not None:
            listener, self._listener = self._listener, None
            try:
                listener.stop()
            except Exception as e:  # noqa: BLE001 -- closing goes on
                log.err(e, "stopping the store listener")
        return super().close()
