"""The CdrStore and OpsStore contract: CDRs by final time with their upstream, paged by a
cursor that never repeats or skips one; the write probe, queue depths and the message
search the console uses. Mixed into each backend's test classes (it uses the `store`
fixture of the class it is mixed into)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message, make_outbox
from contract_webhooks import make_webhook

from gateway.core.ids import MessageIdGenerator
from gateway.model import Address, Cdr, MessageState

__all__ = ["CdrStoreContract"]

T0 = 1_796_000_000.0  # 2026-11-29


def _ids(start: float = T0):
    clock = [start]
    generator = MessageIdGenerator(3, lambda: clock[0])
    return generator, clock


async def _final(store, message_id: str, done_at: float, *, account: str = "acme",
                 state: MessageState = MessageState.DELIVERED, error: int = 0, **kw) -> None:
    message = make_message(message_id, account, submitted_at=done_at - 1.0, **kw)
    assert await store.accept(account, [message], message.price)
    await store.finish(message_id, state, error, done_at, [])


async def _all_cdrs(store, since, until, account=None, page=3) -> list[Cdr]:
    found, after = [], None
    while True:
        rows = await store.cdrs(since, until, account, after, page)
        found += rows
        if len(rows) < page:
            return found
        after = (rows[-1].done_at, rows[-1].id)


class CdrStoreContract:
    @pytest_twisted.ensureDeferred
    async def test_a_cdr_carries_every_field_of_its_message_and_its_upstream(self, store):
        await store.add_account(make_account(balance="10"))
        await _final(store, "501", T0 + 5, state=MessageState.UNDELIVERABLE, error=0x40B,
                     parts=3, price=Decimal("0.15"), data_coding=8, transport="http",
                     connector="op1")
        await store.mark_submitting("501", "op1", T0)
        await store.record_submitted("501", "op1", "ABC123", ["abc123"], T0)
        [cdr] = await store.cdrs(T0, T0 + 10, None, None, 10)
        assert cdr == Cdr(
            id="501", account="acme", transport="http", source="ACME",
            destination="359888123456", parts=3, data_coding=8, price=Decimal("0.15"),
            connector="op1", upstream_id="ABC123", submitted_at=T0 + 4, done_at=T0 + 5,
            state=MessageState.UNDELIVERABLE, error_code=0x40B)

    @pytest_twisted.ensureDeferred
    async def test_a_message_stored_without_upstream_has_its_routed_connector(self, store):
        await store.add_account(make_account())
        await _final(store, "502", T0, transport="smpp")
        [cdr] = await store.cdrs(T0, T0 + 1, None, None, 10)
        assert (cdr.connector, cdr.upstream_id, cdr.transport) == ("simulator", "", "smpp")

    @pytest_twisted.ensureDeferred
    async def test_only_final_messages_inside_the_range_are_cdrs_since_in_until_out(
        self, store
    ):
        await store.add_account(make_account())
        for n, done in enumerate((T0 - 0.001, T0, T0 + 1, T0 + 2)):
            await _final(store, f"60{n}", done)
        waiting = make_message("699")
        await store.accept("acme", [waiting], waiting.price)
        got = await store.cdrs(T0, T0 + 2, None, None, 100)
        assert [c.id for c in got] == ["601", "602"]

    @pytest_twisted.ensureDeferred
    async def test_cdrs_filter_by_account(self, store):
        await store.add_account(make_account("acme"))
        await store.add_account(make_account("shop"))
        await _final(store, "701", T0, account="acme")
        await _final(store, "702", T0 + 1, account="shop")
        await _final(store, "703", T0 + 2, account="acme")
        assert [c.id for c in await store.cdrs(T0, T0 + 9, "acme", None, 10)] == ["701", "703"]
        assert [c.id for c in await store.cdrs(T0, T0 + 9, "nobody", None, 10)] == []

    @pytest_twisted.ensureDeferred
    async def test_pages_never_repeat_or_skip_a_cdr_when_many_share_a_final_time(self, store):
        await store.add_account(make_account(balance="100"))
        expected = []
        for n in range(11):  # pages of 3: a page boundary falls among equal done_at values
            done = T0 + (n // 4)
            await _final(store, f"8{n:02d}", done)
            expected.append((done, f"8{n:02d}"))
        got = await _all_cdrs(store, T0, T0 + 100)
        assert [(c.done_at, c.id) for c in got] == sorted(expected)

    @pytest_twisted.ensureDeferred
    async def test_a_message_that_becomes_final_later_is_in_a_later_range_only(self, store):
        await store.add_account(make_account())
        late = make_message("901", submitted_at=T0)
        await store.accept("acme", [late], late.price)
        assert await store.cdrs(T0, T0 + 10, None, None, 10) == []
        await store.finish("901", MessageState.EXPIRED, 0, T0 + 20, [])
        assert await store.cdrs(T0, T0 + 10, None, None, 10) == []
        [cdr] = await store.cdrs(T0 + 10, T0 + 30, None, None, 10)
        assert cdr.state is MessageState.EXPIRED

    # --- OpsStore --------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_ping_answers_on_a_working_store(self, store):
        assert await store.ping() is None

    @pytest_twisted.ensureDeferred
    async def test_queue_depths_count_unfinished_messages_outbox_and_webhooks(self, store):
        await store.add_account(make_account(balance="100"))
        assert await store.queue_depths() == {
            "unfinished": 0, "receipts_pending": 0, "webhooks_pending": 0, "webhooks_dead": 0}
        messages = [make_message(f"10{n}") for n in range(3)]
        await store.accept("acme", messages, Decimal("0.15"))
        await store.finish("100", MessageState.DELIVERED, 0, T0, [make_outbox("100")])
        await store.queue_outbox([make_webhook("101"), make_webhook("102")])
        [first, _] = await store.list_webhooks(limit=10)
        await store.webhook_failed(first.id, 1, T0, "HTTP 500", T0)
        assert await store.queue_depths() == {
            "unfinished": 2, "receipts_pending": 1, "webhooks_pending": 1, "webhooks_dead": 1}

    @pytest_twisted.ensureDeferred
    async def test_find_messages_by_source_or_destination_newest_first_since_a_time(
        self, store
    ):
        await store.add_account(make_account(balance="100"))
        ids, clock = _ids()
        stored = []
        for n, (src, dst) in enumerate([("ACME", "491701"), ("491701", "7777"),
                                        ("ACME", "491702"), ("ACME", "491701")]):
            clock[0] = T0 + n * 3600
            message = make_message(ids.next_id(), source=Address(addr=src),
                                   destination=Address(addr=dst), submitted_at=clock[0])
            await store.accept("acme", [message], message.price)
            stored.append(message.id)
        found = await store.find_messages("491701", T0, 10)
        assert [m.id for m in found] == [stored[3], stored[1], stored[0]]
        assert [m.id for m in await store.find_messages("491701", T0 + 3600, 10)] == [
            stored[3], stored[1]]
        assert [m.id for m in await store.find_messages("491701", T0, 1)] == [stored[3]]
        assert await store.find_messages("000", T0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_transport_is_stored_with_the_message(self, store):
        await store.add_account(make_account())
        message = make_message("1201", transport="http")
        await store.accept("acme", [message], message.price)
        assert (await store.get_message("1201")) == dataclasses.replace(message)
