"""The store contract for several nodes on one store (ClusterStore) and for the claims that
keep two nodes from pushing one item: owners, heartbeats, the takeover of gone owners, the
adoption of their messages, binds counted over all owners, and outbox claims. Mixed into
each backend's test class next to StoreContract (it uses that class's `store` fixture).

A node_id held by a live process is refused by each backend's own tests: it needs two
separate openings of one database, which only the file and PostgreSQL stores have."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message, make_outbox
from contract_webhooks import make_webhook

from gateway.model import MessageState

__all__ = ["ClusterStoreContract"]

LEASE = 15.0


class ClusterStoreContract:
    # --- owners ------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_each_join_is_a_new_owner_that_heartbeats(self, store):
        first = await store.join_cluster(1, 100.0)
        second = await store.join_cluster(2, 100.0)
        assert 0 < first < second
        assert await store.heartbeat(first, 101.0) is True
        assert await store.heartbeat(second, 101.0) is True

    @pytest_twisted.ensureDeferred
    async def test_messages_from_before_owners_existed_are_adopted_by_the_first_node(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))  # owner 0: the old default
        me = await store.join_cluster(1, 100.0)
        assert await store.claim_dead_owner(me, 100.0, None) == 0
        [adopted] = await store.adopt_messages(0, me, 10)
        assert (adopted.id, adopted.owner) == ("1", me)
        await store.retire_owner(0)
        assert await store.claim_dead_owner(me, 100.0, None) is None

    @pytest_twisted.ensureDeferred
    async def test_an_owner_silent_for_a_lease_is_taken_over_only_once_the_lease_counts(
        self, store
    ):
        silent = await store.join_cluster(1, 100.0)
        me = await store.join_cluster(2, 100.0)
        await self._drop_legacy(store, me)
        assert await store.claim_dead_owner(me, 110.0, LEASE) is None  # 10 s: alive
        assert await store.claim_dead_owner(me, 200.0, None) is None  # no lease: not judged
        assert await store.claim_dead_owner(me, 200.0, LEASE) == silent
        assert await store.heartbeat(silent, 201.0) is False  # fenced: it must stop
        assert await store.heartbeat(me, 201.0) is True

    @pytest_twisted.ensureDeferred
    async def test_an_earlier_run_of_the_same_node_is_gone_at_once(self, store):
        earlier = await store.join_cluster(4, 100.0)
        await store.join_cluster(5, 100.0)
        me = await store.join_cluster(4, 101.0)
        await self._drop_legacy(store, me, keep=earlier)
        assert await store.claim_dead_owner(me, 101.0, None) == earlier
        await store.retire_owner(earlier)
        assert await store.claim_dead_owner(me, 101.0, None) is None  # node 5 is alive

    @pytest_twisted.ensureDeferred
    async def test_a_node_that_left_is_gone_at_once_and_its_claims_and_binds_let_go(
        self, store
    ):
        await store.add_account(make_account(max_binds=1))
        leaving = await store.join_cluster(1, 100.0)
        me = await store.join_cluster(2, 100.0)
        await self._drop_legacy(store, me)
        assert await store.add_bind(leaving, 1, "acme", "transceiver", 1, 100.0) is True
        await store.accept("acme", [make_message("1", owner=leaving)], Decimal(0))
        [item] = await store.finish("1", MessageState.DELIVERED, 0, 100.0,
                                    [dataclasses.replace(make_outbox("1"), claimed_by=leaving)])
        assert await store.claim_outbox("acme", me, 10) == []  # the leaving node's
        await store.leave_cluster(leaving)
        assert await store.heartbeat(leaving, 101.0) is False
        assert await store.count_binds("acme") == 0
        assert await store.claim_outbox("acme", me, 10) == [
            dataclasses.replace(item, claimed_by=me)]
        assert await store.claim_dead_owner(me, 101.0, None) == leaving

    async def _drop_legacy(self, store, me: int, keep: int | None = None) -> None:
        """Take over and retire owner 0 (the messages from before owners existed), and
        check nothing else is gone (but `keep`)."""
        assert await store.claim_dead_owner(me, 0.0, None) == 0
        await store.retire_owner(0)
        assert await store.claim_dead_owner(me, 0.0, None) == keep
        if keep is not None:  # claimed: it stays the claimer's until retired
            assert await store.claim_dead_owner(me, 0.0, None) == keep

    @pytest_twisted.ensureDeferred
    async def test_a_gone_owner_is_claimed_by_one_node_whose_work_it_stays(self, store):
        gone = await store.join_cluster(1, 0.0)
        a = await store.join_cluster(2, 100.0)
        b = await store.join_cluster(3, 100.0)
        await self._drop_legacy(store, a)
        assert await store.claim_dead_owner(a, 100.0, LEASE) == gone
        assert await store.claim_dead_owner(b, 100.0, LEASE) is None  # a has it
        assert await store.claim_dead_owner(a, 100.0, LEASE) == gone  # until a retires it
        await store.retire_owner(gone)
        assert await store.claim_dead_owner(a, 100.0, LEASE) is None

    @pytest_twisted.ensureDeferred
    async def test_a_takeover_cut_short_passes_to_whoever_takes_over_the_taker(self, store):
        await store.add_account(make_account())
        first = await store.join_cluster(1, 0.0)
        taker = await store.join_cluster(2, 0.0)
        await self._drop_legacy(store, taker)
        await store.accept("acme", [make_message(str(n), owner=first) for n in (1, 2, 3)],
                           Decimal(0))
        assert await store.claim_dead_owner(taker, 100.0, LEASE) == first
        await store.adopt_messages(first, taker, 1)  # then the taker died too
        last = await store.join_cluster(3, 200.0)
        assert await store.claim_dead_owner(last, 200.0, LEASE) == taker
        assert await store.claim_dead_owner(last, 200.0, LEASE) == first  # what taker had
        assert [m.id for m in await store.adopt_messages(first, last, 10)] == ["2", "3"]
        assert [m.id for m in await store.adopt_messages(taker, last, 10)] == ["1"]

    # --- binds -------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_binds_count_over_every_owner_up_to_the_limit(self, store):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        a = await store.join_cluster(1, 0.0)
        b = await store.join_cluster(2, 0.0)
        assert await store.add_bind(a, 1, "acme", "transmitter", 3, 0.0) is True
        assert await store.add_bind(a, 2, "acme", "receiver", 3, 0.0) is True
        assert await store.add_bind(b, 1, "acme", "transceiver", 3, 0.0) is True
        assert await store.add_bind(b, 2, "acme", "transceiver", 3, 0.0) is False
        assert await store.add_bind(b, 3, "beta", "transceiver", 1, 0.0) is True
        assert await store.count_binds("acme") == 3
        await store.remove_bind(a, 2)
        await store.remove_bind(a, 2)  # twice is harmless
        assert await store.count_binds("acme") == 2
        assert await store.add_bind(b, 4, "acme", "receiver", 3, 0.0) is True

    @pytest_twisted.ensureDeferred
    async def test_a_dead_owners_binds_count_until_it_is_taken_over(self, store):
        await store.add_account(make_account())
        dead = await store.join_cluster(1, 0.0)
        me = await store.join_cluster(2, 100.0)
        await self._drop_legacy(store, me)
        await store.add_bind(dead, 1, "acme", "transceiver", 2, 0.0)
        await store.add_bind(dead, 2, "acme", "transceiver", 2, 0.0)
        assert await store.add_bind(me, 1, "acme", "transceiver", 2, 100.0) is False
        assert await store.claim_dead_owner(me, 100.0, LEASE) == dead
        assert await store.add_bind(me, 1, "acme", "transceiver", 2, 100.0) is True

    # --- outbox claims -----------------------------------------------------------------
    async def _receipts(self, store, n: int, claimed_by: int | None = None) -> list:
        await store.add_account(make_account())
        ids = [str(i) for i in range(1, n + 1)]
        await store.accept("acme", [make_message(i) for i in ids], Decimal(0))
        items = []
        for i in ids:
            items += await store.finish(i, MessageState.DELIVERED, 0, 1.0, [
                dataclasses.replace(make_outbox(i), claimed_by=claimed_by)])
        return items

    @pytest_twisted.ensureDeferred
    async def test_outbox_items_are_claimed_oldest_first_by_one_owner_at_a_time(self, store):
        items = await self._receipts(store, 5)
        assert all(i.claimed_by is None for i in items)
        mine = await store.claim_outbox("acme", 1, 3)
        assert mine == [dataclasses.replace(i, claimed_by=1) for i in items[:3]]
        theirs = await store.claim_outbox("acme", 2, 10)
        assert [i.id for i in theirs] == [i.id for i in items[3:]]
        assert await store.claim_outbox("acme", 3, 10) == []
        assert await store.claim_outbox("nobody", 3, 10) == []
        assert await store.claim_outbox("acme", 3, 0) == []

    @pytest_twisted.ensureDeferred
    async def test_released_items_are_claimable_again_and_acked_ones_are_gone(self, store):
        items = await self._receipts(store, 3)
        await store.claim_outbox("acme", 1, 10)
        await store.release_outbox([items[0].id, items[2].id])
        await store.ack_outbox([items[1].id])
        assert [i.id for i in await store.claim_outbox("acme", 2, 10)] == [
            items[0].id, items[2].id]
        assert [i.id for i in await store.pending_outbox("acme", 0, 10)] == [
            items[0].id, items[2].id]

    @pytest_twisted.ensureDeferred
    async def test_items_queued_already_claimed_are_not_claimed_by_others(self, store):
        items = await self._receipts(store, 2, claimed_by=4)
        assert [i.claimed_by for i in items] == [4, 4]
        assert await store.pending_outbox("acme", 0, 10) == items
        assert await store.claim_outbox("acme", 5, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_webhook_items_queued_claimed_are_not_claimed_by_others(self, store):
        await store.add_account(make_account())
        [item] = await store.queue_outbox([
            dataclasses.replace(make_webhook("m1"), claimed_by=4)])
        assert item.claimed_by == 4
        assert await store.claim_webhooks(5, 1e9, 10) == []
        await store.release_webhooks([item.id])
        assert [i.id for i in await store.claim_webhooks(5, 1e9, 10)] == [item.id]
