"""The webhook documents of core/events.py, every field of them: a receipt's and an
inbound message's, their times as RFC 3339 text."""
from __future__ import annotations

import json

from gateway.core.events import mo_payload, receipt_payload
from gateway.model import Address, Message, MessageState

MESSAGE = Message(id="42", account="acme", source=Address(addr="ACME"),
                  destination=Address(addr="4917612345678"), body=b"hi", parts=2,
                  submitted_at=1_800_000_000.25, client_ref="order-9")


def test_a_receipt_is_created_when_its_message_was_done():
    document = json.loads(receipt_payload(MESSAGE, MessageState.DELIVERED, 0,
                                          1_800_000_009.5, "evt_1"))
    assert document == {
        "event_id": "evt_1", "type": "message.receipt", "account": "acme",
        "created_at": "2027-01-15T08:00:09.500Z",
        "data": {"message_id": "42", "client_ref": "order-9", "from": "ACME",
                 "to": "4917612345678", "state": "DELIVERED", "stat": "DELIVRD",
                 "message_state": 2, "error_code": 0, "parts": 2, "delivered_parts": 2,
                 "submitted_at": "2027-01-15T08:00:00.250Z",
                 "done_at": "2027-01-15T08:00:09.500Z"}}


def test_an_undelivered_receipt_counts_no_parts_delivered():
    data = json.loads(receipt_payload(MESSAGE, MessageState.UNDELIVERABLE, 11,
                                      1_800_000_001.0, "evt_2"))["data"]
    assert (data["state"], data["stat"], data["message_state"], data["error_code"],
            data["delivered_parts"]) == ("UNDELIVERABLE", "UNDELIV", 5, 11, 0)


def test_an_inbound_message_is_created_when_it_was_received():
    document = json.loads(mo_payload(
        event_id="evt_3", mo_id="43", account="acme", source="4917612345678",
        destination="4915550001", body=b"YES", data_coding=0,
        received_at=1_800_000_003.125, connector="simulator"))
    assert document["created_at"] == document["data"]["received_at"] == (
        "2027-01-15T08:00:03.125Z")
    assert (document["type"], document["event_id"], document["account"]) == (
        "message.inbound", "evt_3", "acme")
