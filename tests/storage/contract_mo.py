"""The store contract for inbound (MO) messages: the numbers accounts own (NumberStore) and
the parts of concatenated MO held until their message is whole (InboundStore). Mixed into
each backend's test class next to StoreContract (it uses that class's `store` and `stores`
fixtures)."""
from __future__ import annotations

import dataclasses

import pytest_twisted
from contract import _fails_with, make_account
from contract_webhooks import make_mo_legs
from twisted.internet import defer

from gateway.core.numbers import OwnedNumber
from gateway.core.ports import NumberTaken, UnknownAccount
from gateway.model import Address, Channel, InboundPart

__all__ = ["InboundStoreContract", "make_part"]


def make_part(part_id: str, seq: int, total: int = 3, ref: int = 7,
              received_at: float = 100.0, source: str = "359888000001",
              destination: str = "4444") -> InboundPart:
    return InboundPart(
        id=part_id, source=Address(ton=1, npi=1, addr=source),
        destination=Address(ton=3, npi=0, addr=destination), ref=ref, total=total, seq=seq,
        body=f"part {seq} of {total}|".encode() + bytes([0, 0xFF]), data_coding=8,
        connector="op1", received_at=received_at)


async def _all_webhooks(store):
    return await store.list_webhooks(limit=1000)


class InboundStoreContract:
    # --- numbers ---------------------------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_numbers_are_stored_normalized_and_listed_by_number_then_keyword(
        self, store
    ):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        await store.add_number(OwnedNumber(number="+359888000111", account="acme"))
        await store.add_number(OwnedNumber(number="4444", account="beta", keyword=" stop "))
        await store.add_number(OwnedNumber(number="4444", account="acme", keyword="Info"))
        await store.add_number(OwnedNumber(number="shop1", account="beta"))
        assert await store.list_numbers() == [
            OwnedNumber(number="359888000111", account="acme"),
            OwnedNumber(number="4444", account="acme", keyword="INFO"),
            OwnedNumber(number="4444", account="beta", keyword="STOP"),
            OwnedNumber(number="SHOP1", account="beta"),
        ]
        assert await store.list_numbers("beta") == [
            OwnedNumber(number="4444", account="beta", keyword="STOP"),
            OwnedNumber(number="SHOP1", account="beta"),
        ]
        assert await store.list_numbers("nobody") == []

    @pytest_twisted.ensureDeferred
    async def test_a_number_and_keyword_already_owned_fail_with_number_taken(self, store):
        await store.add_account(make_account())
        await store.add_account(make_account("beta"))
        await store.add_number(OwnedNumber(number="359888000111", account="acme"))
        await store.add_number(OwnedNumber(number="4444", account="acme", keyword="STOP"))
        for taken in (OwnedNumber(number="00359888000111", account="beta"),
                      OwnedNumber(number="+359888000111", account="acme"),
                      OwnedNumber(number="4444", account="beta", keyword="stop")):
            await _fails_with(store.add_number(taken), NumberTaken)
        await store.add_number(OwnedNumber(number="4444", account="beta", keyword="GO"))
        assert len(await store.list_numbers()) == 3

    @pytest_twisted.ensureDeferred
    async def test_a_number_for_an_unknown_account_fails_with_unknown_account(self, store):
        await _fails_with(store.add_number(OwnedNumber(number="4444", account="ghost")),
                          UnknownAccount)
        assert await store.list_numbers() == []

    @pytest_twisted.ensureDeferred
    async def test_a_malformed_number_or_keyword_is_a_value_error(self, store):
        await store.add_account(make_account())
        for bad in (OwnedNumber(number="", account="acme"),
                    OwnedNumber(number="12 34", account="acme"),
                    OwnedNumber(number="4444", account="acme", keyword="two words")):
            await _fails_with(store.add_number(bad), ValueError)
        assert await store.list_numbers() == []

    @pytest_twisted.ensureDeferred
    async def test_removing_a_number_in_any_form_it_normalizes_to(self, store):
        await store.add_account(make_account())
        await store.add_number(OwnedNumber(number="359888000111", account="acme"))
        await store.add_number(OwnedNumber(number="4444", account="acme", keyword="STOP"))
        assert await store.remove_number("+359888000111") is True
        assert await store.remove_number("359888000111") is False
        assert await store.remove_number("4444") is False  # only the keyword entry exists
        assert await store.remove_number("4444", "stop") is True
        assert await store.remove_number("not a number") is False
        assert await store.list_numbers() == []

    @pytest_twisted.ensureDeferred
    async def test_adding_and_removing_numbers_bump_the_settings_version(self, store):
        await store.add_account(make_account())
        v0 = await store.settings_version()
        await store.add_number(OwnedNumber(number="4444", account="acme"))
        v1 = await store.settings_version()
        await _fails_with(store.add_number(OwnedNumber(number="4444", account="acme")),
                          NumberTaken)
        assert await store.remove_number("5555") is False
        assert await store.settings_version() == v1
        await store.remove_number("4444")
        assert v0 < v1 < await store.settings_version()

    # --- parts of concatenated MO ----------------------------------------------------------
    @pytest_twisted.ensureDeferred
    async def test_held_parts_come_back_as_their_group_by_seq(self, store):
        await store.add_account(make_account())
        p3, p1 = make_part("mo3", 3), make_part("mo1", 1)
        assert await store.add_inbound_part(p3) == [p3]
        assert await store.add_inbound_part(p1) == [p1, p3]
        other = make_part("x1", 1, ref=8)  # another group: another ref
        assert await store.add_inbound_part(other) == [other]
        stranger = make_part("y1", 2, source="359888000002")  # another sender
        assert await store.add_inbound_part(stranger) == [stranger]

    @pytest_twisted.ensureDeferred
    async def test_a_part_arriving_twice_is_held_once(self, store):
        await store.add_account(make_account())
        first = make_part("mo1", 1, received_at=1.0)
        await store.add_inbound_part(first)
        group = await store.add_inbound_part(
            dataclasses.replace(first, id="mo1-again", received_at=2.0))
        assert group == [first]
        group = await store.add_inbound_part(first)  # the very same part
        assert group == [first]

    @pytest_twisted.ensureDeferred
    async def test_a_part_with_a_seq_beyond_its_total_is_refused(self, store):
        await store.add_account(make_account())
        for seq in (0, 4):
            await _fails_with(store.add_inbound_part(make_part("mo1", seq)), ValueError)
        assert await store.held_inbound(1e12, 10) == []
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_a_group_is_completed_once_only(self, store):
        await store.add_account(make_account())
        parts = [make_part(f"mo{seq}", seq) for seq in (1, 2, 3)]
        for part in parts:
            await store.add_inbound_part(part)
        first = await store.complete_inbound(parts, make_mo_legs(n=1))
        assert [item.channel for item in first] == [Channel.SMPP, Channel.WEBHOOK]
        assert await store.complete_inbound(parts, make_mo_legs(n=2)) is None
        assert await store.pending_outbox("acme", 0, 10) == first[:1]
        assert await _all_webhooks(store) == first[1:]
        assert await store.held_inbound(1e12, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_concurrent_completions_of_one_group_let_exactly_one_win(self, store):
        await store.add_account(make_account())
        parts = [make_part(f"mo{seq}", seq, total=2) for seq in (1, 2)]
        for part in parts:
            await store.add_inbound_part(part)
        results = await defer.gatherResults([
            store.complete_inbound(parts, make_mo_legs(n=n)) for n in range(5)])
        assert sum(result is not None for result in results) == 1
        assert len(await store.pending_outbox("acme", 0, 10)) == 1
        assert (await store.webhook_counts())["pending"] == 1

    @pytest_twisted.ensureDeferred
    async def test_completing_parts_of_which_some_are_gone_writes_nothing(self, store):
        await store.add_account(make_account())
        held = [make_part(f"mo{seq}", seq) for seq in (1, 2)]
        for part in held:
            await store.add_inbound_part(part)
        never_held = make_part("mo3", 3)
        assert await store.complete_inbound([*held, never_held], make_mo_legs()) is None
        assert await store.held_inbound(1e12, 10) == [held]
        assert await store.pending_outbox("acme", 0, 10) == []

    @pytest_twisted.ensureDeferred
    async def test_held_inbound_returns_complete_and_stale_groups_only_oldest_first(
        self, store
    ):
        await store.add_account(make_account())
        complete = [make_part(f"c{seq}", seq, total=2, ref=1, received_at=90.0 + seq)
                    for seq in (2, 1)]
        stale = [make_part("s1", 1, ref=2, received_at=10.0),
                 make_part("s3", 3, ref=2, received_at=95.0)]
        fresh = [make_part("f1", 1, ref=3, received_at=60.0),
                 make_part("f2", 2, ref=3, received_at=99.0)]
        for part in complete + stale + fresh:
            await store.add_inbound_part(part)
        assert await store.held_inbound(50.0, 10) == [stale, complete[::-1]]
        assert await store.held_inbound(50.0, 1) == [stale]
        assert await store.held_inbound(5.0, 10) == [complete[::-1]]
        assert await store.held_inbound(61.0, 10) == [stale, fresh, complete[::-1]]
        assert await store.held_inbound(50.0, 0) == []

    @pytest_twisted.ensureDeferred
    async def test_held_parts_survive_close_and_reopen(self, stores):
        store = stores()
        await store.add_account(make_account())
        part = make_part("mo1", 1)
        await store.add_inbound_part(part)
        await store.close()
        again = stores()
        assert await again.held_inbound(1e12, 10) == [[part]]
