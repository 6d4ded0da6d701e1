"""One writer thread that runs store operations on one database connection, committing
whatever has queued up in one transaction (group commit). The SQLite and PostgreSQL
backends share it; each supplies its `Transactions` (sqlite/writer.py, postgres/writer.py).

Theory of operation
-------------------
Rule 3 says nothing is acknowledged before it is durable, and a durable commit costs an
fsync (of SQLite's WAL, or PostgreSQL's) plus, for PostgreSQL, network round trips. One
commit per operation would cap the gateway at that rate; instead operations share commits:

1. The reactor thread calls `submit(op, args)`. It appends (op, args, Deferred) to a
   `queue.SimpleQueue` and returns the Deferred at once. Nothing blocks the reactor.
2. The writer thread (the only user of the connection) blocks until the queue holds
   something, then takes EVERYTHING queued (up to MAX_BATCH) as one batch.
3. It opens one transaction (taking the write lock when the batch writes) and runs the
   operations in queue order. One operation failing must not undo the others. An
   operation that fails without leaving the transaction dirty (AccountExists found by a
   read, an unknown account, a bad amount: the common failures) is just reported. One
   that may have written before failing, or that broke the transaction (a failed
   PostgreSQL statement aborts it), makes the batch roll back and run again with each
   operation in a SAVEPOINT, so that only the failing one is undone. (Savepoints on every
   operation would cost two statements each, about a fifth of the throughput.) The
   backend's `Transactions.dirty` tells which case it is.
4. One COMMIT covers the whole batch. Only then are the results handed to the reactor,
   with ONE `callFromThread` per batch (not one per operation), and each Deferred fires
   there, in queue order. If BEGIN or COMMIT fails, or the database rolls the whole
   transaction back (disk full, I/O error, a lost connection), every operation of the
   batch fails: none was acknowledged, so none is lost. A transient conflict (a
   PostgreSQL deadlock between nodes, a serialization failure) reruns the batch.
5. While the writer is busy committing, new operations queue up and form the next batch.
   The busier the gateway, the larger the batches: the cost of a commit is shared by more
   operations exactly when throughput matters.
6. Consecutive operations of the same kind (a run: the submits of one TCP read, the
   receipts of one simulator tick) go to the operation's `many` function when it has one,
   which does the whole run with a few statements (multi-row INSERTs and UPDATEs, one debit
   per account). If it declines (raises) with the transaction clean, the run's operations
   run one by one as above; if the transaction is dirty, the batch is redone with
   savepoints as in step 3. Either way every caller sees exactly what its operation alone
   would return.

The writer's Python code shares the GIL with the reactor (the database drivers release it
while they wait), so the per-operation Python work is kept small: cached statements,
tuples rather than dicts, no savepoints on the fast path. The number of statements matters
even more than their cost: each one releases the GIL and must win it back, and while the
reactor thread is busy that takes up to the interpreter's switch interval (5 ms). A writer
issuing one statement per operation therefore crawls exactly when the reactor is loaded
(measured on SQLite against a thread spinning in Python: 550 single-row INSERTs a second;
150,000 with `executemany`, whose loop runs in C; 270,000 with 100-row INSERTs). Hence the
runs of step 6.

Reads go through the same queue. That keeps the store's order simple (a read issued after
a write sees it) and costs little: a read is a few microseconds next to the commit.

`close()` enqueues a sentinel: everything submitted before it is run and committed, then
the connection is closed and the thread ends.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail
from twisted.python import log
from twisted.python.failure import Failure

from gateway.storage.ops import Op

__all__ = ["BatchObserver", "Gathered", "GroupCommitWriter", "StoreClosed", "Transactions"]

MAX_BATCH = 10_000
MAX_RERUNS = 5  # a batch that keeps meeting transient conflicts fails after this many

# Told of each write batch after its commit: seconds from BEGIN to COMMIT, operations.
BatchObserver = Callable[[float, int], None]


class StoreClosed(RuntimeError):
    """An operation was submitted after close()."""


class TransactionLost(Exception):
    """The database rolled the whole transaction back (I/O error, disk full, a lost
    connection); `__cause__` is why."""


class Transient(Exception):
    """The batch met a conflict worth running it again for (deadlock, serialization)."""


class Transactions(Protocol):
    """What the writer needs of a backend: its connection and transaction statements."""

    def cursor(self) -> Any:
        """A cursor on the (re)opened connection; raises when it cannot be had."""

    def begin(self, cur: Any, writes: bool) -> None: ...

    def commit(self, cur: Any) -> None: ...

    def rollback(self, cur: Any) -> None:
        """Roll back if a transaction is open; never raises."""

    def mark(self) -> Any:
        """A token for `dirty`, taken before an operation runs."""

    def dirty(self, mark: Any, error: BaseException, may_have_written: bool) -> bool:
        """After an operation raised `error`: whether the transaction must be redone (the
        operation wrote, or may have: `may_have_written` is false for a `many` declining
        before it writes; or the backend aborted the transaction). Raises TransactionLost
        when the whole transaction is gone, Transient when the batch should be rerun."""

    def close(self) -> None: ...


class Gathered:
    """The results of a `submit_each`, filled in by its parts; its Deferred fires with the
    list once the last part is in (in the reactor thread, from `_deliver`)."""

    __slots__ = ("_missing", "deferred", "results")

    def __init__(self, n: int) -> None:
        self.deferred: Deferred[list[tuple[bool, Any]]] = Deferred()
        self.results: list[tuple[bool, Any]] = [(False, None)] * n
        self._missing = n
        if not n:
            self.deferred.callback(self.results)

    def put(self, index: int, ok: bool, value: Any) -> None:
        self.results[index] = (ok, value)
        self._missing -= 1
        if not self._missing:
            self.deferred.callback(self.results)


class _Part:
    """Stands in for an operation's Deferred in the queue: `_deliver` fires it like one."""

    __slots__ = ("_gathered", "_index")

    def __init__(self, gathered: Gathered, index: int) -> None:
        self._gathered = gathered
        self._index = index

    def callback(self, value: Any) -> None:
        self._gathered.put(self._index, True, value)

    def errback(self, failure: Failure) -> None:
        self._gathered.put(self._index, False, failure.value)


_STOP = object()


class GroupCommitWriter:
    """Owns a connection from its own thread and runs submitted operations, batch by batch."""

    def __init__(
        self,
        transactions: Transactions,
        call_from_thread: Callable[..., None],
        *,
        name: str = "store-writer",
        observer: BatchObserver | None = None,
    ) -> None:
        self._tx = transactions
        self._call_from_thread = call_from_thread
        #: Told of each committed write batch (metrics); may be set once running.
        self.observer = observer
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

    def submit_each(self, op: Op, calls: list[tuple]) -> Deferred[list[tuple[bool, Any]]]:
        """Queue `op(*args)` for each of `calls` as consecutive operations (a run, step 6):
        one Deferred for all of them, firing after COMMIT with each call's (ok, value or
        exception), in order. Each call succeeds or fails alone, as if submitted alone."""
        if self._closing is not None:
            return fail(StoreClosed("the store is closed"))
        gathered = Gathered(len(calls))
        put = self._queue.put
        for index, args in enumerate(calls):
            put((op, args, _Part(gathered, index)))
        return gathered.deferred

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
                    log.err(e, "store writer: batch failed")
                    results = [(d, False, e) for _, _, d in batch]
                self.batches += 1
                self._call_from_thread(self._deliver, results)
        try:
            self._tx.close()
        except Exception as e:  # noqa: BLE001
            log.err(e, "store writer: closing the connection")
        self._call_from_thread(self._closed_down)

    def _run_batch(self, batch: list) -> list[tuple[Deferred, bool, Any]]:
        writes = any(op.writes for op, _, _ in batch)
        for _ in range(MAX_RERUNS):
            try:
                return self._try_batch(batch, writes)
            except Transient:
                continue
        return [(d, False, RuntimeError("the store kept meeting conflicts; try again"))
                for _, _, d in batch]

    def _try_batch(self, batch: list, writes: bool) -> list[tuple[Deferred, bool, Any]]:
        tx = self._tx
        cur = None
        started = time.perf_counter()
        try:
            cur = tx.cursor()
            tx.begin(cur, writes)
            results = self._run_ops(cur, batch, savepoints=False)
            if results is None:  # an operation failed halfway: redo, each in a savepoint
                tx.rollback(cur)
                tx.begin(cur, writes)
                results = self._run_ops(cur, batch, savepoints=True)
            tx.commit(cur)
        except Transient:
            tx.rollback(cur)
            raise
        except Exception as e:  # noqa: BLE001 -- the whole batch fails with it
            tx.rollback(cur)
            cause = e.__cause__ if isinstance(e, TransactionLost) and e.__cause__ else e
            return [(d, False, cause) for _, _, d in batch]
        if writes:
            self.commits += 1
            observer = self.observer
            if observer is not None:  # from BEGIN to COMMIT, in this thread: must be quick
                observer(time.perf_counter() - started, len(batch))
        self.operations += len(batch)
        return results

    def _run_ops(self, cur: Any, batch: list, *, savepoints: bool
                 ) -> list[tuple[Deferred, bool, Any]] | None:
        """Run the batch's operations in the open transaction, in queue order.

        Without `savepoints` (the fast path) runs of one operation go to its `many`, and an
        operation that raises with the transaction clean is simply reported as failed; if
        the transaction is dirty, this returns None and the caller rolls back and reruns
        the batch with `savepoints`: one operation at a time, each in a SAVEPOINT that
        undoes exactly the failing one.
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
                done = self._run_many(cur, op, run, results)
                if done is None:
                    return None
                if done:
                    continue
            for item in run:
                if not self._run_one(cur, item, results, savepoints):
                    return None
        return results

    def _run_many(self, cur: Any, op: Op, run: list,
                  results: list[tuple[Deferred, bool, Any]]) -> bool | None:
        """Run `run` (calls of `op`) with `op.many`: True when done; False when it declined
        with the transaction clean (run the calls one by one); None when it is dirty."""
        mark = self._tx.mark()
        try:
            values = op.many(cur, [args for _, args, _ in run])
        except Exception as e:  # noqa: BLE001 -- any reason: one by one decides for each call
            return None if self._tx.dirty(mark, e, False) else False
        if len(values) != len(run):
            raise RuntimeError(f"{op.many.__name__} gave {len(values)} results for {len(run)}")
        results.extend([(d, True, value) for (_, _, d), value in zip(run, values, strict=True)])
        return True

    def _run_one(self, cur: Any, item: tuple, results: list[tuple[Deferred, bool, Any]],
                 savepoints: bool) -> bool:
        """Run one operation; False when it failed dirty without a savepoint. With
        `savepoints` every operation, reads too, gets one: a failed PostgreSQL read aborts
        the transaction as surely as a failed write."""
        op, args, d = item
        if savepoints:
            cur.execute("SAVEPOINT op")
        mark = self._tx.mark()
        try:
            value = op.fn(cur, *args)
        except Exception as e:  # reported to this operation's caller
            if savepoints:
                self._tx.dirty(mark, e, op.writes)  # raises when the transaction is gone
                cur.execute("ROLLBACK TO SAVEPOINT op")
                cur.execute("RELEASE SAVEPOINT op")
            elif self._tx.dirty(mark, e, op.writes):
                return False
            results.append((d, False, e))
            return True
        if savepoints:
            cur.execute("RELEASE SAVEPOINT op")
        results.append((d, True, value))
        return True
