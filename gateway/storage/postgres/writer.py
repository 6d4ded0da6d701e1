"""PostgreSQL's side of the group-commit writer (storage/group_commit.py): one connection,
reopened when it is lost, and PostgreSQL's way of telling a dirty transaction.

Why a writer thread with a blocking psycopg connection, rather than psycopg's asyncio API
or a pool of connections: the group commit is what makes a store fast (one round trip and
one WAL flush for a whole batch), and it wants exactly one connection that a single
thread drives; the asyncio API would need the asyncio reactor for the whole gateway and
gives nothing a batch does not already have; a pool would split the batches and multiply
the commits. (bench/smpp_e2e.py --database compares; see the README's numbers.) psycopg
releases the GIL while it waits for the server, so the reactor runs meanwhile.

A failed PostgreSQL statement aborts the whole transaction, so unlike SQLite any
operation that raised after a statement failed is dirty, and so is any writing operation
that raised (it cannot be told whether it wrote). A lost connection loses the
transaction: the batch fails, nothing in it was acknowledged, and the next batch opens a
new connection (and takes the node lock again: if another process took it meanwhile,
this node's heartbeat finds itself taken over and it stops). Deadlocks between nodes and
serialization failures rerun the batch.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import errors, pq
from twisted.python import log

from gateway.storage.group_commit import TransactionLost, Transient
from gateway.storage.postgres.connection import StoreConnection, connect

__all__ = ["PostgresTransactions"]

_TRANSIENT = (errors.SerializationFailure, errors.DeadlockDetected)


class PostgresTransactions:
    """`group_commit.Transactions` over one PostgreSQL connection, reopened as needed;
    `on_reconnect` is called (from the writer thread) after a lost connection came back."""

    def __init__(self, url: str, conn: StoreConnection,
                 on_reconnect: Callable[[], None] | None = None) -> None:
        self._url = url
        self._conn: StoreConnection | _Closed | None = conn
        self._lost = False
        self._on_reconnect = on_reconnect

    def cursor(self) -> psycopg.Cursor:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._reconnect()
        return conn.cursor()

    def _reconnect(self) -> StoreConnection:
        old = self._conn
        node_id = old.node_id if old is not None else None
        self._lost = True
        self._conn = _Closed(node_id)  # until the new one is there
        conn = connect(self._url, application_name="smsgw-writer")
        if node_id is not None and not conn.take_node_lock(node_id):
            log.msg(f"store: node lock {node_id} is held by another process after reconnecting")
        self._conn = conn
        log.msg("store: reconnected to PostgreSQL")
        if self._lost and self._on_reconnect is not None:
            self._lost = False
            self._on_reconnect()
        return conn

    def begin(self, cur: psycopg.Cursor, writes: bool) -> None:
        cur.execute("BEGIN")

    def commit(self, cur: psycopg.Cursor) -> None:
        try:
            cur.execute("COMMIT")
        except psycopg.OperationalError as e:
            self._drop()
            raise TransactionLost() from e

    def rollback(self, cur: psycopg.Cursor | None) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            return
        try:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            self._drop()

    def mark(self) -> None:
        return None

    def dirty(self, mark: Any, error: BaseException, may_have_written: bool) -> bool:
        if isinstance(error, _TRANSIENT):
            raise Transient() from error
        conn = self._conn
        if conn is None or conn.closed or isinstance(error, psycopg.OperationalError) and (
                conn.info.transaction_status in (pq.TransactionStatus.UNKNOWN,
                                                 pq.TransactionStatus.IDLE)):
            self._drop()
            raise TransactionLost() from error
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            return True
        return may_have_written

    def _drop(self) -> None:
        """The connection is gone (or unusable): the next batch reconnects."""
        self._lost = True
        conn, self._conn = self._conn, None
        if conn is not None:
            node_id = conn.node_id
            try:
                conn.close()
            except psycopg.Error:
                pass
            # keep what the new connection must hold again
            self._conn = _Closed(node_id)

    def close(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            conn.close()


class _Closed:
    """Stands for a lost connection until the next batch reconnects."""

    closed = True

    def __init__(self, node_id: int | None) -> None:
        self.node_id = node_id
