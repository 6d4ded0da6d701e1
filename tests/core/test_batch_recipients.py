"""A batch's messages: each recipient's own id, destination, price and connector; everything
else the first recipient's (core/router.Router._prepare_batch)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest_twisted
from test_operations import core  # noqa: F401 -- the fixture, shared

from gateway.core.pricing import PriceEntry
from gateway.core.routing import Route, RouteTable, RouteTarget
from gateway.model import Address, SubmitBatch, SubmitRequest

OWN = {"id", "destination", "price", "connector"}


@pytest_twisted.ensureDeferred
async def test_each_recipient_gets_its_own_id_destination_price_and_route(core):  # noqa: F811
    recipients = [Address(ton=1, npi=1, addr=addr)
                  for addr in ("4917600000001", "4930000000001", "4930000000002", "4989000001")]
    core.router._pricing.load([PriceEntry(account="*", prefix="4930", price=Decimal("0.5"))])
    core.router._routing.table = RouteTable(
        [Route(prefix="4930", targets=(RouteTarget(connector="berlin"),), id=1)], "simulator")
    batch = SubmitBatch(
        first=SubmitRequest(source=Address(ton=5, npi=0, addr="SHOP"), destination=recipients[0],
                            body=b"sale", registered_delivery=1, client_ref="r1",
                            validity_period="000001000000000R", transport="http"),
        others=tuple(recipients[1:]))
    messages = (await core.router.submit_batch(core.account, batch)).messages
    assert [m.destination for m in messages] == recipients
    assert [m.price for m in messages] == [Decimal("0.05"), Decimal("0.5"), Decimal("0.5"),
                                           Decimal("0.05")]
    assert [m.connector for m in messages] == ["simulator", "berlin", "berlin", "simulator"]
    assert len({m.id for m in messages}) == len(messages)
    first = messages[0]
    shared = {f.name for f in dataclasses.fields(first)} - OWN
    for message in messages[1:]:
        assert {name: getattr(message, name) for name in shared} == {
            name: getattr(first, name) for name in shared}
        assert message == await core.store.get_message(message.id)
