"""Runs of one operation in a group-commit batch (accept, finish, ack_outbox, queue_outbox,
webhooks_delivered, webhook_failed go to their `*_many` in one go) must give every caller
exactly what the operation alone gives.

Each scenario issues the same calls twice on identical files: through SqliteStore while
its writer is held, so that they all land in one batch, and one by one (each awaited, so
each is a batch of its own). Results (values or exception types) and the files' contents
must match.
"""
from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message, make_outbox
from contract_webhooks import make_webhook
from twisted.internet import defer

from gateway.model import Channel, MessageState
from gateway.storage.ops import Op
from gateway.storage.sqlite import connection, messages, outbox, webhooks
from gateway.storage.sqlite.rows import ROWS_PER_STATEMENT
from gateway.storage.sqlite.store import SqliteStore

DONE = MessageState.DELIVERED


def _reactor():
    from twisted.internet import reactor

    return reactor


async def _setup(path) -> None:
    store = SqliteStore(path, _reactor())
    await store.add_account(make_account("acme", balance="0.25"))  # five messages at 0.05
    await store.add_account(make_account("beta", balance="0.10"))
    await store.add_account(make_account("bulk", balance="1000"))
    for n in range(1, 4):
        assert await store.accept("acme", [make_message(f"10{n}")], Decimal("0.05"))
    await store.finish("103", DONE, 0, 5.0, [make_outbox("103")])  # already final; item 1
    await store.close()


async def _one_by_one(path, calls: list[tuple[str, tuple]]) -> list:
    store = SqliteStore(path, _reactor())
    outcomes = []
    try:
        for name, args in calls:
            try:
                outcomes.append(("ok", await getattr(store, name)(*args)))
            except Exception as e:  # noqa: BLE001 -- compared by type
                outcomes.append(("error", type(e).__name__))
    finally:
        await store.close()
    return outcomes


def _state(path) -> dict:
    conn = sqlite3.connect(path)
    try:
        return {
            "accounts": conn.execute(
                "SELECT system_id, balance FROM accounts ORDER BY 1").fetchall(),
            "messages": conn.execute(
                "SELECT id, account, state, error_code, done_at FROM messages ORDER BY id"
            ).fetchall(),
            "outbox": conn.execute(
                "SELECT id, account, message_id, body FROM outbox ORDER BY id").fetchall(),
            "webhook_outbox": conn.execute(
                "SELECT id, account, message_id, event_id, payload, attempts, next_attempt_at,"
                " last_error, dead_at FROM webhook_outbox ORDER BY id").fetchall(),
            "meta": conn.execute("SELECT last_message_id FROM meta").fetchall(),
        }
    finally:
        conn.close()


async def _in_one_batch(store: SqliteStore, calls: list[tuple[str, tuple]]) -> list:
    started, release = threading.Event(), threading.Event()

    def hold(cur):  # keeps the writer busy while the calls queue up behind it
        started.set()
        release.wait(5)

    held = store._executor.submit(Op(hold, writes=False), ())
    assert started.wait(5)
    pending = [getattr(store, name)(*args) for name, args in calls]
    release.set()
    await held
    results = await defer.DeferredList(pending, consumeErrors=True)
    return [("ok", value) if ok else ("error", value.type.__name__) for ok, value in results]


async def _check(tmp_path, calls: list[tuple[str, tuple]]) -> list:
    batched, single = tmp_path / "batched.db", tmp_path / "single.db"
    for path in (batched, single):
        await _setup(path)
    expected = await _one_by_one(single, calls)
    store = SqliteStore(batched, _reactor())
    batches = store.batches
    try:
        got = await _in_one_batch(store, calls)
        assert store.batches - batches == 2  # the hold, then every call in one batch
    finally:
        await store.close()
    assert got == expected
    assert _state(batched) == _state(single)
    return got


def _accept(message_id: str, account: str = "acme", price: str = "0.05"):
    return "accept", (account, [make_message(message_id, account)], Decimal(price))


@pytest_twisted.ensureDeferred
async def test_a_run_of_accepts_that_all_fit(tmp_path):
    got = await _check(tmp_path, [_accept("201"), _accept("202")])
    assert got == [("ok", True), ("ok", True)]


@pytest_twisted.ensureDeferred
async def test_a_run_of_accepts_that_exhausts_the_balance_midway(tmp_path):
    got = await _check(tmp_path, [_accept("201"), _accept("202", price="0.10"), _accept("203")])
    assert got == [("ok", True), ("ok", False), ("ok", True)]


@pytest_twisted.ensureDeferred
async def test_a_run_of_accepts_with_a_duplicate_id_and_an_unknown_account(tmp_path):
    got = await _check(tmp_path, [
        _accept("201"), _accept("101"), _accept("202", account="nobody"), _accept("203"),
        _accept("204", price="-1"),
    ])
    assert got[0] == got[3] == ("ok", True)
    assert got[1] == ("error", "IntegrityError")
    assert got[2] == ("error", "UnknownAccount")
    assert got[4] == ("error", "ValueError")


@pytest_twisted.ensureDeferred
async def test_a_run_of_accepts_failing_after_its_debit(tmp_path):
    cheap = "0.01"
    got = await _check(tmp_path, [
        _accept("201", price=cheap), _accept("101", price=cheap), _accept("202", price=cheap)])
    assert got == [("ok", True), ("error", "IntegrityError"), ("ok", True)]


@pytest_twisted.ensureDeferred
async def test_a_run_of_accepts_for_two_accounts_one_running_short(tmp_path):
    await _check(tmp_path, [
        _accept("201"), _accept("202", account="beta"), _accept("203", account="beta"),
        _accept("204", account="beta"), _accept("205"),
    ])


@pytest_twisted.ensureDeferred
async def test_a_run_of_finishes(tmp_path):
    got = await _check(tmp_path, [
        ("finish", ("101", DONE, 0, 7.0, [make_outbox("101")])),
        ("finish", ("103", DONE, 0, 7.0, [make_outbox("103")])),  # already final
        ("finish", ("999", DONE, 0, 7.0, [make_outbox("999")])),  # unknown
        ("finish", ("102", MessageState.UNDELIVERABLE, 5, 7.0, [])),  # no receipt
        ("finish", ("101", DONE, 0, 8.0, [make_outbox("101")])),  # twice in the run
        ("finish", ("102", MessageState.ENROUTE, 0, 7.0, [])),  # not a final state
        ("finish", ("102", 99, 0, 7.0, [])),  # no state at all
    ])
    assert [kind for kind, _ in got] == ["ok"] * 5 + ["error"] * 2
    [item] = got[0][1]
    assert item.id == 2 and item.message_id == "101"
    assert got[1:5] == [("ok", [])] * 4


@pytest_twisted.ensureDeferred
async def test_a_run_of_finishes_queues_receipts_with_the_ids_the_store_gave(tmp_path):
    got = await _check(tmp_path, [
        _accept("201"), _accept("202"),
        ("finish", ("201", DONE, 0, 7.0, [make_outbox("201")])),
        ("finish", ("101", DONE, 0, 7.0, [])),
        ("finish", ("202", DONE, 0, 7.0, [make_outbox("202")])),
    ])
    assert [item.id for _, [item] in got[2::2]] == [2, 3]


@pytest_twisted.ensureDeferred
async def test_runs_of_acks_and_mixed_runs(tmp_path):
    await _check(tmp_path, [
        ("finish", ("101", DONE, 0, 7.0, [make_outbox("101")])),
        ("finish", ("102", DONE, 0, 7.0, [make_outbox("102")])),
        ("ack_outbox", ([1],)), ("ack_outbox", ([3],)), ("ack_outbox", ([1],)),
        ("ack_outbox", ([42],)), _accept("201"), ("ack_outbox", ([2],)), _accept("202"),
        ("release_outbox", ([2],)), ("release_outbox", ([3, 9],)),
    ])


def _hook(message_id: str, n: int = 0, account: str = "acme"):
    return make_webhook(message_id, account, 7.0, event_id=f"evt-{message_id}-{n}")


@pytest_twisted.ensureDeferred
async def test_a_run_of_finishes_with_mixed_legs_numbers_each_table_on_its_own(tmp_path):
    got = await _check(tmp_path, [
        _accept("201"), _accept("202"),
        ("finish", ("101", DONE, 0, 7.0, [make_outbox("101"), _hook("101")])),
        ("finish", ("201", DONE, 0, 7.0, [_hook("201")])),
        ("finish", ("103", DONE, 0, 7.0, [make_outbox("103"), _hook("103")])),  # final
        ("finish", ("102", DONE, 0, 7.0, [make_outbox("102")])),
        ("finish", ("202", DONE, 0, 7.0, [_hook("202", 1), make_outbox("202"),
                                          _hook("202", 2)])),
    ])
    legs = [[(item.channel, item.id, item.message_id) for item in queued]
            for _, queued in got[2:]]
    smpp, hook = Channel.SMPP, Channel.WEBHOOK
    assert legs == [
        [(smpp, 2, "101"), (hook, 1, "101")],
        [(hook, 2, "201")],
        [],
        [(smpp, 3, "102")],
        [(hook, 3, "202"), (smpp, 4, "202"), (hook, 4, "202")],
    ]


@pytest_twisted.ensureDeferred
async def test_a_run_of_finishes_one_of_whose_legs_cannot_be_stored(tmp_path):
    got = await _check(tmp_path, [
        ("finish", ("101", DONE, 0, 7.0, [make_outbox("101"), _hook("101")])),
        ("finish", ("102", DONE, 0, 7.0, [make_outbox("102"), _hook("101")])),  # same event
        ("finish", ("201", DONE, 0, 7.0, [_hook("201")])),  # unknown message
    ])
    assert [kind for kind, _ in got] == ["ok", "error", "ok"]
    assert got[2] == ("ok", [])


@pytest_twisted.ensureDeferred
async def test_a_run_of_queue_outbox_calls(tmp_path):
    got = await _check(tmp_path, [
        ("queue_outbox", ([_hook("m1"), make_outbox("m1")],)),
        ("queue_outbox", ([],)),
        ("queue_outbox", ([make_outbox("m2", "beta"), _hook("m2", account="beta")],)),
        ("queue_outbox", ([_hook("m3", account="nobody")],)),  # unknown account
        ("queue_outbox", ([_hook("m4")],)),
    ])
    assert [[(item.channel, item.id) for item in queued] if kind == "ok" else kind
            for kind, queued in got] == [
        [(Channel.WEBHOOK, 1), (Channel.SMPP, 2)], [], [(Channel.SMPP, 3), (Channel.WEBHOOK, 2)],
        "error", [(Channel.WEBHOOK, 3)]]


@pytest_twisted.ensureDeferred
async def test_runs_of_webhook_deliveries_and_failures(tmp_path):
    await _check(tmp_path, [
        ("queue_outbox", ([_hook(f"m{n}") for n in range(6)],)),
        ("webhooks_delivered", ([1, 2],)), ("webhooks_delivered", ([2, 99],)),
        ("webhooks_delivered", ([],)),
        ("webhook_failed", (3, 1, 20.0, "HTTP 500", None)),
        ("webhook_failed", (4, 9, 30.0, "timeout", 31.0)),
        ("webhook_failed", (3, 2, 40.0, "HTTP 502", None)),  # the later one wins
        ("webhook_failed", (1, 1, 20.0, "delivered meanwhile", None)),
        ("webhooks_delivered", ([5],)),
    ])


def test_many_functions_match_their_single_forms_on_an_empty_run(tmp_path):
    conn = connection.connect(tmp_path / "x.db", 5.0)
    cur = conn.cursor()
    assert messages.accept_many(cur, []) == []
    assert messages.finish_many(cur, []) == []
    assert outbox.ack_outbox_many(cur, []) == []
    assert outbox.release_outbox_many(cur, []) == []
    assert outbox.queue_outbox_many(cur, []) == []
    assert webhooks.webhooks_delivered_many(cur, []) == []
    assert webhooks.webhook_failed_many(cur, []) == []
    conn.close()


@pytest_twisted.ensureDeferred
async def test_runs_longer_than_one_statement_takes(tmp_path):
    count = 2 * ROWS_PER_STATEMENT + 3
    ids = [str(500 + n) for n in range(count)]
    got = await _check(tmp_path, [_accept(i, account="bulk") for i in ids] + [
        ("finish", (i, DONE, 0, 9.0, [make_outbox(i, account="bulk")] if n % 3 else []))
        for n, i in enumerate(ids)
    ] + [("ack_outbox", ([n],)) for n in range(2, count)])
    assert got[:count] == [("ok", True)] * count
    queued = [item for _, value in got[count:2 * count] for item in value]
    assert [item.id for item in queued] == list(range(2, 2 + len(queued)))


@pytest_twisted.ensureDeferred
async def test_ack_outbox_removes_every_item_at_once(tmp_path):
    path = tmp_path / "x.db"
    await _setup(path)
    store = SqliteStore(path, _reactor())
    try:
        for message_id in ("101", "102"):
            await store.finish(message_id, DONE, 0, 7.0, [make_outbox(message_id)])
        await store.ack_outbox([1, 42])  # unknown ids are harmless
        await store.ack_outbox([3, 3])
        assert [item.id for item in await store.pending_outbox("acme", 0, 10)] == [2]
        await store.ack_outbox([])
        await store.ack_outbox([2])
        assert await store.pending_outbox("acme", 0, 10) == []
    finally:
        await store.close()
