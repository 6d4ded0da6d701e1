"""A SubmitBatch becomes exactly the messages its requests would become one by one: the
router checks only the destination of the recipients after the first (router.py
_prepare_batch), so each other field must come out as a request of its own gives it."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from test_operations import Core

from gateway.core.pricing import PriceEntry
from gateway.core.router import BatchRejected
from gateway.model import Address, SubmitBatch, SubmitRequest
from gateway.smpp.constants import CommandStatus

FIRST = SubmitRequest(
    source=Address(ton=5, npi=0, addr="Acme"),
    destination=Address(ton=1, npi=1, addr="4917600000001"),
    body=("long text " * 30).encode(), registered_delivery=1, priority=2, from_payload=True,
    schedule_delivery_time="000001000000000R", validity_period="000002000000000R",
    callback_url="https://example.com/dlr", client_ref="ref-1", transport="http")
OTHERS = (Address(ton=1, npi=1, addr="4930000000001"),
          Address(ton=1, npi=1, addr="+4917600000003"))


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path)
    c.router._pricing.load([PriceEntry(account="*", prefix="4930", price=Decimal("0.5"))])
    yield c
    c.router.stop()


def alone(core: Core, destination: Address):
    return core.router.quote(core.account, SubmitBatch(
        first=dataclasses.replace(FIRST, destination=destination)))[0]


def test_each_message_is_what_its_request_alone_becomes(core):
    batched = core.router.quote(core.account, SubmitBatch(first=FIRST, others=OTHERS))
    expected = [alone(core, d) for d in (FIRST.destination, *OTHERS)]
    assert batched == expected
    assert [m.price for m in batched] != [batched[0].price] * 3  # priced per destination
    assert batched[0].parts > 1 and batched[0].scheduled_at is not None


@pytest.mark.parametrize("bad", ["", "49176abc", "1" * 21])
@pytest.mark.parametrize("index", [1, 2])
def test_a_bad_destination_is_refused_at_its_index_as_alone(core, bad, index):
    others = list(OTHERS)
    others[index - 1] = Address(ton=1, npi=1, addr=bad)
    with pytest.raises(BatchRejected) as batched:
        core.router.quote(core.account, SubmitBatch(first=FIRST, others=tuple(others)))
    with pytest.raises(BatchRejected) as single:
        alone(core, others[index - 1])
    assert batched.value.index == index
    assert batched.value.status == single.value.status == CommandStatus.ESME_RINVDSTADR


def test_a_bad_shared_field_is_refused_at_the_first(core):
    first = dataclasses.replace(FIRST, priority=7)
    with pytest.raises(BatchRejected) as refused:
        core.router.quote(core.account, SubmitBatch(first=first, others=OTHERS))
    assert (refused.value.index, refused.value.status) == (0, CommandStatus.ESME_RINVPRTFLG)
