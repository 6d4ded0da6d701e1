"""The Store contract: behaviour every storage backend must show.

A backend's test module subclasses `StoreContract` and provides one fixture, `open_store`:
a callable that returns a new, running Store over the SAME data on every call (so a test
can close a store and open the data again). The contract closes every store it opens.

    class TestPostgresStore(StoreContract):
        @pytest.fixture
        def open_store(self, postgres_dsn):
            return lambda: PostgresStore(postgres_dsn, reactor)
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import pytest_twisted
from twisted.internet import defer

from gateway.core.ports import AccountExists, ReplaceOutcome, Store, UnknownAccount
from gateway.model import (
    Account,
    Address,
    DeliveryKind,
    Message,
    MessageState,
    NewOutboxItem,
    OutboxItem,
)

__all__ = ["StoreContract", "make_account", "make_message", "make_outbox"]


def make_account(system_id: str = "acme", balance: str = "10", **kw: object) -> Account:
    return Account(system_id=system_id, password_hash=f"hash-of-{system_id}",
                   balance=Decimal(balance), **kw)


def make_message(message_id: str, account: str = "acme", **kw: object) -> Message:
    fields: dict = {
        "source": Address(ton=5, npi=0, addr="ACME"),
        "destination": Address(ton=1, npi=1, addr="359888123456"),
        "body": b"hello \x00\xff world",
        "price": Decimal("0.05"),
        "submitted_at": 1_700_000_000.25,
        "connector": "simulator",
    }
    fields.update(kw)
    return Message(id=message_id, account=account, **fields)


def make_outbox(message_id: str, account: str = "acme", created_at: float = 100.0,
                **kw: object) -> NewOutboxItem:
    fields: dict = {
        "kind": DeliveryKind.RECEIPT,
        "source": Address(ton=1, npi=1, addr="359888123456"),
        "destination": Address(ton=5, npi=0, addr="ACME"),
        "body": f"id:{message_id} sub:001 dlvrd:001 stat:DELIVRD".encode(),
        "esm_class": 0x04,
        "message_id": message_id,
        "message_state": int(MessageState.DELIVERED),
        "network_error_code": b"\x03\x00\x00",
    }
    fields.update(kw)
    return NewOutboxItem(account=account, created_at=created_at, **fields)


async def _fails_with(d: defer.Deferred, kind: type[BaseException]) -> BaseException:
    try:
        await d
    except kind as e:
        return e
    raise AssertionError(f"expected {kind.__name__}")


async def _all_unfinished(store: Store, page: int = 1000, owner: int = 0) -> list[Message]:
    """Every unfinished message of `owner` (0: make_message's), adopted by owner 1000."""
    found = []
    while True:
        batch = await store.adopt_messages(owner, 1000, page)
        found += batch
        if not batch:
            return found


class StoreContract:
    """Mix into a `Test...` class that defines the `open_store` fixture."""

    @pytest.fixture
    def stores(self, open_store: Callable[[], Store]) -> Iterator[Callable[[], Store]]:
        """Open stores over the fixture's data; every one is closed at teardown."""
        opened: list[Store] = []

        def open_() -> Store:
            store = open_store()
            opened.append(store)
            return store

        yield open_
        for store in opened:
            pytest_twisted.blockon(store.close())

    @pytest.fixture
    def store(self, stores: Callable[[], Store]) -> Store:
        return stores()

    # --- accounts ------------------------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_added_account_reads_back_with_every_field(self, store):
        account = make_account(balance="12.345678", max_binds=4, throughput=12.5, window=7,
                               allow_ips=("10.0.0.1", "192.168.0.0/24"), enabled=False)
        await store.add_account(account)
        assert await store.get_account("acme") == account

    @pytest_twisted.ensureDeferred
    async def test_unknown_account_reads_as_none(self, store):
        assert await store.get_account("nobody") is None

    @pytest_twisted.ensureDeferred
    async def test_adding_a_taken_system_id_fails_with_account_exists(self, store):
        await store.add_account(make_account(balance="1"))
        await _fails_with(store.add_account(make_account(balance="99")), AccountExists)
        assert (await store.get_account("acme")).balance == Decimal(1)

    @pytest_twisted.ensureDeferred
    async def test_update_replaces_settings_but_keeps_the_balance(self, store):
        await store.add_account(make_account(balance="5"))
        changed = make_account(balance="999", max_binds=9, throughput=0.0, window=3,
                               allow_ips=("1.2.3.4",), enabled=False)
        changed = dataclasses.replace(changed, password_hash="new-hash")
        await store.update_account(changed)
        assert await store.get_account("acme") == dataclasses.replace(
            changed, balance=Decimal(5))

    @pytest_twisted.ensureDeferred
    async def test_updating_an_unknown_account_fails_with_unknown_account(self, store):
        await _fails_with(store.update_account(make_account("ghost")), UnknownAccount)
        assert await store.get_account("ghost") is None

    @pytest_twisted.ensureDeferred
    async def test_list_accounts_returns_every_account(self, store):
        for name in ("zed", "acme", "mid"):
            await store.add_account(make_account(name))
        accounts = await store.list_accounts()
        assert sorted(a.system_id for a in accounts) == ["acme", "mid", "zed"]
        assert make_account("mid") in accounts

    @pytest_twisted.ensureDeferred
    async def test_topups_add_decimals_exactly(self, store):
        await store.add_account(make_account(balance="0"))
        assert await store.topup("acme", Decimal("0.1")) == Decimal("0.1")
        assert await store.topup("acme", Decimal("0.2")) == Decimal("0.3")
        assert (await store.get_account("acme")).balance == Decimal("0.3")
        assert await store.topup("acme", Decimal("0.000001")) == Decimal("0.300001")

    @pytest_twisted.ensureDeferred
    async def test_negative_topup_corrects_the_balance(self, store):
        await store.add_account(make_account(balance="10"))
        assert await store.topup("acme", Decimal("-2.5")) == Decimal("7.5")

    @pytest_twisted.ensureDeferred
    async def test_topup_of_an_unknown_account_fails_with_unknown_account(self, store):
        await _fails_with(store.topup("ghost", Decimal(1)), UnknownAccount)

    @pytest_twisted.ensureDeferred
    async def test_amounts_finer_than_a_millionth_are_refused_and_change_nothing(self, store):
        await store.add_account(make_account(balance="1"))
        await _fails_with(store.topup("acme", Decimal("0.0000001")), ValueError)
        await _fails_with(store.accept("acme", [make_message("1")], Decimal("0.1234567")),
                          ValueError)
        assert (await store.get_account("acme")).balance == Decimal(1)
        assert await store.get_message("1") is None

    @pytest_twisted.ensureDeferred
    async def test_settings_version_grows_with_every_admin_change(self, store):
        v0 = await store.settings_version()
        await store.add_account(make_account())
        v1 = await store.settings_version()
        await store.update_account(make_account(max_binds=5))
        v2 = await store.settings_version()
        await store.topup("acme", Decimal(1))
        v3 = await store.settings_version()
        assert v0 < v1 < v2 < v3

    @pytest_twisted.ensureDeferred
    async def test_a_failing_operation_does_not_undo_concurrent_ones(self, store):
        await store.add_account(make_account("a"))
        results = await defer.DeferredList([
            store.add_account(make_account("b")),
            store.add_account(make_account("a")),          # AccountExists
            store.topup("ghost", Decimal(1)),            # UnknownAccount
            store.add_account(make_account("c")),
            store.topup("b", Decimal(1)),
        ], consumeErrors=True)
        assert [ok for ok, _ in results] == [True, False, False, True, True]
        assert results[1][1].check(AccountExists)
        assert results[2][1].check(UnknownAccount)
        assert sorted(a.system_id for a in await store.list_accounts()) == ["a", "b", "c"]
        assert (await store.get_account("b")).balance == Decimal(11)

    # --- accepting messages --------------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_accept_debits_the_cost_exactly_and_stores_every_message(self, store):
        await store.add_account(make_account(balance="1"))
        parts = [make_message(str(n), parts=3) for n in (1, 2, 3)]
        assert await store.accept("acme", parts, Decimal("0.15")) is True
        assert (await store.get_account("acme")).balance == Decimal("0.85")
        for m in parts:
            assert await store.get_message(m.id) == m

    @pytest_twisted.ensureDeferred
    async def test_accepted_message_reads_back_with_every_field(self, store):
        await store.add_account(make_account())
        m = make_message("77", data_coding=8, esm_class=0x40, protocol_id=1, priority=2,
                         registered_delivery=1, parts=2, price=Decimal("0.123456"),
                         state=MessageState.SCHEDULED, error_code=0, scheduled_at=1.5e9,
                         expires_at=1.6e9, body=bytes(range(256)))
        await store.accept("acme", [m], Decimal(0))
        assert await store.get_message("77") == m

    @pytest_twisted.ensureDeferred
    async def test_unknown_message_reads_as_none(self, store):
        assert await store.get_message("404") is None

    @pytest_twisted.ensureDeferred
    async def test_accept_beyond_the_balance_stores_nothing_and_charges_nothing(self, store):
        await store.add_account(make_account(balance="0.10"))
        assert await store.accept("acme", [make_message("1")], Decimal("0.100001")) is False
        assert (await store.get_account("acme")).balance == Decimal("0.1")
        assert await store.get_message("1") is None
        assert await store.last_message_id() is None

    @pytest_twisted.ensureDeferred
    async def test_accept_may_spend_the_balance_down_to_zero(self, store):
        await store.add_account(make_account(balance="0.10"))
        assert await store.accept("acme", [make_message("1")], Decimal("0.1")) is True
        assert (await store.get_account("acme")).balance == 0

    @pytest_twisted.ensureDeferred
    async def test_accept_for_an_unknown_account_fails_with_unknown_account(self, store):
        await _fails_with(store.accept("ghost", [make_message("1", "ghost")], Decimal(0)),
                          UnknownAccount)
        assert await store.get_message("1") is None

    @pytest_twisted.ensureDeferred
    async def test_concurrent_accepts_never_drive_the_balance_negative(self, store):
        await store.add_account(make_account(balance="3.71"))  # covers 37 at 0.10
        outcomes = await defer.gatherResults([
            store.accept("acme", [make_message(str(n))], Decimal("0.10")) for n in range(100)
        ])
        assert outcomes.count(True) == 37
        assert (await store.get_account("acme")).balance == Decimal("0.01")
        stored = [n for n in range(100) if await store.get_message(str(n)) is not None]
        assert [outcomes[n] for n in stored] == [True] * 37

    @pytest_twisted.ensureDeferred
    async def test_accept_of_a_duplicate_id_fails_whole_and_spares_the_others(self, store):
        await store.add_account(make_account(balance="1"))
        await store.accept("acme", [make_message("1")], Decimal("0.1"))
        results = await defer.DeferredList([
            store.accept("acme", [make_message("2")], Decimal("0.1")),
            store.accept("acme", [make_message("3"), make_message("1")], Decimal("0.2")),
            store.accept("acme", [make_message("4")], Decimal("0.1")),
        ], consumeErrors=True)
        assert [ok for ok, _ in results] == [True, False, True]
        assert (await store.get_account("acme")).balance == Decimal("0.7")
        assert await store.get_message("3") is None
        assert await store.get_message("4") is not None

    @pytest_twisted.ensureDeferred
    async def test_a_batch_longer_than_one_statement_is_stored_or_refused_whole(self, store):
        # 100 rows take several multi-row statements (64 + 32 + 4 on SQLite): a duplicate
        # in the last of them must undo the first ones and the debit too
        await store.add_account(make_account(balance="100"))
        await store.accept("acme", [make_message("dup")], Decimal(0))
        batch = [make_message(f"b{n:03d}", parts=1) for n in range(100)]
        assert await store.accept("acme", batch, Decimal("5")) is True
        assert [await store.get_message(m.id) for m in batch] == batch
        refused = [make_message(f"c{n:03d}") for n in range(99)] + [make_message("dup")]
        await _fails_with(store.accept("acme", refused, Decimal("5")), Exception)
        assert (await store.get_account("acme")).balance == Decimal("95")
        assert [await store.get_message(m.id) for m in refused[:99]] == [None] * 99

    @pytest_twisted.ensureDeferred
    async def test_accept_each_takes_each_message_alone_at_its_price(self, store):
        await store.add_account(make_account(balance="0.25"))
        await store.accept("acme", [make_message("1")], Decimal("0.05"))
        messages = [make_message("2", price=Decimal("0.10")),
                    make_message("3", price=Decimal("0.15")),  # beyond what is left
                    make_message("1"),  # a duplicate id: fails alone
                    make_message("4", price=Decimal("0.10"))]
        results = await store.accept_each("acme", messages)
        assert [ok for ok, _ in results] == [True, True, False, True]
        assert [value for ok, value in results if ok] == [True, False, True]
        assert isinstance(results[2][1], Exception)
        assert (await store.get_account("acme")).balance == 0
        assert await store.get_message("3") is None
        assert [await store.get_message(m) is not None for m in ("2", "4")] == [True, True]
        assert await store.accept_each("acme", []) == []

    @pytest_twisted.ensureDeferred
    async def test_finish_each_finishes_each_alone_and_reports_each(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message(n) for n in ("1", "2")], Decimal("0.1"))
        done = MessageState.DELIVERED
        results = await store.finish_each([
            ("1", done, 0, 5.0, [make_outbox("1")]),
            ("2", MessageState.ENROUTE, 0, 5.0, []),  # not final: refused alone
            ("1", done, 0, 6.0, [make_outbox("1")]),  # already final: no second receipt
            ("2", MessageState.UNDELIVERABLE, 7, 5.0, [make_outbox("2")]),
        ])
        assert [ok for ok, _ in results] == [True, False, True, True]
        assert [item.message_id for item in results[0][1]] == ["1"]
        assert isinstance(results[1][1], ValueError)
        assert results[2][1] == []
        assert [item.message_id for item in results[3][1]] == ["2"]
        assert (await store.get_message("2")).state is MessageState.UNDELIVERABLE

    @pytest_twisted.ensureDeferred
    async def test_last_message_id_is_the_numerically_greatest(self, store):
        await store.add_account(make_account())
        assert await store.last_message_id() is None
        await store.accept("acme", [make_message("9"), make_message("10")], Decimal(0))
        await store.accept("acme", [make_message("8")], Decimal(0))
        assert await store.last_message_id() == "10"
        await store.accept("acme", [make_message("100")], Decimal(0))
        assert await store.last_message_id() == "100"

    # --- finishing messages --------------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_finish_sets_the_final_state_and_queues_the_outbox_item(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1", registered_delivery=1)], Decimal(0))
        new = make_outbox("1")
        [item] = await store.finish("1", MessageState.UNDELIVERABLE, 0x0B, 123.5, [new])
        assert isinstance(item, OutboxItem)
        assert item == OutboxItem(id=item.id, **{
            f.name: getattr(new, f.name) for f in dataclasses.fields(NewOutboxItem)})
        m = await store.get_message("1")
        assert (m.state, m.error_code, m.done_at) == (MessageState.UNDELIVERABLE, 0x0B, 123.5)
        assert await store.pending_outbox("acme", 0, 10) == [item]

    @pytest_twisted.ensureDeferred
    async def test_finishing_twice_changes_nothing_and_queues_nothing(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        first = await store.finish("1", MessageState.DELIVERED, 0, 10.0, [make_outbox("1")])
        again = await store.finish("1", MessageState.EXPIRED, 5, 20.0, [make_outbox("1")])
        assert len(first) == 1 and again == []
        m = await store.get_message("1")
        assert (m.state, m.error_code, m.done_at) == (MessageState.DELIVERED, 0, 10.0)
        assert await store.pending_outbox("acme", 0, 10) == first

    @pytest_twisted.ensureDeferred
    async def test_concurrent_finishes_of_one_message_queue_one_item(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        items = await defer.gatherResults([
            store.finish("1", MessageState.DELIVERED, 0, 1.0, [make_outbox("1")])
            for _ in range(10)
        ])
        assert sorted(len(queued) for queued in items) == [0] * 9 + [1]
        assert len(await store.pending_outbox("acme", 0, 100)) == 1

    @pytest_twisted.ensureDeferred
    async def test_finish_without_outbox_item_finishes_and_queues_nothing(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        assert await store.finish("1", MessageState.DELIVERED, 0, 1.0, []) == []
        assert (await store.get_message("1")).state is MessageState.DELIVERED
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_finishing_an_unknown_message_returns_none_and_queues_nothing(self, store):
        await store.add_account(make_account())
        assert await store.finish("404", MessageState.DELIVERED, 0, 1.0,
                                  [make_outbox("404")]) == []
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_finish_refuses_a_state_that_is_not_final(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        await _fails_with(store.finish("1", MessageState.ENROUTE, 0, 1.0, []), ValueError)
        assert (await store.get_message("1")).done_at is None

    @pytest_twisted.ensureDeferred
    async def test_finish_whose_outbox_item_cannot_be_stored_leaves_the_message_open(
        self, store
    ):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1"), make_message("2")], Decimal(0))
        results = await defer.DeferredList([
            store.finish("1", MessageState.DELIVERED, 0, 1.0, [make_outbox("1", "ghost")]),
            store.finish("2", MessageState.DELIVERED, 0, 1.0, [make_outbox("2")]),
        ], consumeErrors=True)
        assert [ok for ok, _ in results] == [False, True]
        assert (await store.get_message("1")).state is MessageState.ENROUTE
        assert (await store.get_message("2")).state is MessageState.DELIVERED

    @pytest_twisted.ensureDeferred
    async def test_adoption_moves_unfinished_messages_in_numeric_id_order_a_page_at_a_time(
        self, store
    ):
        await store.add_account(make_account())
        ids = [str(n) for n in (1, 2, 9, 10, 11, 99, 100, 1000)]
        await store.accept("acme", [make_message(i, owner=3) for i in reversed(ids)],
                           Decimal(0))
        await store.accept("acme", [make_message("5", state=MessageState.SCHEDULED, owner=3),
                                    make_message("7", owner=4)], Decimal(0))
        for done in ("2", "11"):
            await store.finish(done, MessageState.DELIVERED, 0, 1.0, [])
        expected = ["1", "5", "9", "10", "99", "100", "1000"]
        first = await store.adopt_messages(3, 8, 3)
        assert [m.id for m in first] == expected[:3]
        assert {m.owner for m in first} == {8}
        assert (await store.get_message("1")).owner == 8
        assert [m.id for m in await _all_unfinished(store, page=2, owner=3)] == expected[3:]
        assert await store.adopt_messages(3, 8, 10) == []
        assert (await store.get_message("7")).owner == 4  # another owner's stay put
        assert (await store.get_message("2")).owner == 3  # final ones are nobody's work

    # --- outbox --------------------------------------------------------------------------

    async def _queue(self, store: Store, account: str, message_id: str,
                     created_at: float = 100.0) -> OutboxItem:
        await store.accept(account, [make_message(message_id, account)], Decimal(0))
        [item] = await store.finish(message_id, MessageState.DELIVERED, 0, created_at,
                                    [make_outbox(message_id, account, created_at)])
        return item

    @pytest_twisted.ensureDeferred
    async def test_pending_outbox_is_per_account_oldest_first_after_a_cursor(self, store):
        await store.add_account(make_account("a"))
        await store.add_account(make_account("b"))
        a_items, b_items = [], []
        for n in range(6):
            a_items.append(await self._queue(store, "a", f"a{n}"))
            b_items.append(await self._queue(store, "b", f"b{n}"))
        assert await store.pending_outbox("a", 0, 100) == a_items
        assert await store.pending_outbox("b", 0, 100) == b_items
        assert await store.pending_outbox("a", 0, 2) == a_items[:2]
        assert await store.pending_outbox("a", a_items[1].id, 3) == a_items[2:5]
        assert await store.pending_outbox("a", a_items[-1].id, 3) == []
        assert await store.pending_outbox("nobody", 0, 3) == []

    @pytest_twisted.ensureDeferred
    async def test_acked_item_leaves_the_outbox(self, store):
        await store.add_account(make_account())
        first = await self._queue(store, "acme", "1")
        second = await self._queue(store, "acme", "2")
        await store.ack_outbox([first.id])
        assert await store.pending_outbox("acme", 0, 10) == [second]
        await store.ack_outbox([first.id])  # a repeated ack is harmless
        await store.ack_outbox([second.id])
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_outbox_ids_grow_even_after_the_newest_was_acked(self, store):
        await store.add_account(make_account())
        first = await self._queue(store, "acme", "1")
        await store.ack_outbox([first.id])
        second = await self._queue(store, "acme", "2")
        assert second.id > first.id
        assert await store.pending_outbox("acme", first.id, 10) == [second]

    @pytest_twisted.ensureDeferred
    async def test_expire_outbox_drops_items_older_than_the_cutoff(self, store):
        await store.add_account(make_account())
        old = [await self._queue(store, "acme", str(n), created_at=50.0 + n) for n in range(3)]
        new = await self._queue(store, "acme", "9", created_at=200.0)
        assert await store.expire_outbox(52.0) == 2
        assert await store.pending_outbox("acme", 0, 10) == [old[2], new]
        assert await store.expire_outbox(52.0) == 0

    # --- durability ----------------------------------------------------------------------

    @pytest_twisted.ensureDeferred
    async def test_everything_survives_close_and_reopen(self, stores):
        store = stores()
        await store.add_account(make_account(balance="2"))
        await store.accept("acme", [make_message("1"), make_message("2")], Decimal("0.5"))
        [item] = await store.finish("1", MessageState.DELIVERED, 0, 5.0, [make_outbox("1")])
        version = await store.settings_version()
        await store.close()

        again = stores()
        assert (await again.get_account("acme")).balance == Decimal("1.5")
        assert (await again.get_message("1")).state is MessageState.DELIVERED
        assert [m.id for m in await _all_unfinished(again)] == ["2"]
        assert await again.pending_outbox("acme", 0, 10) == [item]
        assert await again.last_message_id() == "2"
        assert await again.settings_version() == version

    @pytest_twisted.ensureDeferred
    async def test_close_commits_operations_still_in_flight(self, stores):
        store = stores()
        await store.add_account(make_account(balance="100"))
        pending = [store.accept("acme", [make_message(str(n))], Decimal(1)) for n in range(50)]
        await store.close()
        assert all(d.called for d in pending)
        again = stores()
        assert (await again.get_account("acme")).balance == Decimal(50)
        assert len(await _all_unfinished(again)) == 50

    @pytest_twisted.ensureDeferred
    async def test_close_twice_is_harmless(self, store):
        await store.close()
        await store.close()

    # --- scheduled messages: start, cancel (refund), replace (price difference) -----------

    @staticmethod
    def _deleted_receipt(done_at: float):
        def build(message: Message) -> list[NewOutboxItem]:
            if not message.registered_delivery:
                return []
            return [make_outbox(message.id, message.account, done_at,
                                message_state=int(MessageState.DELETED))]
        return build

    async def _scheduled(self, store: Store, message_id: str, account: str = "acme",
                         price: str = "0.05", at: float = 500.0, **kw: object) -> Message:
        m = make_message(message_id, account, state=MessageState.SCHEDULED,
                         price=Decimal(price), scheduled_at=at, **kw)
        assert await store.accept(account, [m], Decimal(price)) is True
        return m

    @pytest_twisted.ensureDeferred
    async def test_start_scheduled_moves_a_due_message_to_enroute_exactly_once(self, store):
        await store.add_account(make_account())
        m = await self._scheduled(store, "1", at=500.0)
        assert await store.start_scheduled("1", 499.0) is None  # not yet
        started = await store.start_scheduled("1", 500.0)
        assert started == dataclasses.replace(m, state=MessageState.ENROUTE)
        assert await store.start_scheduled("1", 600.0) is None
        assert (await store.get_message("1")).state is MessageState.ENROUTE

    @pytest_twisted.ensureDeferred
    async def test_start_scheduled_ignores_messages_that_are_not_scheduled(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        assert await store.start_scheduled("1", 1e12) is None
        assert await store.start_scheduled("404", 1e12) is None

    @pytest_twisted.ensureDeferred
    async def test_cancel_deletes_refunds_and_queues_the_receipt_in_one_go(self, store):
        await store.add_account(make_account(balance="1"))
        await self._scheduled(store, "1", price="0.15", registered_delivery=1)
        assert (await store.get_account("acme")).balance == Decimal("0.85")
        result = await store.cancel("acme", "1", 42.0, self._deleted_receipt(42.0))
        assert result is not None
        deleted, [item] = result
        assert (deleted.id, deleted.state, deleted.done_at) == ("1", MessageState.DELETED, 42.0)
        assert await store.get_message("1") == deleted
        assert (await store.get_account("acme")).balance == Decimal(1)
        assert item.message_state == int(MessageState.DELETED)
        assert await store.pending_outbox("acme", 0, 10) == [item]

    @pytest_twisted.ensureDeferred
    async def test_cancel_without_a_receipt_queues_nothing(self, store):
        await store.add_account(make_account(balance="1"))
        await self._scheduled(store, "1", registered_delivery=0)
        deleted, items = await store.cancel("acme", "1", 1.0, self._deleted_receipt(1.0))
        assert items == [] and deleted.state is MessageState.DELETED
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_cancel_refuses_foreign_unknown_and_no_longer_scheduled_messages(self, store):
        await store.add_account(make_account(balance="1"))
        await store.add_account(make_account("other", balance="1"))
        await self._scheduled(store, "1")
        await store.accept("acme", [make_message("2")], Decimal("0.05"))  # ENROUTE
        receipt = self._deleted_receipt(1.0)
        assert await store.cancel("other", "1", 1.0, receipt) is None
        assert await store.cancel("acme", "2", 1.0, receipt) is None
        assert await store.cancel("acme", "404", 1.0, receipt) is None
        assert await store.start_scheduled("1", 1e12) is not None
        assert await store.cancel("acme", "1", 1.0, receipt) is None
        assert (await store.get_account("acme")).balance == Decimal("0.9")
        assert (await store.get_account("other")).balance == Decimal(1)

    @pytest_twisted.ensureDeferred
    async def test_cancel_and_start_racing_let_exactly_one_win(self, store):
        await store.add_account(make_account(balance="1"))
        for n in ("1", "2"):
            await self._scheduled(store, n)
        receipt = self._deleted_receipt(1.0)
        first = await defer.gatherResults([store.cancel("acme", "1", 1.0, receipt),
                                           store.start_scheduled("1", 1e12)])
        second = await defer.gatherResults([store.start_scheduled("2", 1e12),
                                            store.cancel("acme", "2", 1.0, receipt)])
        assert first[0] is not None and first[1] is None
        assert second[0] is not None and second[1] is None
        assert (await store.get_account("acme")).balance == Decimal("0.95")

    @pytest_twisted.ensureDeferred
    async def test_cancel_whose_receipt_cannot_be_built_changes_nothing(self, store):
        await store.add_account(make_account(balance="1"))
        await self._scheduled(store, "1")

        def broken(message: Message) -> list[NewOutboxItem]:
            raise RuntimeError("no receipt")

        await _fails_with(store.cancel("acme", "1", 1.0, broken), RuntimeError)
        assert (await store.get_message("1")).state is MessageState.SCHEDULED
        assert (await store.get_account("acme")).balance == Decimal("0.95")

    @pytest_twisted.ensureDeferred
    async def test_cancel_matching_deletes_every_scheduled_message_between_two_addresses(
        self, store
    ):
        await store.add_account(make_account(balance="10"))
        await store.add_account(make_account("other", balance="10"))
        here = Address(ton=1, npi=1, addr="111")
        there = Address(ton=1, npi=1, addr="222")
        for n in ("9", "10", "11"):
            await self._scheduled(store, n, source=here, destination=there,
                                  registered_delivery=1)
        await self._scheduled(store, "12", source=here, destination=here)
        await self._scheduled(store, "13", "other", source=here, destination=there)
        await store.accept("acme", [make_message("14", source=here, destination=there)],
                           Decimal("0.05"))
        results = await store.cancel_matching("acme", "111", "222", 7.0,
                                              self._deleted_receipt(7.0))
        assert [m.id for m, _ in results] == ["9", "10", "11"]
        assert [len(items) for _, items in results] == [1, 1, 1]
        assert (await store.get_account("acme")).balance == Decimal("9.9")
        assert (await store.get_message("12")).state is MessageState.SCHEDULED
        assert (await store.get_message("13")).state is MessageState.SCHEDULED
        assert (await store.get_message("14")).state is MessageState.ENROUTE
        assert await store.cancel_matching("acme", "111", "222", 8.0,
                                           self._deleted_receipt(8.0)) == []

    @pytest_twisted.ensureDeferred
    async def test_replace_charges_a_price_rise_and_refunds_a_fall(self, store):
        await store.add_account(make_account(balance="1"))
        m = await self._scheduled(store, "1", price="0.10")
        longer = dataclasses.replace(m, body=b"x" * 300, parts=3, price=Decimal("0.30"),
                                     registered_delivery=1, scheduled_at=900.0,
                                     expires_at=2000.0)
        assert await store.replace("acme", longer) is ReplaceOutcome.REPLACED
        assert await store.get_message("1") == longer
        assert (await store.get_account("acme")).balance == Decimal("0.7")
        shorter = dataclasses.replace(longer, body=b"hi", parts=1, price=Decimal("0.05"))
        assert await store.replace("acme", shorter) is ReplaceOutcome.REPLACED
        assert (await store.get_account("acme")).balance == Decimal("0.95")
        assert await store.get_message("1") == shorter

    @pytest_twisted.ensureDeferred
    async def test_replace_beyond_the_balance_changes_nothing(self, store):
        await store.add_account(make_account(balance="0.20"))
        m = await self._scheduled(store, "1", price="0.10")
        dearer = dataclasses.replace(m, body=b"x" * 500, parts=4, price=Decimal("0.40"))
        assert await store.replace("acme", dearer) is ReplaceOutcome.NO_BALANCE
        assert await store.get_message("1") == m
        assert (await store.get_account("acme")).balance == Decimal("0.1")

    @pytest_twisted.ensureDeferred
    async def test_replace_refuses_foreign_unknown_and_no_longer_scheduled_messages(
        self, store
    ):
        await store.add_account(make_account(balance="1"))
        await store.add_account(make_account("other", balance="1"))
        m = await self._scheduled(store, "1")
        changed = dataclasses.replace(m, body=b"changed")
        assert await store.replace("other", changed) is ReplaceOutcome.NOT_REPLACEABLE
        assert await store.replace("acme", dataclasses.replace(changed, id="404")) is (
            ReplaceOutcome.NOT_REPLACEABLE)
        await store.start_scheduled("1", 1e12)
        assert await store.replace("acme", changed) is ReplaceOutcome.NOT_REPLACEABLE
        assert (await store.get_message("1")).body == m.body

    @pytest_twisted.ensureDeferred
    async def test_scheduled_messages_survive_close_and_reopen(self, stores):
        store = stores()
        await store.add_account(make_account())
        m = await self._scheduled(store, "1", at=1234.5, expires_at=5678.0)
        await store.close()
        again = stores()
        assert await again.get_message("1") == m
        assert await _all_unfinished(again) == [dataclasses.replace(m, owner=1000)]
