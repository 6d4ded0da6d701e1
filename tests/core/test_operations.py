"""MessageOperations (cancel, replace, submit_multi) against the real router and the memory store,
driven by a Clock: the races with the scheduled start and the edge cases of the times."""
from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from gateway.config import load_config
from gateway.core.operations import ReplaceRequest
from gateway.core.validation import SubmitRejected
from gateway.core.verifier import InlineVerifier
from gateway.model import Account, Address, MessageState, SubmitRequest
from gateway.service import wire
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.timefmt import format_smpp_time
from gateway.storage.memory import MemoryStore

NOW = 1_800_000_000.0
IN_10_MIN = "000000001000000R"


class Core:
    def __init__(self, tmp_path) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        config = load_config(None, {"data_dir": str(tmp_path)})
        self.router = wire(config, self.store, None, self.clock, InlineVerifier()).router
        self.ops = self.router.operations
        self.account = Account(system_id="acme", password_hash="x", balance=Decimal(10))

    async def settle(self) -> None:
        await self.router.drain()

    async def submit(self, **changes):
        fields = dict(source=Address(ton=1, npi=1, addr="4915100000001"),
                      destination=Address(ton=1, npi=1, addr="4917600000002"),
                      body=b"hello", registered_delivery=1)
        fields.update(changes)
        return await self.router.submit(self.account, SubmitRequest(**fields))


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path)
    pytest_twisted.blockon(c.store.add_account(c.account))
    yield c
    c.router.stop()
    pytest_twisted.blockon(c.store.close())


async def status_of(d) -> int:
    with pytest.raises(SubmitRejected) as caught:
        await d
    return caught.value.status


@pytest_twisted.ensureDeferred
async def test_a_cancelled_message_leaves_the_schedule_and_is_never_started(core):
    message = await core.submit(schedule_delivery_time=IN_10_MIN)
    assert message.id in core.router._scheduler
    [deleted] = await core.ops.cancel(core.account, message.id)
    assert deleted.state is MessageState.DELETED
    assert message.id not in core.router._scheduler
    core.clock.advance(600)
    await core.settle()
    assert (await core.store.get_message(message.id)).state is MessageState.DELETED


@pytest_twisted.ensureDeferred
async def test_a_message_started_at_its_time_can_no_longer_be_cancelled_or_replaced(core):
    message = await core.submit(schedule_delivery_time=IN_10_MIN)
    core.clock.advance(600)
    await core.settle()
    assert (await core.store.get_message(message.id)).state is MessageState.ENROUTE
    assert await status_of(core.ops.cancel(core.account, message.id)) == S.ESME_RCANCELFAIL
    assert await status_of(core.ops.replace(
        core.account, ReplaceRequest(message_id=message.id, body=b"x"))) == S.ESME_RREPLACEFAIL


@pytest_twisted.ensureDeferred
async def test_a_cancel_arriving_while_the_start_commits_loses_to_it(core):
    message = await core.submit(schedule_delivery_time=IN_10_MIN)
    core.clock.advance(600)  # the start is queued in the store, not yet committed
    assert await status_of(core.ops.cancel(core.account, message.id)) == S.ESME_RCANCELFAIL
    await core.settle()
    assert (await core.store.get_message(message.id)).state is MessageState.ENROUTE
    assert (await core.store.get_account("acme")).balance == Decimal("9.95")  # no refund


@pytest_twisted.ensureDeferred
async def test_replace_with_a_schedule_in_the_past_sends_at_once(core):
    message = await core.submit(schedule_delivery_time=IN_10_MIN)
    past = format_smpp_time(NOW - 3600)
    replaced = await core.ops.replace(core.account, ReplaceRequest(
        message_id=message.id, body=b"now please", schedule_delivery_time=past,
        registered_delivery=1))
    assert replaced.scheduled_at == NOW
    core.clock.advance(0)
    await core.settle()
    stored = await core.store.get_message(message.id)
    assert stored.state is MessageState.ENROUTE and stored.body == b"now please"


@pytest_twisted.ensureDeferred
async def test_replace_keeps_the_validity_when_none_is_given_and_checks_it_against_the_schedule(
    core,
):
    message = await core.submit(schedule_delivery_time=IN_10_MIN,
                                validity_period="000000003000000R")
    kept = await core.ops.replace(core.account, ReplaceRequest(message_id=message.id, body=b"b"))
    assert (kept.scheduled_at, kept.expires_at) == (message.scheduled_at, message.expires_at)
    assert await status_of(core.ops.replace(core.account, ReplaceRequest(
        message_id=message.id, body=b"c", schedule_delivery_time="000000010000000R",
    ))) == S.ESME_RINVEXPIRY  # an hour from now is past the validity (30 minutes)


@pytest_twisted.ensureDeferred
async def test_replace_of_a_udh_message_needs_a_udh_in_the_new_text(core):
    message = await core.submit(schedule_delivery_time=IN_10_MIN, esm_class=0x40,
                                body=b"\x05\x00\x03\x01\x02\x01part")
    assert await status_of(core.ops.replace(core.account, ReplaceRequest(
        message_id=message.id, body=b"plain"))) == S.ESME_RINVESMCLASS


@pytest_twisted.ensureDeferred
async def test_submit_multi_answers_each_request_in_order(core):
    good = SubmitRequest(source=Address(ton=1, npi=1, addr="4915100000001"),
                         destination=Address(ton=1, npi=1, addr="4917600000002"), body=b"hi")
    bad = SubmitRequest(source=good.source, destination=Address(ton=1, npi=1, addr="x"),
                        body=b"hi")
    outcomes = await core.ops.submit_multi(core.account, [good, bad, good])
    assert [getattr(o, "status", None) for o in outcomes] == [None, S.ESME_RINVDSTADR, None]
    assert outcomes[0].id != outcomes[2].id
    assert (await core.store.get_account("acme")).balance == Decimal("9.90")


# --- submit_sm with replace_if_present_flag ------------------------------------------------

async def replacing(core, **changes):
    fields = dict(source=Address(ton=1, npi=1, addr="4915100000001"),
                  destination=Address(ton=1, npi=1, addr="4917600000002"),
                  body=b"newer", registered_delivery=1, replace_if_present=1)
    fields.update(changes)
    return await core.router.submit_replacing(core.account, SubmitRequest(**fields))


@pytest_twisted.ensureDeferred
async def test_replace_if_present_supersedes_the_scheduled_message_and_refunds_it(core):
    old = await core.submit(schedule_delivery_time=IN_10_MIN)
    other = await core.submit(schedule_delivery_time=IN_10_MIN,
                              destination=Address(ton=1, npi=1, addr="4917600000003"))
    new = await replacing(core, schedule_delivery_time=IN_10_MIN)
    assert (await core.store.get_message(old.id)).state is MessageState.DELETED
    assert (await core.store.get_message(other.id)).state is MessageState.SCHEDULED
    assert old.id not in core.router._scheduler and new.id in core.router._scheduler
    account = await core.store.get_account("acme")
    assert account.balance == Decimal(10) - other.price - new.price
    assert await core.store.claim_outbox("acme", 1, 10) == []  # no receipt for the old


@pytest_twisted.ensureDeferred
async def test_replace_if_present_leaves_a_message_already_sent_alone(core):
    sent = await core.submit()
    await replacing(core)
    assert (await core.store.get_message(sent.id)).state is not MessageState.DELETED


@pytest_twisted.ensureDeferred
async def test_an_invalid_replacing_submit_deletes_nothing(core):
    old = await core.submit(schedule_delivery_time=IN_10_MIN)
    assert await status_of(replacing(core, registered_delivery=7)) == S.ESME_RINVREGDLVFLG
    assert (await core.store.get_message(old.id)).state is MessageState.SCHEDULED
