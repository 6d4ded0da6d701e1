"""The public API's JSON shapes: JSON Schemas of requests and responses, the OpenAPI 3
document built from them (served at /api/v1/openapi.json), and request validation.

The same schema objects validate requests here and describe them to clients, so the
description cannot drift from what the server accepts; tests/integration/test_http_openapi_fuzz.py
fuzzes the running API from the document to keep the responses true to it too.

Validation runs the schema twice over, for speed: jsonschema-rs (compiled, about 100
times faster) answers "valid" for the common request, and only a body it does not pass
goes to `jsonschema` (pure Python), whose verdict and error message are the answer. So
what is accepted and every message stay those of `jsonschema`, provided jsonschema-rs is
never the more lenient of the two: its `$` matches only at the very end (Python's also
before a final newline), it is told not to check formats (jsonschema does not either),
its `\\s` is ECMAScript's (which leaves out \\x1c-\\x1f and \\x85, both white space to
Python) so its copy of callback_url's pattern names them too, and any value it cannot take
(a huge integer, a lone surrogate) goes to the slow path.
tests/http/test_schemas.py checks that with random bodies.
"""
from __future__ import annotations

from typing import Any

import jsonschema_rs
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from gateway.http.web import unencodable_field
from gateway.model import MessageState

__all__ = ["MAX_RECIPIENTS", "InvalidRequest", "openapi_document", "validate_send"]

MAX_RECIPIENTS = 1000
MAX_TEXT = 40_000  # 255 GSM parts of 153 characters is 39,015
MAX_HEX = 2 * 255 * 140
MAX_VALIDITY = 30 * 86400

PHONE = {"type": "string", "pattern": r"^\+?[0-9]{1,20}$",
         "description": "international number, digits with an optional leading +"}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
         "description": "exact decimal amount"}
TIME = {"type": "string", "format": "date-time", "description": "UTC, RFC 3339"}

SEND_REQUEST: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to"],
    "properties": {
        "to": {"oneOf": [
            PHONE,
            {"type": "array", "items": PHONE, "minItems": 1, "maxItems": MAX_RECIPIENTS},
        ]},
        "from": {"type": "string", "maxLength": 20,
                 "description": "sender: a number, or up to 11 letters and digits"},
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
        "hex": {"type": "string", "pattern": "^([0-9a-fA-F]{2})+$", "maxLength": MAX_HEX,
                "description": "binary body (8-bit data), instead of text"},
        "encoding": {"type": "string", "enum": ["auto", "gsm7", "ucs2"], "default": "auto"},
        "dlr": {"type": "boolean", "default": False,
                "description": "ask for a delivery receipt"},
        "callback_url": {"type": "string", "maxLength": 2048, "pattern": "^https?://[^\\s]+$",
                         "description": "where this message's receipt is POSTed"},
        "validity": {"type": "integer", "minimum": 1, "maximum": MAX_VALIDITY,
                     "description": "seconds the message may wait for delivery"},
        "scheduled_at": TIME,
        "client_ref": {"type": "string", "maxLength": 64},
        "flash": {"type": "boolean", "default": False},
        "dry_run": {"type": "boolean", "default": False,
                    "description": "validate, route and price without sending or charging"},
    },
}

SENT_MESSAGE = {
    "type": "object",
    "required": ["id", "to", "parts", "encoding", "price", "state"],
    "properties": {
        "id": {"type": "string", "nullable": True,
               "description": "null in a dry run"},
        "to": {"type": "string"},
        "parts": {"type": "integer", "minimum": 1},
        "encoding": {"type": "string", "enum": ["gsm7", "ucs2", "binary"]},
        "price": MONEY,
        "state": {"type": "string"},
    },
}

SEND_RESPONSE = {
    "type": "object",
    "required": ["messages", "total_price", "balance", "dry_run"],
    "properties": {
        "messages": {"type": "array", "items": SENT_MESSAGE},
        "total_price": MONEY,
        "balance": MONEY,
        "dry_run": {"type": "boolean"},
    },
}

MESSAGE_STATUS = {
    "type": "object",
    "required": ["id", "from", "to", "state", "error_code", "parts", "price", "encoding",
                 "timeline"],
    "properties": {
        "id": {"type": "string"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "state": {"type": "string", "enum": [
            "SCHEDULED", "ENROUTE", "DELIVERED", "EXPIRED", "DELETED", "UNDELIVERABLE",
            "ACCEPTED", "UNKNOWN", "REJECTED"]},
        "error_code": {"type": "integer"},
        "parts": {"type": "integer"},
        "price": MONEY,
        "encoding": {"type": "string"},
        "client_ref": {"type": "string"},
        "callback_url": {"type": "string"},
        "timeline": {
            "type": "object",
            "required": ["accepted", "sent", "final"],
            "properties": {
                "accepted": TIME,
                "scheduled": {**TIME, "nullable": True},
                "sent": {**TIME, "nullable": True},
                "final": {**TIME, "nullable": True},
                "expires": {**TIME, "nullable": True},
            },
        },
    },
}

BALANCE = {
    "type": "object",
    "required": ["account", "balance"],
    "properties": {"account": {"type": "string"}, "balance": MONEY},
}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string",
                     "description": "e.g. invalid_field, unauthorized, ESME_RINVBALANCE"},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "command_status": {"type": "string",
                               "description": "the SMPP status, hex (e.g. 0x40B)"},
        },
    }},
}


class InvalidRequest(Exception):
    """A request body that does not match its schema; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_SEND_VALIDATOR = Draft7Validator(SEND_REQUEST)

# Python's `\s` (what jsonschema's `re` uses) = ECMAScript's `\s` (jsonschema-rs) + \x1c-\x1f
# + \x85 - \ufeff; the fast copy refuses the union, so it is never the more lenient one
_FAST_CALLBACK_URL = {**SEND_REQUEST["properties"]["callback_url"],
                      "pattern": "^https?://[^\\s\\x1c-\\x1f\\x85]+$"}
_SEND_FAST = jsonschema_rs.Draft7Validator(
    {**SEND_REQUEST, "properties": {**SEND_REQUEST["properties"],
                                    "callback_url": _FAST_CALLBACK_URL}},
    validate_formats=False)


def passes_fast(body: Any) -> bool:
    """Whether jsonschema-rs accepts `body` (False also when it cannot take a value)."""
    try:
        return _SEND_FAST.is_valid(body)
    except Exception:  # noqa: BLE001 (a value it cannot convert: jsonschema decides)
        return False


def validate_send(body: Any) -> dict[str, Any]:
    """Return `body` if it is a valid send request; raise InvalidRequest naming the field."""
    if not passes_fast(body):
        error = next(iter(sorted(_SEND_VALIDATOR.iter_errors(body), key=_depth)), None)
        if error is not None:
            raise InvalidRequest(_field(error, body), _message(error))
    bad = unencodable_field(body)
    if bad is not None:
        raise InvalidRequest(bad, f"{bad} is not valid Unicode (a lone surrogate)")
    if ("text" in body) == ("hex" in body):
        raise InvalidRequest("text", "give exactly one of text or hex")
    if "hex" in body and body.get("encoding", "auto") != "auto":
        raise InvalidRequest("encoding", "a hex body is binary: leave encoding out")
    return body


def _depth(error: ValidationError) -> tuple[int, str]:
    return len(error.absolute_path), str(list(error.absolute_path))


def _field(error: ValidationError, body: Any) -> str:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(body, dict):
        missing = [name for name in error.validator_value if name not in body]
        return missing[0] if missing else "body"
    if error.validator == "additionalProperties" and isinstance(body, dict):
        extra = sorted(set(body) - set(SEND_REQUEST["properties"]))
        return str(extra[0]) if extra else "body"
    if not path:
        return "body"
    name = str(path[0])
    for part in path[1:]:
        name += f"[{part}]"
    return name


def _message(error: ValidationError) -> str:
    if error.validator == "oneOf" and list(error.absolute_path)[:1] == ["to"]:
        return "to must be a phone number or a list of 1-1000 phone numbers"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _response(description: str, schema: dict | None = None) -> dict:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


def _errors(*codes: int) -> dict:
    text = {400: "invalid request (the error names the field)", 401: "bad credentials",
            402: "balance too low (ESME_RINVBALANCE, 0x40B)", 403: "address not allowed",
            404: "not found", 405: "method not allowed", 413: "body too large",
            415: "body is not JSON", 422: "Idempotency-Key reused for another request",
            429: "too many login attempts, or sends above the account's throughput: retry "
                 "after the Retry-After seconds",
            503: "the store cannot take messages now (disk full, database down), or too many "
                 "password checks or sends wait: nothing was accepted or charged; retry after "
                 "Retry-After seconds"}
    return {str(code): _response(text[code], {"$ref": "#/components/schemas/Error"})
            for code in codes}


_STRING = {"type": "string"}
_TIME_OUT = {"type": "string", "format": "date-time"}
_INT = {"type": "integer"}


def _event(kind: str, description: str, data: dict[str, Any],
           required: list[str]) -> dict[str, Any]:
    return {
        "type": "object", "description": description,
        "required": ["event_id", "type", "created_at", "account", "data"],
        "properties": {
            "event_id": {"type": "string", "description": "the same on every retry: "
                                                          "de-duplicate by it"},
            "type": {"type": "string", "enum": [kind]},
            "created_at": _TIME_OUT, "account": _STRING,
            "data": {"type": "object", "required": required, "properties": data},
        },
    }


_FINAL_STATES = [s.name for s in MessageState if s.is_final]
RECEIPT_EVENT = _event("message.receipt", "a delivery receipt (webhook)", {
    "message_id": _STRING, "client_ref": _STRING, "from": _STRING, "to": _STRING,
    "state": {"type": "string", "enum": _FINAL_STATES},
    "stat": {"type": "string", "enum": [s.receipt_stat for s in MessageState if s.is_final]},
    "message_state": _INT, "error_code": _INT, "parts": _INT, "delivered_parts": _INT,
    "submitted_at": _TIME_OUT, "done_at": _TIME_OUT,
}, ["message_id", "state", "stat", "message_state", "error_code", "parts", "done_at"])
MO_EVENT = _event("message.inbound", "an inbound message to one of the account's numbers "
                                     "(webhook)", {
    "id": _STRING, "from": _STRING, "to": _STRING,
    "text": {"type": "string", "nullable": True, "description": "null for binary data"},
    "hex": _STRING, "encoding": {"type": "string", "enum": ["gsm7", "ucs2", "binary"]},
    "data_coding": _INT, "keyword": _STRING, "parts": _INT, "complete": {"type": "boolean"},
    "received_at": _TIME_OUT, "connector": _STRING,
    "part": {"type": "object", "required": ["ref", "total", "seq"],
             "description": "only on a part released after the reassembly timeout",
             "properties": {"ref": _INT, "total": _INT, "seq": _INT}},
}, ["id", "from", "to", "text", "hex", "encoding", "parts", "complete", "received_at"])
_WEBHOOK_HEADERS = [
    {"name": name, "in": "header", "required": required, "schema": _STRING,
     "description": description}
    for name, required, description in (
        ("X-Smsgw-Event-Id", True, "the event's id"),
        ("X-Smsgw-Timestamp", True, "unix seconds of this attempt"),
        ("X-Smsgw-Signature", False, 'v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>'),
    )]


def _webhook(schema: dict[str, Any]) -> dict[str, Any]:
    return {"post": {
        "parameters": _WEBHOOK_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"2XX": {"description": "received; anything else is retried"}},
    }}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 description of /api/v1."""
    refs = {name: {"$ref": f"#/components/schemas/{name}"}
            for name in ("SendRequest", "SendResponse", "MessageStatus", "Balance")}
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsgw HTTP API", "version": "1",
                 "description": "Send SMS, read their status and the balance."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"bearer": []}],
        "paths": {
            "/api/v1/messages": {"post": {
                "summary": "Send one message to one or many recipients",
                "operationId": "sendMessages",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                     "description": "a retry with the same key gets the first result"},
                    {"name": "dry_run", "in": "query", "required": False,
                     "schema": {"type": "boolean"}},
                ],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": refs["SendRequest"]}}},
                "callbacks": {"receipt": {
                    "{$request.body#/callback_url}": _webhook(
                        {"$ref": "#/components/schemas/ReceiptEvent"})}},
                "responses": {
                    "202": _response("accepted: stored and on its way", refs["SendResponse"]),
                    "200": _response("dry run: what it would cost", refs["SendResponse"]),
                    **_errors(400, 401, 402, 403, 413, 415, 422, 429, 503),
                },
            }},
            "/api/v1/messages/{id}": {"get": {
                "summary": "A message's state and timeline",
                "operationId": "getMessage",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": _response("the message", refs["MessageStatus"]),
                    **_errors(401, 403, 404, 429, 503),
                },
            }},
            "/api/v1/balance": {"get": {
                "summary": "The account's balance",
                "operationId": "getBalance",
                "responses": {"200": _response("the balance", refs["Balance"]),
                              **_errors(401, 403, 429, 503)},
            }},
        },
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic",
                          "description": "the account's SMPP system_id and password"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an API key issued for the account"},
            },
            "schemas": {
                "SendRequest": SEND_REQUEST, "SendResponse": SEND_RESPONSE,
                "MessageStatus": MESSAGE_STATUS, "Balance": BALANCE, "Error": ERROR,
                # the webhooks' documents: POSTed to the message's callback_url (above)
                # or the account's webhook URL, receipts and inbound messages alike
                "ReceiptEvent": RECEIPT_EVENT, "InboundEvent": MO_EVENT,
            },
        },
    }
