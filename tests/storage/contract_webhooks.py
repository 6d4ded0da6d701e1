"""The store contract for the fan-out's legs: accounts' webhook settings, receipts and MO
queued as SMPP and WEBHOOK items (finish, cancel, queue_outbox) and the persistent webhook
outbox (WebhookStore). Mixed into each backend's test class next to StoreContract (it uses
that class's `store` and `stores` fixtures)."""
from __future__ import annotations

import dataclasses
import itertools
import json
from decimal import Decimal

import pytest_twisted
from contract import _fails_with, make_account, make_message, make_outbox
from twisted.internet import defer

from gateway.model import (
    Address,
    Channel,
    DeliverVia,
    DeliveryKind,
    Message,
    MessageState,
    NewOutboxItem,
    OutboxItem,
)

__all__ = ["WebhookStoreContract", "make_mo_legs", "make_webhook", "stored_webhook"]

URL = "https://hooks.example.test/sms"
_EVENT_IDS = itertools.count(1)


def make_webhook(message_id: str, account: str = "acme", created_at: float = 100.0,
                 event_id: str | None = None, url: str = URL,
                 kind: DeliveryKind = DeliveryKind.RECEIPT) -> NewOutboxItem:
    """A WEBHOOK leg as core/fanout.py makes it (addresses and all, which are not kept)."""
    event_id = event_id or f"evt_{next(_EVENT_IDS)}"
    return dataclasses.replace(
        make_outbox(message_id, account, created_at, kind=kind), channel=Channel.WEBHOOK,
        url=url, event_id=event_id, body=b"", network_error_code=None,
        payload=json.dumps({"event_id": event_id, "data": {"message_id": message_id}}))


def stored_webhook(new: NewOutboxItem, item_id: int, **state: object) -> OutboxItem:
    """`new` as the store gives it back: its payload, without addresses or SMPP fields."""
    fields = {"next_attempt_at": new.created_at, **state}
    return OutboxItem(
        id=item_id, account=new.account, kind=new.kind, source=Address(),
        destination=Address(), body=b"", message_id=new.message_id,
        created_at=new.created_at, channel=Channel.WEBHOOK, url=new.url,
        event_id=new.event_id, payload=new.payload, **fields)


def stored_smpp(new: NewOutboxItem, item_id: int) -> OutboxItem:
    return OutboxItem(id=item_id, **{
        f.name: getattr(new, f.name) for f in dataclasses.fields(NewOutboxItem)})


async def due(store, now: float, limit: int, exclude_urls=()) -> list[OutboxItem]:
    """The items `claim_webhooks` would give now (claimed to read them, then let go)."""
    items = await store.claim_webhooks(77, now, limit, exclude_urls)
    assert all(i.claimed_by == 77 for i in items)
    await store.release_webhooks([i.id for i in items])
    return [dataclasses.replace(i, claimed_by=None) for i in items]


def make_mo_legs(account: str = "acme", n: int = 1) -> list[NewOutboxItem]:
    """The legs of an MO: one over SMPP, one webhook."""
    smpp = make_outbox(f"mo{n}", account, 50.0, kind=DeliveryKind.MO, esm_class=0,
                       message_state=None, network_error_code=None)
    return [smpp, make_webhook(f"mo{n}", account, 50.0, kind=DeliveryKind.MO)]


async def _all_webhooks(store) -> list[OutboxItem]:
    return await store.list_webhooks(limit=1000)


class WebhookStoreContract:
    # --- accounts --------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_account_webhook_settings_round_trip_everywhere_accounts_are_read(
        self, store
    ):
        account = make_account(webhook_url=URL, webhook_secret="s3cret",
                               deliver_via=DeliverVia.BOTH)
        await store.add_account(account)
        await store.add_account(make_account("plain"))
        await store.add_api_key("acme", "h1", "smsgw_abc", "", 1.0)
        assert await store.get_account("acme") == account
        assert await store.list_accounts() == [account, make_account("plain")]
        assert await store.account_for_api_key("h1") == account
        plain = await store.get_account("plain")
        assert (plain.webhook_url, plain.webhook_secret, plain.deliver_via) == (
            "", "", DeliverVia.AUTO)

    @pytest_twisted.ensureDeferred
    async def test_changing_webhook_settings_bumps_the_settings_version(self, store):
        await store.add_account(make_account(webhook_url=URL))
        for change in ({"webhook_url": URL + "/v2"}, {"webhook_secret": "new"},
                       {"deliver_via": DeliverVia.SMPP}):
            before = await store.settings_version()
            changed = dataclasses.replace(await store.get_account("acme"), **change)
            await store.update_account(changed)
            assert await store.get_account("acme") == changed
            assert await store.settings_version() > before

    # --- receipts with fan-out legs --------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_finish_queues_the_smpp_and_the_webhook_leg_each_in_its_outbox(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        smpp, webhook = make_outbox("1", created_at=7.0), make_webhook("1", created_at=7.0)
        queued = await store.finish("1", MessageState.DELIVERED, 0, 7.0, [smpp, webhook])
        assert [item.channel for item in queued] == [Channel.SMPP, Channel.WEBHOOK]
        assert queued == [stored_smpp(smpp, queued[0].id), stored_webhook(webhook, queued[1].id)]
        assert await store.pending_outbox("acme", 0, 10) == [queued[0]]
        assert await due(store, 7.0, 10) == [queued[1]]
        assert await _all_webhooks(store) == [queued[1]]

    @pytest_twisted.ensureDeferred
    async def test_a_second_finish_queues_no_leg_at_all(self, store):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        first = await store.finish("1", MessageState.DELIVERED, 0, 7.0,
                                   [make_outbox("1"), make_webhook("1", event_id="e1")])
        again = await store.finish("1", MessageState.EXPIRED, 0, 8.0,
                                   [make_outbox("1"), make_webhook("1", event_id="e2")])
        assert len(first) == 2 and again == []
        assert await store.pending_outbox("acme", 0, 10) == first[:1]
        assert await _all_webhooks(store) == first[1:]

    @pytest_twisted.ensureDeferred
    async def test_finish_whose_webhook_leg_cannot_be_stored_writes_no_leg_and_no_state(
        self, store
    ):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1"), make_message("2")], Decimal(0))
        [kept] = await store.finish("1", MessageState.DELIVERED, 0, 7.0,
                                    [make_webhook("1", event_id="same")])
        await _fails_with(store.finish("2", MessageState.DELIVERED, 0, 7.0, [
            make_outbox("2"), make_webhook("2", event_id="same")]), Exception)
        assert (await store.get_message("2")).state is MessageState.ENROUTE
        assert await store.pending_outbox("acme", 0, 10) == []
        assert await _all_webhooks(store) == [kept]

    @pytest_twisted.ensureDeferred
    async def test_a_webhook_leg_without_url_or_event_id_is_refused_before_any_write(
        self, store
    ):
        await store.add_account(make_account())
        await store.accept("acme", [make_message("1")], Decimal(0))
        for bad in (dataclasses.replace(make_webhook("1"), url=""),
                    dataclasses.replace(make_webhook("1"), event_id="")):
            await _fails_with(store.finish("1", MessageState.DELIVERED, 0, 7.0,
                                           [make_outbox("1"), bad]), ValueError)
        assert (await store.get_message("1")).state is MessageState.ENROUTE
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_concurrent_finishes_with_both_legs_get_the_ids_their_items_are_stored_by(
        self, store
    ):
        await store.add_account(make_account())
        ids = [str(n) for n in range(1, 41)]
        await store.accept("acme", [make_message(i) for i in ids], Decimal(0))
        [done] = await store.finish("1", MessageState.DELIVERED, 0, 1.0, [make_webhook("1")])
        legs = {i: [make_outbox(i)] if n % 3 == 0 else [make_webhook(i)] if n % 3 == 1
                else [make_outbox(i), make_webhook(i)] for n, i in enumerate(ids)}
        results = await defer.gatherResults([
            store.finish(i, MessageState.DELIVERED, 0, 1.0, legs[i]) for i in ids])
        assert results[0] == []  # "1" was final already
        smpp = [item for queued in results for item in queued if item.channel is Channel.SMPP]
        hooks = [item for queued in results for item in queued
                 if item.channel is Channel.WEBHOOK]
        for i, queued in zip(ids[1:], results[1:], strict=True):
            assert [(item.channel, item.message_id) for item in queued] == [
                (new.channel, i) for new in legs[i]]
        assert sorted(smpp, key=lambda item: item.id) == await store.pending_outbox(
            "acme", 0, 100)
        assert [done] + sorted(hooks, key=lambda item: item.id) == await _all_webhooks(store)

    @pytest_twisted.ensureDeferred
    async def test_cancel_queues_every_leg_of_the_receipt(self, store):
        await store.add_account(make_account(balance="1"))
        here, there = Address(ton=1, npi=1, addr="111"), Address(ton=1, npi=1, addr="222")
        for n in ("1", "2", "3"):
            m = make_message(n, state=MessageState.SCHEDULED, scheduled_at=500.0,
                             source=here, destination=there, registered_delivery=1)
            await store.accept("acme", [m], m.price)

        def legs(message: Message) -> list[NewOutboxItem]:
            return [make_outbox(message.id, created_at=9.0),
                    make_webhook(message.id, created_at=9.0)]

        deleted, queued = await store.cancel("acme", "1", 9.0, legs)
        assert deleted.state is MessageState.DELETED
        assert [item.channel for item in queued] == [Channel.SMPP, Channel.WEBHOOK]
        matched = await store.cancel_matching("acme", "111", "222", 9.0, legs)
        assert [m.id for m, _ in matched] == ["2", "3"]
        everything = queued + [item for _, items in matched for item in items]
        assert await store.pending_outbox("acme", 0, 10) == everything[0::2]
        assert await _all_webhooks(store) == everything[1::2]
        assert [item.message_id for item in everything[1::2]] == ["1", "2", "3"]

    # --- queue_outbox (MO legs) ------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_queue_outbox_stores_mixed_items_and_returns_them_in_order(self, store):
        await store.add_account(make_account())
        items = [make_webhook("a", kind=DeliveryKind.MO), *make_mo_legs(n=2),
                 make_outbox("b", kind=DeliveryKind.MO)]
        queued = await store.queue_outbox(items)
        assert [item.channel for item in queued] == [new.channel for new in items]
        assert await store.pending_outbox("acme", 0, 10) == [queued[1], queued[3]]
        assert await _all_webhooks(store) == [queued[0], queued[2]]
        assert queued[0] == stored_webhook(items[0], queued[0].id)
        assert queued[1] == stored_smpp(items[1], queued[1].id)
        assert await store.queue_outbox([]) == []

    @pytest_twisted.ensureDeferred
    async def test_concurrent_queue_outbox_calls_each_get_their_own_items(self, store):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        results = await defer.gatherResults([
            store.queue_outbox(make_mo_legs("acme" if n % 2 else "beta", n)) for n in range(30)])
        for n, queued in enumerate(results):
            assert [(item.channel, item.message_id) for item in queued] == [
                (Channel.SMPP, f"mo{n}"), (Channel.WEBHOOK, f"mo{n}")]
        webhooks = sorted((queued[1] for queued in results), key=lambda item: item.id)
        assert await _all_webhooks(store) == webhooks
        assert await store.pending_outbox("beta", 0, 100) == [q[0] for q in results[0::2]]

    @pytest_twisted.ensureDeferred
    async def test_queue_outbox_for_an_unknown_account_or_bad_item_queues_nothing(self, store):
        await store.add_account(make_account())
        await _fails_with(store.queue_outbox([make_outbox("1"), *make_mo_legs("ghost")]), Exception)
        await _fails_with(store.queue_outbox(
            [make_outbox("1"), dataclasses.replace(make_webhook("1"), url="")]), ValueError)
        assert await store.pending_outbox("acme", 0, 10) == []
        assert await store.webhook_counts() == {"pending": 0, "dead": 0}

    # --- the webhook outbox ----------------------------------------------------------------
    async def _webhooks(self, store, *created: float, url: str = URL,
                        account: str = "acme") -> list[OutboxItem]:
        return await store.queue_outbox([
            make_webhook(f"m{n}", account, at, url=url) for n, at in enumerate(created)])

    @pytest_twisted.ensureDeferred
    async def test_due_webhooks_are_live_items_due_by_now_earliest_first_then_by_id(
        self, store
    ):
        await store.add_account(make_account())
        a30, a10, a20, b10 = await self._webhooks(store, 30.0, 10.0, 20.0, 10.0)
        assert await due(store, 25.0, 10) == [a10, b10, a20]
        assert await due(store, 25.0, 2) == [a10, b10]
        assert await due(store, 30.0, 10) == [a10, b10, a20, a30]
        assert await due(store, 9.9, 10) == []
        assert await due(store, 30.0, 0) == []

    @pytest_twisted.ensureDeferred
    async def test_claimed_webhooks_are_not_claimed_again_nor_those_of_urls_backing_off(
        self, store
    ):
        await store.add_account(make_account())
        a1, a2 = await self._webhooks(store, 1.0, 2.0)
        b1, b2 = await self._webhooks(store, 1.5, 2.5, url="https://slow.example.test/")
        assert await due(store, 10.0, 10) == [a1, b1, a2, b2]
        claimed = await store.claim_webhooks(5, 10.0, 2)
        assert claimed == [dataclasses.replace(i, claimed_by=5) for i in (a1, b1)]
        assert await due(store, 10.0, 10) == [a2, b2]  # another node skips them
        assert await due(store, 10.0, 10, [b1.url]) == [a2]
        assert await store.claim_webhooks(6, 10.0, 10, [URL, b1.url]) == []
        await store.release_webhooks([b1.id])
        await store.webhook_failed(a1.id, 1, 10.0, "HTTP 500", None)  # unclaims it too
        failed = dataclasses.replace(a1, attempts=1, next_attempt_at=10.0, last_error="HTTP 500")
        assert await due(store, 10.0, 10) == [b1, a2, b2, failed]

    @pytest_twisted.ensureDeferred
    async def test_delivered_webhooks_are_removed(self, store):
        await store.add_account(make_account())
        first, second, third = await self._webhooks(store, 1.0, 2.0, 3.0)
        await store.webhooks_delivered([first.id, third.id, 9999])
        assert await due(store, 10.0, 10) == [second]
        await store.webhooks_delivered([])
        await store.webhooks_delivered([first.id])  # a repeated delivery is harmless
        assert await store.webhook_counts() == {"pending": 1, "dead": 0}

    @pytest_twisted.ensureDeferred
    async def test_a_failed_webhook_is_not_due_before_its_next_attempt(self, store):
        await store.add_account(make_account())
        item, other = await self._webhooks(store, 1.0, 2.0)
        await store.webhook_failed(item.id, 1, 50.0, "HTTP 503", None)
        assert await due(store, 49.0, 10) == [other]
        retried = dataclasses.replace(item, attempts=1, next_attempt_at=50.0,
                                      last_error="HTTP 503")
        assert await due(store, 50.0, 10) == [other, retried]
        await store.webhook_failed(9999, 1, 50.0, "gone", None)  # delivered meanwhile
        assert await store.webhook_counts() == {"pending": 2, "dead": 0}

    @pytest_twisted.ensureDeferred
    async def test_a_dead_webhook_is_never_due_and_is_listed_as_a_dead_letter(self, store):
        await store.add_account(make_account())
        item, live = await self._webhooks(store, 1.0, 2.0)
        await store.webhook_failed(item.id, 9, 1e9, "timeout", 60.0)
        dead = dataclasses.replace(item, attempts=9, next_attempt_at=1e9,
                                   last_error="timeout", dead_at=60.0)
        assert await due(store, 1e12, 10) == [live]
        assert await store.list_webhooks(dead=True) == [dead]
        assert await store.list_webhooks(dead=False) == [live]
        assert await store.list_webhooks() == [dead, live]
        assert await store.webhook_counts() == {"pending": 1, "dead": 1}

    @pytest_twisted.ensureDeferred
    async def test_list_webhooks_pages_by_id_for_one_account_or_all(self, store):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        a = await self._webhooks(store, 1.0, 2.0, 3.0)
        b = await self._webhooks(store, 1.0, 2.0, account="beta")
        assert await store.list_webhooks(account="acme") == a
        assert await store.list_webhooks(account="beta", after_id=b[0].id) == b[1:]
        assert await store.list_webhooks(limit=2) == a[:2]
        assert await store.list_webhooks(after_id=a[-1].id) == b
        assert await store.list_webhooks(account="nobody") == []
        assert await store.list_webhooks(limit=0) == []

    async def _dead(self, store, account: str, *created: float) -> list[OutboxItem]:
        items = await self._webhooks(store, *created, account=account)
        for item in items:
            await store.webhook_failed(item.id, 7, 1e9, f"HTTP 500 for {item.id}", 80.0)
        return items

    @pytest_twisted.ensureDeferred
    async def test_replayed_dead_letters_are_due_at_once_with_attempts_reset(self, store):
        await store.add_account(make_account())
        item, = await self._dead(store, "acme", 1.0)
        assert await store.replay_webhooks(ids=[item.id], now=500.0) == 1
        replayed = dataclasses.replace(item, attempts=0, next_attempt_at=500.0,
                                       last_error=f"HTTP 500 for {item.id}", dead_at=None)
        assert await due(store, 500.0, 10) == [replayed]
        assert await store.replay_webhooks(ids=[item.id], now=600.0) == 0  # live: untouched
        assert await due(store, 500.0, 10) == [replayed]

    @pytest_twisted.ensureDeferred
    async def test_replay_by_ids_by_account_or_every_dead_letter(self, store):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        a1, a2, a3 = await self._dead(store, "acme", 1.0, 2.0, 3.0)
        b1, b2 = await self._dead(store, "beta", 1.0, 2.0)
        live, = await self._webhooks(store, 4.0)
        assert await store.replay_webhooks(ids=[a1.id, live.id, 9999], now=5.0) == 1
        assert await store.replay_webhooks(ids=[], now=5.0) == 0
        assert await store.replay_webhooks(ids=[a2.id, b1.id], account="beta", now=5.0) == 1
        assert await store.replay_webhooks(account="acme", now=6.0) == 2  # a2, a3
        assert await store.webhook_counts() == {"pending": 5, "dead": 1}
        assert await store.replay_webhooks(now=7.0) == 1  # b2
        assert await store.replay_webhooks(now=7.0) == 0
        assert await store.webhook_counts() == {"pending": 6, "dead": 0}
        now_due = await due(store, 7.0, 10)
        assert [(item.id, item.next_attempt_at, item.attempts) for item in now_due] == [
            (live.id, 4.0, 0), (a1.id, 5.0, 0), (b1.id, 5.0, 0), (a2.id, 6.0, 0),
            (a3.id, 6.0, 0), (b2.id, 7.0, 0)]

    @pytest_twisted.ensureDeferred
    async def test_concurrent_deliveries_and_failures_each_take_effect(self, store):
        await store.add_account(make_account())
        items = await self._webhooks(store, *[float(n) for n in range(1, 21)])
        await defer.gatherResults(
            [store.webhooks_delivered([item.id]) for item in items[:10]]
            + [store.webhook_failed(item.id, 2, 100.0 + n, f"e{n}", 90.0 if n % 2 else None)
               for n, item in enumerate(items[10:])])
        rest = await store.list_webhooks()
        assert [item.id for item in rest] == [item.id for item in items[10:]]
        assert [(i.attempts, i.next_attempt_at, i.last_error) for i in rest] == [
            (2, 100.0 + n, f"e{n}") for n in range(10)]
        assert await store.webhook_counts() == {"pending": 5, "dead": 5}

    @pytest_twisted.ensureDeferred
    async def test_webhooks_and_their_delivery_state_survive_close_and_reopen(self, stores):
        store = stores()
        await store.add_account(make_account())
        item, dead = await self._webhooks(store, 1.0, 2.0)
        await store.webhook_failed(item.id, 3, 40.0, "refused", None)
        await store.webhook_failed(dead.id, 8, 41.0, "timeout", 41.0)
        before = await store.list_webhooks()
        await store.close()
        again = stores()
        assert await again.list_webhooks() == before
        assert await due(again, 40.0, 10) == before[:1]
