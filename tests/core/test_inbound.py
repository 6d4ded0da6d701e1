"""The MO path (core/inbound.py) against the in-memory store, time from a task.Clock:
owners and keywords, the SMPP and webhook legs, reassembly in any order, the timeout
release and the completion of groups a crash left whole."""
from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from gateway.connectors.simulator_mo import address, inbound_messages
from gateway.core.fanout import Subscriptions
from gateway.core.ids import MessageIdGenerator
from gateway.core.inbound import InboundConfig, InboundRouter
from gateway.core.numbers import NumberDirectory, OwnedNumber
from gateway.core.ports import InboundRejected
from gateway.model import (
    Account,
    Channel,
    DeliverVia,
    DeliveryKind,
    InboundMessage,
    InboundPart,
)
from gateway.smpp.constants import CommandStatus
from gateway.storage.memory import MemoryStore
from gateway.text.encoding import encode_text
from gateway.text.udh import parse_udh

NOW = 1_800_000_000.0
HANDSET = "4917600000001"
NUMBER = "4915100000009"
SHORT_CODE = "12345"
URL = "https://hooks.example/mo"
# 3 parts in GSM 7-bit (153 characters each with a concat UDH)
LONG = ("The quick brown fox jumps over the lazy dog. " * 9)[:400]


class Fanout:
    """Stands for core/delivery.py: records what the MO path hands it."""

    def __init__(self) -> None:
        self.items: list = []

    def claim(self, items):
        return list(items)  # nothing is pushed at once: every item waits in the store

    def enqueue(self, item) -> None:
        self.items.append(item)


class Env:
    def __init__(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        self.directory = NumberDirectory()
        self.subscriptions = Subscriptions()
        self.fanout = Fanout()
        self.config = InboundConfig(reassembly_timeout=300.0, sweep_interval=10.0)
        self.router = InboundRouter(
            store=self.store, directory=self.directory, subscriptions=self.subscriptions,
            delivery=self.fanout, ids=MessageIdGenerator(1, self.clock.seconds),
            clock=self.clock, config=self.config)
        self.numbers: list[OwnedNumber] = []

    async def account(self, system_id: str, url: str = "",
                      via: DeliverVia = DeliverVia.AUTO) -> None:
        account = Account(system_id=system_id, password_hash="x", balance=Decimal(0),
                          webhook_url=url, deliver_via=via)
        await self.store.add_account(account)
        self.subscriptions.update(account)

    def own(self, number: str, account: str, keyword: str = "") -> None:
        self.numbers.append(OwnedNumber(number=number, account=account, keyword=keyword))
        self.directory.load(self.numbers)

    async def receive(self, *messages: InboundMessage) -> list[str]:
        """The MO ids the messages got, once they and the completions they start are done."""
        ids = [await self.router.message_received(message) for message in messages]
        await self.router.idle()
        return ids

    async def smpp(self, account: str) -> list:
        """The account's SMPP items waiting in the store (claimed to read them, then let go)."""
        items = await self.store.claim_outbox(account, 99, 100)
        await self.store.release_outbox([i.id for i in items])
        return [dataclasses.replace(i, claimed_by=None) for i in items]

    async def webhooks(self, account: str) -> list[dict]:
        items = await self.store.list_webhooks(account=account)
        assert all(i.channel is Channel.WEBHOOK and i.url == URL for i in items)
        return [json.loads(i.payload)["data"] for i in items]

    async def held(self) -> list[list[InboundPart]]:
        return await self.store.held_inbound(NOW + 10 ** 6, 100)


@pytest.fixture
def env():
    e = Env()
    yield e
    pytest_twisted.blockon(e.router.stop())
    pytest_twisted.blockon(e.store.close())


def mo(text: str = "hello", to: str = NUMBER, **changes) -> InboundMessage:
    fields = dict(source=address(HANDSET), destination=address(to), body=text.encode(),
                  connector="upstream-1", received_at=NOW)
    fields.update(changes)
    return InboundMessage(**fields)


def parts(text: str = LONG, to: str = NUMBER, data_coding: int = 0, ref: int = 7,
          split: str = "udh", order: list[int] | None = None) -> list[InboundMessage]:
    """The parts `text` arrives as, in `order` (part numbers; default as split)."""
    split_parts = inbound_messages(
        source=address(HANDSET), destination=address(to),
        body=encode_text(text, data_coding), data_coding=data_coding, ref=ref, now=NOW,
        split=split)
    return [split_parts[seq - 1] for seq in order or range(1, len(split_parts) + 1)]


async def refused(d) -> int:
    with pytest.raises(InboundRejected) as caught:
        await d
    return caught.value.command_status


# --- single MO --------------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_an_mo_to_an_owned_number_is_durable_for_its_account_over_smpp_when_it_fires(env):
    await env.account("acme")
    env.own(NUMBER, "acme")
    mo_id = await env.router.message_received(mo("hello there"))
    assert mo_id.isdigit()
    [item] = await env.smpp("acme")  # committed: the memory store commits before it fires
    assert item.kind is DeliveryKind.MO and item.channel is Channel.SMPP
    assert (item.source.addr, item.destination.addr) == (HANDSET, NUMBER)
    assert (item.body, item.esm_class, item.message_id) == (b"hello there", 0, "")
    assert env.fanout.items == [item]


@pytest_twisted.ensureDeferred
async def test_an_mo_keeps_its_udh_but_not_its_message_type_bits_for_smpp(env):
    await env.account("acme")
    env.own(NUMBER, "acme")
    body = bytes([4, 0x04, 2, 0x0B, 0x84]) + b"port"  # port addressing, no concat
    await env.receive(mo(body=body, esm_class=0x40 | 0x04, data_coding=4))
    [item] = await env.smpp("acme")
    assert (item.body, item.esm_class, item.data_coding) == (body, 0x40, 4)


@pytest_twisted.ensureDeferred
async def test_keywords_route_a_shared_short_code_and_other_texts_go_to_its_default(env):
    await env.account("acme")
    await env.account("beta")
    env.own(SHORT_CODE, "acme")
    env.own(SHORT_CODE, "beta", keyword="VOTE")
    await env.receive(mo("vote for pedro", to=SHORT_CODE), mo("hello", to=SHORT_CODE))
    assert [i.body for i in await env.smpp("beta")] == [b"vote for pedro"]
    assert [i.body for i in await env.smpp("acme")] == [b"hello"]


@pytest_twisted.ensureDeferred
async def test_a_text_matching_no_keyword_of_a_number_without_default_is_refused(env):
    await env.account("beta")
    env.own(SHORT_CODE, "beta", keyword="JOIN")
    status = await refused(env.router.message_received(mo("hello", to=SHORT_CODE)))
    assert status == CommandStatus.ESME_RINVDSTADR
    assert await env.smpp("beta") == []


@pytest_twisted.ensureDeferred
async def test_an_mo_to_a_number_nobody_owns_is_refused_and_nothing_is_stored(env):
    await env.account("acme", url=URL, via=DeliverVia.BOTH)
    env.own(NUMBER, "acme")
    assert await refused(env.router.message_received(mo(to="4930000000"))) == \
        CommandStatus.ESME_RINVDSTADR
    assert await refused(env.router.message_received(parts(to="4930000000")[0])) == \
        CommandStatus.ESME_RINVDSTADR
    assert await env.smpp("acme") == [] and await env.webhooks("acme") == []
    assert await env.held() == [] and env.fanout.items == []


@pytest_twisted.ensureDeferred
async def test_a_malformed_udh_is_refused_with_invalid_esm_class(env):
    await env.account("acme")
    env.own(NUMBER, "acme")
    bad = mo(body=bytes([9, 0x00, 3]) + b"x", esm_class=0x40)
    assert await refused(env.router.message_received(bad)) == CommandStatus.ESME_RINVESMCLASS


@pytest_twisted.ensureDeferred
async def test_a_webhook_account_gets_a_single_mo_as_one_event(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    [mo_id] = await env.receive(mo("hi"))
    assert await env.smpp("acme") == []
    [event] = await env.webhooks("acme")
    assert event["id"] == mo_id
    assert (event["text"], event["from"], event["to"], event["parts"]) == (
        "hi", HANDSET, NUMBER, 1)
    assert event["complete"] is True and event["connector"] == "upstream-1"


# --- concatenated MO --------------------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_a_webhook_account_gets_one_event_with_the_whole_text_of_parts_in_any_order(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    ids = await env.receive(*parts(order=[3, 1, 2]))
    [event] = await env.webhooks("acme")
    assert event["id"] == ids[1]  # the whole message is known by its part 1's id
    assert (event["text"], event["parts"], event["complete"]) == (LONG, 3, True)
    assert "part" not in event
    assert await env.smpp("acme") == [] and await env.held() == []
    assert [i.channel for i in env.fanout.items] == [Channel.WEBHOOK]


@pytest_twisted.ensureDeferred
async def test_sar_parts_are_reassembled_for_the_webhook(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    await env.receive(*parts(split="sar", ref=0x1234, order=[2, 3, 1]))
    [event] = await env.webhooks("acme")
    assert (event["text"], event["parts"]) == (LONG, 3)


@pytest_twisted.ensureDeferred
async def test_sar_parts_reach_an_smpp_account_in_order_numbered_by_a_concat_udh(env):
    await env.account("acme")
    env.own(NUMBER, "acme")
    await env.receive(*parts(split="sar", ref=0x1234, order=[2, 3]))
    assert await env.smpp("acme") == []  # held until the message is whole
    assert [p.seq for p in (await env.held())[0]] == [2, 3]
    await env.receive(*parts(split="sar", ref=0x1234, order=[1]))
    items = await env.smpp("acme")
    numbering = [(u.concat.ref, u.concat.total, u.concat.seq)
                 for u in (parse_udh(i.body)[0] for i in items)]
    assert numbering == [(0x1234, 3, 1), (0x1234, 3, 2), (0x1234, 3, 3)]
    assert {i.esm_class for i in items} == {0x40}
    text = b"".join(parse_udh(i.body)[1] for i in items)
    assert text == encode_text(LONG, 0)
    assert await env.held() == []


@pytest_twisted.ensureDeferred
async def test_a_part_that_arrives_twice_is_held_once(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    first, second, third = parts()
    await env.receive(first, first, second)
    [group] = await env.held()
    assert [p.seq for p in group] == [1, 2]
    await env.receive(third, third)
    assert [e["text"] for e in await env.webhooks("acme")] == [LONG]


@pytest_twisted.ensureDeferred
async def test_a_both_account_gets_the_parts_over_smpp_and_the_whole_text_by_webhook(env):
    await env.account("acme", url=URL, via=DeliverVia.BOTH)
    env.own(NUMBER, "acme")
    received = parts(order=[2, 1, 3])
    await env.receive(*received[:2])
    assert await env.smpp("acme") == [] and await env.webhooks("acme") == []
    await env.receive(received[2])
    # over SMPP in seq order, each part as it was numbered
    assert [i.body for i in await env.smpp("acme")] == [m.body for m in parts()]
    [event] = await env.webhooks("acme")
    assert event["text"] == LONG


@pytest_twisted.ensureDeferred
async def test_ucs2_parts_with_a_16_bit_reference_reassemble(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    text = "Привет, мир! 😀 " * 12
    received = parts(text, data_coding=8, ref=0xBEEF)
    assert len(received) > 2 and parse_udh(received[0].body)[0].concat.ref16
    await env.receive(*reversed(received))
    [event] = await env.webhooks("acme")
    assert (event["text"], event["encoding"], event["parts"]) == (text, "ucs2", len(received))


# --- timeout and crash recovery ---------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_parts_whose_message_never_completes_are_released_one_event_each(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    first, _, third = parts()
    await env.receive(first, third)
    env.router.start()
    env.clock.advance(290)  # sweeps run, but the parts are not old enough
    await env.router.sweep()
    assert await env.webhooks("acme") == []
    env.clock.advance(20)  # the sweep of the looping call runs, on the memory store at once
    await env.router.idle()
    events = await env.webhooks("acme")
    assert [e["part"] for e in events] == [{"ref": 7, "total": 3, "seq": 1},
                                           {"ref": 7, "total": 3, "seq": 3}]
    assert all(e["complete"] is False for e in events)
    assert "".join(e["text"] for e in events) == LONG[:153] + LONG[306:]
    assert await env.held() == []


@pytest_twisted.ensureDeferred
async def test_a_group_a_crash_left_whole_is_completed_by_the_next_sweep(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    for seq, message in enumerate(parts(), 1):  # held, then the gateway died
        payload = parse_udh(message.body)[1]
        await env.store.add_inbound_part(InboundPart(
            id=f"{seq}00", source=message.source, destination=message.destination, ref=7,
            total=3, seq=seq, body=payload, received_at=NOW))
    await env.router.sweep()
    [event] = await env.webhooks("acme")
    assert (event["text"], event["id"]) == (LONG, "100")
    await env.router.sweep()  # done once
    assert len(await env.webhooks("acme")) == 1 and await env.held() == []


@pytest_twisted.ensureDeferred
async def test_a_completion_another_one_won_queues_nothing(env):
    await env.account("acme", url=URL)
    env.own(NUMBER, "acme")
    received = parts()
    for message in received:
        await env.router.message_received(message)
    await env.router.sweep()  # races the completion message_received started
    await env.router.idle()
    assert len(await env.webhooks("acme")) == 1
    assert len([i for i in env.fanout.items if i.channel is Channel.WEBHOOK]) == 1


# --- keywords and long messages ---------------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_every_part_of_a_long_mo_follows_the_keyword_of_its_first_part(env):
    await env.account("acme", url=URL, via=DeliverVia.BOTH)
    await env.account("beta", url=URL, via=DeliverVia.BOTH)
    env.own(SHORT_CODE, "acme")
    env.own(SHORT_CODE, "beta", keyword="VOTE")
    text = "VOTE " + LONG
    received = parts(text, to=SHORT_CODE, order=[2, 3, 1])
    await env.receive(*received[:2])
    assert await env.smpp("beta") == []  # unrouted until part 1 says where
    await env.receive(received[2])
    smpp = await env.smpp("beta")
    assert [parse_udh(i.body)[0].concat.seq for i in smpp] == [1, 2, 3]
    assert [e["text"] for e in await env.webhooks("beta")] == [text]
    [event] = await env.webhooks("beta")
    assert event["keyword"] == "VOTE" and event["id"].isdigit()
    assert await env.smpp("acme") == [] and await env.webhooks("acme") == []


@pytest_twisted.ensureDeferred
async def test_a_long_mo_without_its_keyword_goes_to_the_default_and_so_do_orphan_parts(env):
    await env.account("acme", url=URL)
    await env.account("beta", url=URL)
    env.own(SHORT_CODE, "acme")
    env.own(SHORT_CODE, "beta", keyword="VOTE")
    await env.receive(*parts(to=SHORT_CODE, ref=1))
    assert [e["text"] for e in await env.webhooks("acme")] == [LONG]
    await env.receive(*parts("VOTE " + LONG, to=SHORT_CODE, ref=2, order=[2, 3]))
    env.clock.advance(301)
    await env.router.sweep()  # part 1 never came: its keyword is unknown
    events = await env.webhooks("acme")
    assert [e.get("part", {}).get("seq") for e in events] == [None, 2, 3]
    assert await env.webhooks("beta") == []
