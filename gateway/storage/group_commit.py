"""One writer thread that runs store operations on a single SQLite connection, committing
whatever has queued up in one transaction (group commit).

Theory of operation
-------------------
Rule 3 says nothing is acknowledged before it is durable, and a durable SQLite commit costs
an fsync of the WAL. One fsync per operation would cap the gateway at the disk's fsync rate;
instead operations share commits:

1. The reactor thread calls `submit(op, args)`. It appends (op, args, Deferred) to a
   `queue.SimpleQueue` and returns the Deferred at once. Nothing blocks the reactor.
2. The writer thread (the only user of the connection) blocks until the queue holds
   something, then takes EVERYTHING queued (up to MAX_BATCH) as one batch.
3. It opens one transaction (BEGIN IMMEDIATE when the batch writes, a plain read snapshot
   otherwise) and runs the operations in queue order. One operation failing must not undo
   the others. An operation that fails before writing anything (AccountExists, an unknown
   account, a bad amount: the common failures) is just reported; a failed statement undoes
   itself. If an operation fails after writing (a duplicate message id after the debit:
   `conn.total_changes` moved), the batch is rolled back and run again with each operation
   in a SAVEPOINT, so that only the failing one is undone. (Savepoints on every operation
   would cost two statements each, about a fifth of the throughput.)
4. One COMMIT, so one fsync, covers the whole batch. Only then are the results handed to
   the reactor, with ONE `callFromThread` per batch (not one per operation), and each
   Deferred fires there, in queue order. If BEGIN or COMMIT fails, or SQLite rolls the
   whole transaction back (disk full, I/O error), every operation of the batch fails:
   none was acknowledged, so none is lost.
5. While the writer is busy committing, new operations queue up and form the next batch.
   The busier the gateway, the larger the batches: the cost of an fsync is shared by more
   operations exactly when throughput matters.
6. Consecutive operations of the same kind (a run: the submits of one TCP read, the
   receipts of one simulator tick) go to the operation's `many` function when it has one,
   which does the whole run with a few statements (multi-row INSERTs and UPDATEs, one debit
   per account; see sqlite_ops).
   If it declines before writing (raises: a balance too short for the whole run, ...), the
   run's operations run one by one as above; if it fails after writing (a duplicate id),
   the batch is redone with savepoints as in step 3. Either way every caller sees exactly
   what its operation alone would return.

The writer's Python code shares the GIL with the reactor (SQLite itself runs with the GIL
released), so the per-operation Python work is kept small: cached statements on one cursor,
tuples rather than dicts, no savepoints on the fast path. The number of `execute` calls
matters even more than their cost: each one releases the GIL around sqlite3_step and must
win it back, and while the reactor thread is busy that takes up to the interpreter's switch
interval (5 ms). A writer issuing one statement per operation therefore crawls exactly when
the reactor is loaded (measured against a thread spinning in Python: 550 single-row INSERTs
a second; 150,000 with `executemany`, whose loop runs in C; 270,000 with 100-row INSERTs).
Hence the runs of step 6.

Reads go through the same queue. That keeps the store's order simple (a read issued after
a write sees it) and costs little: a read is a few microseconds next to the commit.

`close()` enqueues a sentinel: everything submitted before it is run and committed, then
the connection is closed and the thread ends. Between batches the write lock is free, so
another process (the `smsgw` CLI) can write the same file; see sqlite_ops.begin_immediate.
"""
from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from twisted.internet.defer import Deferred, fail
from twisted.python import log
from twisted.python.failure import Failure

__all__ = ["GroupCommitWriter", "Op", "StoreClosed"]

MAX_BATCH = 10_000


class StoreClosed(RuntimeError):
    """An operation was submitted after close()."""


class Op(NamedTuple):
    """A store operation: `fn(cursor, *args)`, run inside the batch's transaction.

    `writes`: it may write, so the batch takes the write lock, and if it raises after
    writing, its writes must be undone (see `_run_ops`).
    `many`: optional `many(cursor, [args, ...]) -> [result, ...]`, the same as calling `fn`
    for each args in order when every call succeeds; it raises (anything) when it cannot
    tell, and the calls then run one by one (see `_run_many`). It should decline before
    writing: failing after a write costs a rerun of the whole batch.
    """

    fn: Callable[..., Any]
    writes: bool
    many: Callable[[Any, list[tuple]], list[Any]] | None = None


class _TransactionLost(Exception):
    """SQLite rolled the whole transaction back (I/O error, disk full, ...)."""


_STOP = object()


class GroupCommitWriter:
    """Owns `conn` from its own thread and runs submitted operations, batch by batch."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        call_from_thread: Callable[..., None],
        *,
        name: str = "sqlite-writer",
        observer: Callable[[float, int], None] | None = None,
    ) -> None:
        self._conn = conn
        # called in the writer thread after each write transaction commits: its seconds
        # from BEGIN to COMMIT and its number of operations (metrics; must be quick)
        self._observer = observer
        self._call_from_thread = call_from_thread
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closing: list[Deferred[None]] | None = None
        self._closed = False
        #: Transactions committed so far (read-only batches are not counted).
        self.commits = 0
        #: Operations run so far.
        self.operations = 0
        #: Batches run so far (each one transaction and one callFromThread).
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- reactor thread ------------------------------------------------------------------

    def submit(self, op: Op, args: tuple) -> Deferred:
        """Queue `op(*args)`; the Deferred fires in the reactor thread after COMMIT."""
        if self._closing is not None:
            return fail(StoreClosed("the store is closed"))
        d: Deferred = Deferred()
        self._queue.put((op, args, d))
        return d

    def close(self) -> Deferred[None]:
        """Run and commit everything queued, close the connection, end the thread."""
        d: Deferred[None] = Deferred()
        if self._closed:
            d.callback(None)
        elif self._closing is None:
            self._closing = [d]
            self._queue.put(_STOP)
        else:
            self._closing.append(d)
        return d

    def _deliver(self, results: list[tuple[Deferred, bool, Any]]) -> None:
        for d, ok, value in results:
            if ok:
                d.callback(value)
            else:
                d.errback(Failure(value))

    def _closed_down(self) -> None:
        self._closed = True
        waiters, self._closing = self._closing or [], []
        for d in waiters:
            d.callback(None)

    # --- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        get, get_nowait, empty = self._queue.get, self._queue.get_nowait, queue.Empty
        stop = False
        while not stop:
            batch = [get()]
            try:
                while len(batch) < MAX_BATCH:
                    batch.append(get_nowait())
            except empty:
                pass
            if batch[-1] is _STOP:
                stop = True
                batch.pop()
            if batch:
                try:
                    results = self._run_batch(batch)
                except Exception as e:  # noqa: BLE001 -- a bug here must not strand the Deferreds
                    log.err(e, "sqlite writer: batch failed")
                    results = [(d, False, e) for _, _, d in batch]
                self.batches += 1
                self._call_from_thread(self._deliver, results)
        try:
            self._conn.execute("PRAGMA optimize")
            self._conn.close()
        except sqlite3.Error as e:
            log.err(e, "sqlite writer: closing the connection")
        self._call_from_thread(self._closed_down)

    def _run_batch(self, batch: list) -> list[tuple[Deferred, bool, Any]]:
        conn = self._conn
        cur = conn.cursor()
        writes = False
        for op, _, _ in batch:
            if op.writes:
                writes = True
                break
        begin = "BEGIN IMMEDIATE" if writes else "BEGIN"
        started = time.perf_counter()
        try:
            cur.execute(begin)
            results = self._run_ops(conn, cur, batch, savepoints=False)
            if results is None:  # an operation failed halfway: redo, each in a savepoint
                cur.execute("ROLLBACK")
                cur.execute(begin)
                results = self._run_ops(conn, cur, batch, savepoints=True)
            cur.execute("COMMIT")
        except Exception as e:  # noqa: BLE001 -- the whole batch fails with it
            if conn.in_transaction:
                try:
                    cur.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            cause = e.__cause__ if isinstance(e, _TransactionLost) else e
            return [(d, False, cause) for _, _, d in batch]
        if writes:
            self.commits += 1
            if self._observer is not None:
                self._observer(time.perf_counter() - started, len(batch))
        self.operations += len(batch)
        return results

    @classmethod
    def _run_ops(
        cls, conn: sqlite3.Connection, cur: sqlite3.Cursor, batch: list, *, savepoints: bool
    ) -> list[tuple[Deferred, bool, Any]] | None:
        """Run the batch's operations in the open transaction, in queue order.

        Without `savepoints` (the fast path) runs of one operation go to its `many`, and an
        operation that raises before writing anything is simply reported as failed (a failed
        statement undoes itself); if one raises after writing, this returns None and the
        caller rolls back and reruns the batch with `savepoints`: one operation at a time,
        each in a SAVEPOINT that undoes exactly the failing one. `conn.total_changes` tells
        which case it is.
        """
        results: list[tuple[Deferred, bool, Any]] = []
        start, n = 0, len(batch)
        while start < n:
            op = batch[start][0]
            end = start + 1
            if op.many is not None and not savepoints:
                while end < n and batch[end][0] is op:
                    end += 1
            run = batch[start:end]
            start = end
            if len(run) > 1:
                done = cls._run_many(conn, cur, op, run, results)
                if done is None:
                    return None
                if done:
                    continue
            for item in run:
                if not cls._run_one(conn, cur, item, results, savepoints):
                    return None
        return results

    @staticmethod
    def _run_many(
        conn: sqlite3.Connection, cur: sqlite3.Cursor, op: Op, run: list,
        results: list[tuple[Deferred, bool, Any]],
    ) -> bool | None:
        """Run `run` (calls of `op`) with `op.many`: True when done; False when it declined
        without writing (run the calls one by one); None when it failed after writing."""
        changes = conn.total_changes
        try:
            values = op.many(cur, [args for _, args, _ in run])
        except Exception as e:  # noqa: BLE001 -- any reason: one by one decides for each call
            if not conn.in_transaction:
                raise _TransactionLost() from e
            return False if conn.total_changes == changes else None
        if len(values) != len(run):
            raise RuntimeError(f"{op.many.__name__} gave {len(values)} results for {len(run)}")
        results.extend([(d, True, value) for (_, _, d), value in zip(run, values, strict=True)])
        return True

    @staticmethod
    def _run_one(
        conn: sqlite3.Connection, cur: sqlite3.Cursor, item: tuple,
        results: list[tuple[Deferred, bool, Any]], savepoints: bool,
    ) -> bool:
        """Run one operation; False when it failed after writing without a savepoint."""
        op, args, d = item
        guarded = op.writes
        if guarded:
            if savepoints:
                cur.execute("SAVEPOINT op")
            else:
                changes = conn.total_changes
        try:
            value = op.fn(cur, *args)
        except Exception as e:  # reported to this operation's caller
            if not conn.in_transaction:
                raise _TransactionLost() from e
            if guarded:
                if savepoints:
                    cur.execute("ROLLBACK TO op")
                    cur.execute("RELEASE op")
                elif conn.total_changes != changes:
                    return False
            results.append((d, False, e))
            return True
        if guarded and savepoints:
            cur.execute("RELEASE op")
        results.append((d, True, value))
        return True
