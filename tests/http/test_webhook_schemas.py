"""The webhook documents (core/events.py) are what the OpenAPI description says they are:
every receipt and inbound event validates against its schema there."""
from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

from gateway.core.events import mo_payload, receipt_payload
from gateway.http.schemas import openapi_document
from gateway.model import Address, Message, MessageState
from gateway.text.encoding import encode_text


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema (a null alternative)."""
    if isinstance(schema, dict):
        out = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable"):
            out["type"] = [schema["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_json_schema(v) for v in schema]
    return schema


def validator(name: str) -> Draft7Validator:
    schema = openapi_document()["components"]["schemas"][name]
    return Draft7Validator(_json_schema(schema))


MESSAGE = Message(id="42", account="acme", source=Address(addr="ACME"),
                  destination=Address(addr="4917612345678"), body=b"hi", parts=2,
                  submitted_at=1_800_000_000.0, client_ref="order-9")


@pytest.mark.parametrize("state", [s for s in MessageState if s.is_final])
def test_every_final_states_receipt_matches_its_schema(state):
    document = json.loads(receipt_payload(MESSAGE, state, 11, 1_800_000_009.5, "evt_1"))
    validator("ReceiptEvent").validate(document)


@pytest.mark.parametrize(("body", "data_coding", "part"), [
    (encode_text("YES please", 0), 0, None),
    ("Привет".encode("utf-16-be"), 8, None),
    (bytes(range(10)), 4, None),
    (b"part two", 0, (7, 3, 2)),
])
def test_inbound_events_match_their_schema(body, data_coding, part):
    document = json.loads(mo_payload(
        event_id="evt_2", mo_id="43", account="acme", source="4917612345678",
        destination="4915550001", body=body, data_coding=data_coding,
        received_at=1_800_000_000.0, connector="simulator", part=part))
    validator("InboundEvent").validate(document)
    assert (document["data"]["text"] is None) == (data_coding == 4)


def test_a_receipt_missing_a_field_does_not_match():
    document = json.loads(receipt_payload(MESSAGE, MessageState.DELIVERED, 0, 1.0, "evt_1"))
    del document["data"]["stat"]
    assert list(validator("ReceiptEvent").iter_errors(document))


def test_the_send_operation_documents_its_receipt_callback():
    send = openapi_document()["paths"]["/api/v1/messages"]["post"]
    callback = send["callbacks"]["receipt"]["{$request.body#/callback_url}"]["post"]
    assert callback["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReceiptEvent"}
    assert {p["name"] for p in callback["parameters"]} == {
        "X-Smsgw-Event-Id", "X-Smsgw-Timestamp", "X-Smsgw-Signature"}
