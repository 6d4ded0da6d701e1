"""The SQLite backend: the Store contract (for the file and the in-memory store), plus group
commit, the CLI's concurrent access, crash safety and the money encoding."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from decimal import Decimal

import pytest
import pytest_twisted
from contract import StoreContract, make_account, make_message
from contract_backlog import BacklogStoreContract
from contract_cdrs import CdrStoreContract
from contract_cluster import ClusterStoreContract
from contract_http import HttpStoreContract
from contract_mo import InboundStoreContract
from contract_webhooks import WebhookStoreContract
from twisted.internet import defer, task
from upstream_contract import UpstreamStoreContract

from gateway.core.ports import NodeIdTaken
from gateway.model import DeliverVia
from gateway.storage.batched import BatchedStore
from gateway.storage.group_commit import GroupCommitWriter, StoreClosed
from gateway.storage.memory import MemoryStore
from gateway.storage.money import from_micro, to_micro
from gateway.storage.ops import Op
from gateway.storage.sqlite import accounts, connection, inbound, messages, outbox, webhooks
from gateway.storage.sqlite.store import SQLITE_OPS, SqliteStore
from gateway.storage.sqlite.writer import SqliteTransactions


def _reactor():
    from twisted.internet import reactor  # the one pytest-twisted installed

    return reactor


def run(path, fn, *args):
    """`fn(cursor, *args)` in a transaction of its own on a connection of its own: what
    another process sees of the file."""
    conn = connection.connect(path, 5.0)
    try:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        result = fn(cur, *args)
        cur.execute("COMMIT")
        return result
    finally:
        conn.close()


class TestSqliteStoreContract(
    StoreContract, HttpStoreContract, WebhookStoreContract, InboundStoreContract,
    UpstreamStoreContract, ClusterStoreContract, BacklogStoreContract, CdrStoreContract,
):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: SqliteStore(tmp_path / "smsgw.db", _reactor())


class _View:
    """One opening of a memory store's data: closing it leaves the data for the next."""

    def __init__(self, executor) -> None:
        self._executor = executor
        self._closed = False
        self.commits = self.operations = self.batches = 0

    def submit(self, op: Op, args: tuple):
        if self._closed:
            return defer.fail(StoreClosed("the store is closed"))
        return self._executor.submit(op, args)

    def submit_each(self, op: Op, calls: list[tuple]):
        if self._closed:
            return defer.fail(StoreClosed("the store is closed"))
        return self._executor.submit_each(op, calls)

    def close(self):
        self._closed = True
        return defer.succeed(None)


class TestMemoryStoreContract(
    StoreContract, HttpStoreContract, WebhookStoreContract, InboundStoreContract,
    UpstreamStoreContract, ClusterStoreContract, BacklogStoreContract, CdrStoreContract,
):
    """The store unit tests of core, http and transport run on keeps the same contract."""

    @pytest.fixture
    def open_store(self):
        memory = MemoryStore()
        yield lambda: BatchedStore(_View(memory._executor), SQLITE_OPS)
        pytest_twisted.blockon(memory.close())

    @pytest_twisted.ensureDeferred
    async def test_every_operation_has_fired_when_the_call_returns(self, store):
        d = store.add_account(make_account(balance="1"))
        assert d.called
        assert store.accept("acme", [make_message("1")], Decimal(1)).result is True
        assert store.get_message("1").result.id == "1"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "smsgw.db"


@pytest.fixture
def store(path):
    store = SqliteStore(path, _reactor())
    yield store
    pytest_twisted.blockon(store.close())


# --- money and schema ------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "micro"), [
    (Decimal(0), 0), (Decimal("0.1"), 100_000), (Decimal("0.000001"), 1),
    (Decimal("-2.5"), -2_500_000), (Decimal("12.3400000"), 12_340_000), (7, 7_000_000),
    (Decimal("9223372036854.775807"), 2**63 - 1),
])
def test_money_converts_exactly_to_micro_units_and_back(amount, micro):
    assert to_micro(amount) == micro
    assert from_micro(micro) == amount


@pytest.mark.parametrize("amount", [
    Decimal("0.0000001"), Decimal("1.2345678"), Decimal("NaN"), Decimal("sNaN"),
    Decimal("Infinity"), Decimal("9223372036854.775808"), Decimal("1e40"),
])
def test_money_that_does_not_fit_micro_units_is_a_value_error(amount):
    with pytest.raises(ValueError):
        to_micro(amount)


@pytest.mark.parametrize("amount", [0.1, "1", True])
def test_money_must_be_decimal_or_int(amount):
    with pytest.raises(TypeError):
        to_micro(amount)


def test_balances_are_stored_as_integer_micro_units(path):
    run(path, accounts.add_account, make_account(balance="0.1"))
    run(path, accounts.topup, "acme", Decimal("0.2"))
    row = run(path, lambda cur: cur.execute(
        "SELECT balance, typeof(balance) FROM accounts").fetchone())
    assert row == (300_000, "integer")


def test_file_is_wal_with_full_sync_and_foreign_keys(path):
    conn = connection.connect(path, 5.0)

    def pragma(name: str):
        return conn.execute(f"PRAGMA {name}").fetchone()[0]

    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 5000
    conn.close()


def test_none_and_bytes_skip_the_adapter_search_and_still_bind_as_null_and_blob(path):
    conn = connection.connect(path, 5.0)
    try:
        # connect() registered them: the search then ends at its first, cheap step
        assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
        body = b"\x00\xffbody"
        assert sqlite3.adapters[(bytes, sqlite3.PrepareProtocol)](body) is body

        class Blob(bytes):
            pass  # a subclass is not the registered type: it takes the search as before

        row = conn.execute("SELECT ?, typeof(?), ?, typeof(?), ?, typeof(?)",
                           (None, None, body, body, Blob(b"ab"), Blob(b"ab"))).fetchone()
    finally:
        conn.close()
    assert row == (None, "null", body, "blob", b"ab", "blob")


def test_migrations_are_recorded_once_and_not_reapplied(path):
    newest = connection.migrations()[-1][0]
    for n in range(2):
        run(path, accounts.add_account, make_account(f"a{n}"))
        versions = run(path, lambda cur: [r[0] for r in cur.execute(
            "SELECT version FROM schema_version")])
        assert versions == sorted(set(versions)) and versions[-1] == newest
    assert len(run(path, accounts.list_accounts)) == 2


def test_an_unusable_path_fails_when_the_store_is_created(tmp_path):
    with pytest.raises(sqlite3.OperationalError):
        SqliteStore(tmp_path / "no-such-dir" / "smsgw.db", _reactor())


# --- group commit ----------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_concurrent_writes_share_commits(store):
    await store.add_account(make_account(balance="0"))
    commits = store.commits
    await defer.gatherResults([store.topup("acme", Decimal("0.01")) for _ in range(500)])
    assert store.commits - commits < 50
    assert (await store.get_account("acme")).balance == Decimal(5)


@pytest_twisted.ensureDeferred
async def test_results_reach_the_reactor_with_one_call_per_batch(path):
    reactor = _reactor()
    calls = []

    class CountingReactor:
        def callFromThread(self, f, *args):
            calls.append(f)
            reactor.callFromThread(f, *args)

    store = SqliteStore(path, CountingReactor())
    await store.add_account(make_account(balance="1000"))
    await defer.gatherResults([
        store.accept("acme", [make_message(str(n))], Decimal(1)) for n in range(300)
    ])
    assert len(calls) == store.batches < 30
    await store.close()
    assert len(calls) == store.batches + 1  # and one to say the store is closed


@pytest_twisted.ensureDeferred
async def test_a_read_issued_after_a_write_sees_it(store):
    await store.add_account(make_account(balance="1"))
    store.topup("acme", Decimal(2))
    store.accept("acme", [make_message("1")], Decimal("0.5"))
    account, message = await defer.gatherResults([
        store.get_account("acme"), store.get_message("1")
    ])
    assert account.balance == Decimal("2.5")
    assert message is not None


@pytest_twisted.ensureDeferred
async def test_operations_after_close_fail_with_store_closed(store):
    await store.close()
    with pytest.raises(StoreClosed):
        await store.get_account("acme")


@pytest_twisted.ensureDeferred
async def test_a_transaction_lost_midway_fails_every_operation_of_its_batch(path):
    conn = connection.connect(path, 5.0)
    conn.execute("CREATE TABLE t (x INTEGER)")
    writer = GroupCommitWriter(SqliteTransactions(conn, 5.0), _reactor().callFromThread)

    def insert(cur, x):
        cur.execute("INSERT INTO t (x) VALUES (?)", (x,))

    def lose(cur):
        cur.execute("ROLLBACK")  # what SQLite does itself on SQLITE_FULL or an I/O error
        raise sqlite3.OperationalError("database or disk is full")

    def hold(cur):  # keeps the writer busy while the next batch queues up
        started.set()
        release.wait(5)

    started, release = threading.Event(), threading.Event()
    held = writer.submit(Op(hold, writes=False), ())
    assert started.wait(5)
    batch = [writer.submit(Op(insert, writes=True), (1,)),
             writer.submit(Op(lose, writes=True), ()),
             writer.submit(Op(insert, writes=True), (2,))]
    release.set()
    await held
    results = await defer.DeferredList(batch, consumeErrors=True)
    assert [ok for ok, _ in results] == [False, False, False]
    assert all(f.check(sqlite3.OperationalError) for _, f in results)
    await writer.submit(Op(insert, writes=True), (3,))  # the writer carries on
    rows = await writer.submit(Op(lambda cur: cur.execute("SELECT x FROM t").fetchall(),
                                  writes=False), ())
    assert rows == [(3,)]
    await writer.close()


@pytest_twisted.ensureDeferred
async def test_a_file_locked_too_long_fails_the_batch_and_the_store_recovers(path):
    store = SqliteStore(path, _reactor(), busy_timeout=0.2)
    await store.add_account(make_account(balance="1"))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock for a while
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await store.topup("acme", Decimal(1))
    other.execute("ROLLBACK")
    other.close()
    assert await store.topup("acme", Decimal(1)) == Decimal(2)
    await store.close()


# --- the admin CLI on the same file ----------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_cli_writes_while_the_store_is_busy_without_lock_errors(store, path):
    """A second store on the file (the CLI's) writes while the gateway commits continuously."""
    await store.add_account(make_account(balance="1000000"))
    running = True
    numbers = iter(range(10**9))

    async def load():
        while running:
            await store.accept("acme", [make_message(str(next(numbers)))], Decimal("0.01"))

    workers = [defer.ensureDeferred(load()) for _ in range(200)]
    cli = SqliteStore(path, _reactor())
    await cli.add_account(make_account("from-cli", balance="0"))
    for n in range(20):
        assert (await cli.get_account("from-cli")).balance == Decimal("0.5") * n
        assert await cli.get_account("acme") is not None  # reads interleave with writes
        await cli.topup("from-cli", Decimal("0.5"))
        await task.deferLater(_reactor(), 0.01, lambda: None)  # a person's pace, roughly
    version = await cli.settings_version()
    await cli.close()
    running = False
    await defer.gatherResults(workers)
    assert (await store.get_account("from-cli")).balance == Decimal(10)
    assert await store.settings_version() == version
    assert store.commits > 20  # the store really was committing throughout


# --- crash safety ----------------------------------------------------------------------------

_CRASHING_GATEWAY = textwrap.dedent("""
    import sys
    from decimal import Decimal
    from twisted.internet import reactor
    from gateway.model import Address, Message
    from gateway.storage.sqlite.store import SqliteStore

    store = SqliteStore(sys.argv[1], reactor)
    numbers = iter(range(1, 10**9))

    def submit():
        message_id = str(next(numbers))
        m = Message(id=message_id, account="acme", source=Address(addr="A"),
                    destination=Address(ton=1, npi=1, addr="359888"), body=b"x" * 100,
                    price=Decimal("0.01"))
        d = store.accept("acme", [m], Decimal("0.01"))

        def acknowledged(ok):
            assert ok
            sys.stdout.write(message_id + "\\n")  # the submit_sm_resp
            sys.stdout.flush()
            submit()

        def failed(f):
            sys.stderr.write(f.getTraceback())
            reactor.stop()

        d.addCallbacks(acknowledged, failed)

    reactor.callWhenRunning(lambda: [submit() for _ in range(64)])
    reactor.run()
""")


def test_a_killed_gateway_loses_no_acknowledged_message(path):
    run(path, accounts.add_account, make_account(balance="1000000"))
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_GATEWAY, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        acknowledged = []
        while len(acknowledged) < 3000:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(line)
        os.kill(child.pid, signal.SIGKILL)  # mid-run: commits are still in progress
        out, err = child.communicate()
    finally:
        watchdog.cancel()
    acknowledged += out.splitlines(keepends=True)
    ids = [line.decode().strip() for line in acknowledged if line.endswith(b"\n")]
    assert len(ids) >= 3000, err.decode()

    missing = [i for i in ids if run(path, messages.get_message, i) is None]
    stored = run(path, lambda cur: cur.execute("SELECT count(*) FROM messages").fetchone()[0])
    balance = run(path, accounts.get_account, "acme").balance
    assert missing == []
    assert stored >= len(ids)
    assert balance == Decimal(1000000) - Decimal("0.01") * stored


def _plan(path, sql, args) -> str:
    rows = run(path, lambda cur: cur.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall())
    return " ".join(r[3] for r in rows)


def test_adoption_and_outbox_queries_seek_their_indexes(path):
    assert "SEARCH messages USING INDEX messages_unfinished" in _plan(
        path, messages._ADOPTABLE, (3, 5))
    assert "TEMP B-TREE" not in _plan(path, messages._ADOPTABLE, (3, 5))
    assert "SEARCH outbox USING INDEX outbox_account" in _plan(
        path, outbox._CLAIMABLE, ("acme", 5))
    assert "SEARCH outbox USING INDEX outbox_account" in _plan(
        path, outbox._PENDING_OUTBOX, ("acme", 0, 5))


def test_webhook_and_inbound_queries_seek_their_indexes(path):
    due = _plan(path, webhooks._CLAIMABLE, (5.0, "[]", 10))
    assert "SEARCH webhook_outbox USING INDEX webhook_outbox_due" in due
    assert "TEMP B-TREE" not in due  # already in (next_attempt_at, id) order
    assert "USING INDEX webhook_outbox_account" in _plan(
        path, webhooks.list_sql(None, True), (0, "acme", 10))
    assert "USING INDEX webhook_outbox_dead" in _plan(path, webhooks.list_sql(True, False), (0, 10))
    group = _plan(path, inbound._GROUP_PARTS, ("1", "2", 7, 3))
    assert "SEARCH inbound_parts USING INDEX sqlite_autoindex_inbound_parts" in group
    assert "TEMP B-TREE" not in group  # already by seq


def test_a_migration_numbered_below_the_newest_applied_is_still_applied(path, monkeypatch):
    """0003 was written after files had reached 0004: those files must get it too."""
    every = connection.migrations()
    assert [version for version, _, _ in every][:4] == [1, 2, 3, 4]
    monkeypatch.setattr(connection, "migrations", lambda: [m for m in every if m[0] in (1, 2, 4)])
    conn = connection.connect(path, 5.0)  # a file made before 0003 existed
    conn.execute('INSERT INTO accounts (system_id, password_hash, max_binds, throughput,'
                 ' "window") VALUES (\'old\', \'h\', 1, 0, 10)')
    assert {r[0] for r in conn.execute("SELECT version FROM schema_version")} == {1, 2, 4}
    conn.close()
    monkeypatch.undo()

    for _ in range(2):  # applied on the next open, and only once
        versions = run(path, lambda cur: [r[0] for r in cur.execute(
            "SELECT version FROM schema_version")])
        assert sorted(versions) == [v for v, _, _ in every]
        old = run(path, accounts.get_account, "old")
        assert (old.webhook_url, old.webhook_secret, old.deliver_via) == (
            "", "", DeliverVia.AUTO)
        assert run(path, webhooks.webhook_counts) == {"pending": 0, "dead": 0}
        assert run(path, inbound.list_numbers, None) == []
        assert run(path, inbound.held_inbound, 1e12, 10) == []


def test_two_migrations_with_one_version_are_refused(tmp_path):
    for name in ("0001_initial.sql", "0001_again.sql", "notes.txt"):
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match="share version 1"):
        connection.read_migrations(tmp_path.iterdir())
    (tmp_path / "0001_again.sql").unlink()
    assert [name for _, name, _ in connection.read_migrations(tmp_path.iterdir())] == [
        "0001_initial.sql"]


# --- several processes on one file -----------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_node_id_held_by_a_running_gateway_is_refused_until_it_stops(path):
    running = SqliteStore(path, _reactor())
    other = SqliteStore(path, _reactor())
    try:
        first = await running.join_cluster(3, 100.0)
        with pytest.raises(NodeIdTaken, match="node_id 3"):
            await other.join_cluster(3, 101.0)
        assert await other.join_cluster(4, 101.0) > first  # another node_id is free
        await running.close()  # the process ends: its lock goes with it
        assert await other.join_cluster(3, 102.0) > first
    finally:
        await running.close()
        await other.close()
