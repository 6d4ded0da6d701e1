"""The Message a submit stores: each of its fields from the request, the account, the
price table, the routes, the clock and the node (core/router.Router._prepare)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from types import SimpleNamespace

import pytest_twisted
from test_operations import NOW, core  # noqa: F401 -- the fixture, shared

from gateway.core.pricing import PriceEntry
from gateway.core.routing import Route, RouteTable, RouteTarget
from gateway.model import Address, Message, MessageState, SubmitRequest

IN_10_MIN = "000000001000000R"
IN_1_HOUR = "000000010000000R"


@pytest_twisted.ensureDeferred
async def test_every_field_of_a_stored_message_comes_from_where_it_should(core):  # noqa: F811
    core.router._owner = SimpleNamespace(owner=7)  # a cluster node's owner number
    core.router._pricing.load([PriceEntry(account="*", prefix="4930", price=Decimal("0.3"))])
    core.router._routing.table = RouteTable(
        [Route(prefix="4930", targets=(RouteTarget(connector="berlin"),), id=1)], "simulator")
    body = "Grüße aus Berlin ".encode("utf-16-be") * 5  # 85 UCS2 characters: 2 parts
    request = SubmitRequest(
        source=Address(ton=5, npi=0, addr="SHOP"),
        destination=Address(ton=1, npi=1, addr="4930123456"),
        body=body, data_coding=8, esm_class=0x03, protocol_id=0x41, priority=2,
        registered_delivery=1, schedule_delivery_time=IN_10_MIN, validity_period=IN_1_HOUR,
        from_payload=True, callback_url="https://shop.example/dlr", client_ref="order-7",
        transport="http")
    message = await core.router.submit(core.account, request)
    expected = {
        "account": "acme", "source": Address(ton=5, npi=0, addr="SHOP"),
        "destination": Address(ton=1, npi=1, addr="4930123456"), "body": body,
        "data_coding": 8, "esm_class": 0x03, "protocol_id": 0x41, "priority": 2,
        "registered_delivery": 1, "parts": 2, "price": Decimal("0.6"),
        "state": MessageState.SCHEDULED, "error_code": 0, "submitted_at": NOW,
        "done_at": None, "scheduled_at": NOW + 600, "expires_at": NOW + 3600,
        "connector": "berlin", "callback_url": "https://shop.example/dlr",
        "client_ref": "order-7", "owner": 7, "transport": "http",
    }
    assert set(expected) | {"id"} == {f.name for f in dataclasses.fields(Message)}
    assert {name: getattr(message, name) for name in expected} == expected
    assert message.id and message == await core.store.get_message(message.id)


@pytest_twisted.ensureDeferred
async def test_a_message_for_now_is_enroute_and_unscheduled(core):  # noqa: F811
    message = await core.submit()
    assert (message.state, message.scheduled_at, message.expires_at) == (
        MessageState.ENROUTE, None, None)
    assert (message.parts, message.price, message.connector) == (1, Decimal("0.05"), "simulator")
