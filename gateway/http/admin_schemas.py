"""The admin API's JSON shapes: the request schemas http/admin.py validates with, and the
OpenAPI 3 description of every /admin/v1 route (served at /admin/v1/openapi.json, behind
the admin token) built from the same objects where they exist.

tests/integration/test_admin_openapi_fuzz.py runs schemathesis over this document against
a real gateway: every answer must be a non-5xx with a status, content type and body the
document lists, so the document is kept true by the test, not by care alone.
"""
from __future__ import annotations

from typing import Any

from gateway.http.params import MAX_ID
from gateway.model import DeliverVia

__all__ = ["ADMIN_REQUESTS", "admin_openapi_document"]

MAX_LIST = 1000

SYSTEM_ID = {"type": "string", "minLength": 1, "maxLength": 15, "pattern": "^[\\x21-\\x7e]+$"}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[\\x20-\\x7e]+$"}
AMOUNT = {"type": ["string", "number"]}
SETTINGS = {
    "password": PASSWORD,
    "max_binds": {"type": "integer", "minimum": 1, "maximum": 1000},
    "throughput": {"type": "number", "minimum": 0, "maximum": 1_000_000},
    "window": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "allow_ips": {"type": "array", "items": {"type": "string", "maxLength": 64},
                  "maxItems": 1000},
    "enabled": {"type": "boolean"},
    "webhook_url": {"type": "string", "maxLength": 2048, "pattern": "^(https?://[^\\s]+)?$"},
    "webhook_secret": {"type": "string", "minLength": 16, "maxLength": 128,
                       "pattern": "^[\\x21-\\x7e]+$"},
    "deliver_via": {"enum": [via.value for via in DeliverVia]},
}
# Draft 7 JSON Schemas (jsonschema validates with them; the document below converts the
# one construct OpenAPI 3.0 spells differently: a list of types)
ADMIN_REQUESTS: dict[str, dict[str, Any]] = {
    "NewAccount": {
        "type": "object", "additionalProperties": False, "required": ["system_id", "password"],
        "properties": {"system_id": SYSTEM_ID, "balance": AMOUNT, **SETTINGS}},
    "AccountChange": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": SETTINGS},
    "Topup": {
        "type": "object", "additionalProperties": False, "required": ["amount"],
        "properties": {"amount": AMOUNT}},
    "NewApiKey": {
        "type": "object", "additionalProperties": False,
        "properties": {"label": {"type": "string", "maxLength": 100}}},
    "Price": {
        "type": "object", "additionalProperties": False, "required": ["account", "price"],
        "properties": {"account": {"type": "string", "minLength": 1, "maxLength": 15},
                       "prefix": {"type": "string", "maxLength": 21}, "price": AMOUNT}},
}

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_NUMBER = {"type": "number"}
_MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
_TIME = {"type": "string", "nullable": True}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


ACCOUNT = _object(
    ["system_id", "balance", "max_binds", "throughput", "window", "allow_ips", "enabled",
     "webhook_url", "webhook_secret", "deliver_via"],
    system_id=_STR, balance=_STR, max_binds=_INT, throughput=_NUMBER, window=_INT,
    allow_ips={"type": "array", "items": _STR}, enabled=_BOOL, webhook_url=_STR,
    webhook_secret=_STR, deliver_via={"type": "string",
                                      "enum": [via.value for via in DeliverVia]})
API_KEY = _object(["id", "account", "prefix", "label", "created_at", "active"],
                  id=_INT, account=_STR, prefix=_STR, label=_STR, created_at=_NUMBER,
                  revoked_at={"type": "number", "nullable": True}, active=_BOOL,
                  key={"type": "string", "description": "only when issued: keep it"})
PRICE = _object(["account", "prefix", "price", "applies_to"],
                account=_STR, prefix=_STR, price=_MONEY, applies_to=_STR)
NUMBER = _object(["number", "keyword", "account"], number=_STR, keyword=_STR, account=_STR)
WEBHOOK_ITEM = _object(
    ["id", "event_id", "account", "kind", "url", "attempts", "state"],
    id=_INT, event_id=_STR, account=_STR, kind=_STR,
    message_id={"type": "string", "nullable": True}, url=_STR, created_at=_TIME,
    attempts=_INT, next_attempt_at=_TIME, last_error=_STR, dead_at=_TIME,
    state={"type": "string", "enum": ["pending", "dead"]},
    payload={"description": "the JSON document POSTed (GET of one item only)"})
CONNECTOR = _object(["name", "host", "port", "bind", "binds", "window"],
                    name=_STR, host=_STR, port=_INT, bind=_STR, binds=_INT, window=_INT,
                    throughput=_NUMBER, enabled=_BOOL,
                    health={"type": "object", "nullable": True})
ROUTE = _object(["id", "prefix", "account", "source_prefix", "connectors"],
                id=_INT, prefix=_STR, account=_STR, source_prefix=_STR,
                connectors={"type": "array", "items": _object(
                    ["name", "weight"], name=_STR, weight=_INT)})
ERROR = _object(["error"], error=_object(
    ["code", "message"], code=_STR, message=_STR, field=_STR, command_status=_STR))

_ERROR_TEXT = {
    400: "invalid request: the error names the field", 401: "no or a wrong admin token",
    404: "no such account, key, item or resource", 405: "method not allowed",
    409: "exists already, or in use", 413: "body too large", 415: "body is not JSON",
    422: "refused by the simulated network (an SMPP status)",
}


def _answers(ok: int, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    answers: dict[str, Any] = {str(ok): {"description": "done", "content": {
        "application/json": {"schema": schema}}}}
    # 404 and 405 on every path: an id holding '/' or '..' lands on another path
    for code in sorted({401, 404, 405, *errors}):
        answers[str(code)] = {"description": _ERROR_TEXT[code], "content": {
            "application/json": {"schema": _ref("Error")}}}
    return answers


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


_BODY_ERRORS = (400, 413, 415)


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or _STR}


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or _STR}


def _list(key: str, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _object([key], **{key: {"type": "array", "items": item}}, **extra)


def _own_paths() -> dict[str, Any]:
    system_id = _path("system_id")
    return {
        "/admin/v1/accounts": {
            "get": {"summary": "Every account", "responses": _answers(
                200, _list("accounts", _ref("Account")))},
            "post": {"summary": "Create an account", "requestBody": _body(_ref("NewAccount")),
                     "responses": _answers(201, _ref("Account"), *_BODY_ERRORS, 409)},
        },
        "/admin/v1/accounts/{system_id}": {
            "parameters": [system_id],
            "get": {"summary": "One account", "responses": _answers(
                200, _ref("Account"), 404)},
            "patch": {"summary": "Change an account's settings",
                      "requestBody": _body(_ref("AccountChange")),
                      "responses": _answers(200, _ref("Account"), *_BODY_ERRORS, 404)},
        },
        "/admin/v1/accounts/{system_id}/topup": {
            "parameters": [system_id],
            "post": {"summary": "Add to (or, negative, take from) the balance",
                     "requestBody": _body(_ref("Topup")),
                     "responses": _answers(200, _object(["account", "balance"],
                                                        account=_STR, balance=_STR),
                                           *_BODY_ERRORS, 404)},
        },
        "/admin/v1/accounts/{system_id}/api-keys": {
            "parameters": [system_id],
            "get": {"summary": "The account's API keys", "responses": _answers(
                200, _list("api_keys", _ref("ApiKey")), 404)},
            "post": {"summary": "Issue an API key (shown once)",
                     "requestBody": _body(_ref("NewApiKey"), required=False),
                     "responses": _answers(201, _ref("ApiKey"), *_BODY_ERRORS, 404)},
        },
        "/admin/v1/accounts/{system_id}/api-keys/{key_id}": {
            "parameters": [system_id, _path("key_id", _ID)],
            "delete": {"summary": "Revoke an API key", "responses": _answers(
                200, _object(["revoked"], revoked=_INT), 400, 404)},
        },
        "/admin/v1/prices": {
            "get": {"summary": "Price table entries", "parameters": [_query("account")],
                    "responses": _answers(200, _list("prices", _ref("Price")))},
            "put": {"summary": "Set a price per part for an account ('*': all) and prefix",
                    "requestBody": _body(_ref("PriceRequest")),
                    "responses": _answers(200, _ref("Price"), *_BODY_ERRORS, 404)},
            "delete": {"summary": "Remove a price entry",
                       "parameters": [_query("account"), _query("prefix")],
                       "responses": _answers(200, _object(["deleted"], deleted=_object(
                           ["account", "prefix"], account=_STR, prefix=_STR)), 400, 404)},
        },
        "/admin/v1/binds": {
            "get": {"summary": "Live SMPP binds", "responses": _answers(200, _list(
                "binds", _object(["account", "kind", "in_flight", "peer"], account=_STR,
                                 kind=_STR, in_flight=_INT, peer=_STR)))},
        },
    }


def _section_paths() -> dict[str, dict[str, Any]]:
    """The paths of each section another part of the gateway mounts, by section name."""
    inject = _object(["from", "to"], **{
        "from": {"type": "string", "maxLength": 64}, "to": {"type": "string", "maxLength": 64},
        "text": {"type": "string", "maxLength": 10_000},
        "hex": {"type": "string", "maxLength": 20_000},
        "data_coding": {"type": "integer", "minimum": 0, "maximum": 255},
        "split": {"type": "string", "enum": ["udh", "sar", "none"]},
        "order": {"type": "string", "enum": ["given", "reverse"]},
        "drop": {"type": "array", "maxItems": 255,
                 "items": {"type": "integer", "minimum": 1, "maximum": 255}},
        "ref": {"type": "integer", "minimum": 0, "maximum": 65535}})
    return {
        "numbers": {
            "/admin/v1/numbers/": {
                "get": {"summary": "Owned numbers", "parameters": [_query("account")],
                        "responses": _answers(200, _list("numbers", _ref("Number")))},
                "post": {"summary": "Give a number (and keyword) to an account",
                         "requestBody": _body(_object(
                             ["number", "account"], number={"type": "string", "maxLength": 64},
                             account={"type": "string", "maxLength": 64},
                             keyword={"type": "string", "maxLength": 64})),
                         "responses": _answers(201, _ref("Number"), *_BODY_ERRORS, 404,
                                               409)},
            },
            "/admin/v1/numbers/{number}": {
                "parameters": [_path("number")],
                "delete": {"summary": "Take a number back", "parameters": [_query("keyword")],
                           "responses": _answers(200, _object(["removed"], removed={
                               "type": "object"}), 400, 404)},
            },
        },
        "webhooks": {
            "/admin/v1/webhooks/": {
                "get": {"summary": "The webhook outbox",
                        "parameters": [
                            _query("state", {"type": "string", "enum": ["pending", "dead"]}),
                            _query("account"),
                            _query("after", {"type": "integer", "minimum": 0,
                                             "maximum": MAX_ID}),
                            _query("limit", {"type": "integer", "minimum": 1,
                                             "maximum": MAX_LIST})],
                        "responses": _answers(200, _object(
                            ["webhooks", "counts"],
                            webhooks={"type": "array", "items": _ref("WebhookItem")},
                            counts={"type": "object"},
                            sender={"type": "object", "nullable": True}), 400)},
            },
            "/admin/v1/webhooks/{id}": {
                "parameters": [_path("id", _ID)],
                "get": {"summary": "One outbox item with its payload",
                        "responses": _answers(200, _ref("WebhookItem"), 400, 404)},
            },
            "/admin/v1/webhooks/replay": {
                "post": {"summary": "Send dead letters again",
                         "requestBody": _body({"type": "object", "properties": {
                             "ids": {"type": "array", "maxItems": MAX_LIST, "items": _ID},
                             "account": {"type": "string", "maxLength": 64},
                             "all": _BOOL}}),
                         "responses": _answers(200, _object(["replayed"], replayed=_INT),
                                               *_BODY_ERRORS)},
            },
        },
        "inbound": {
            "/admin/v1/inbound/": {
                "post": {"summary": "Inject an inbound message (MO) through the simulator",
                         "requestBody": _body(inject),
                         "responses": _answers(202, _object(
                             ["injected", "ids"], injected=_INT,
                             ids={"type": "array", "items": _STR}), *_BODY_ERRORS, 422)},
            },
        },
        "connectors": {
            "/admin/v1/connectors/": {
                "get": {"summary": "Upstream connectors with their health",
                        "responses": _answers(200, {"type": "array",
                                                    "items": _ref("Connector")})},
                "post": {"summary": "Add an upstream connector (its settings)",
                         "requestBody": _body({"type": "object"}),
                         "responses": _answers(201, _ref("Connector"), *_BODY_ERRORS,
                                               409)},
            },
            "/admin/v1/connectors/{name}": {
                "parameters": [_path("name")],
                "get": {"summary": "One connector",
                        "responses": _answers(200, _ref("Connector"), 404)},
                "patch": {"summary": "Change a connector's settings",
                          "requestBody": _body({"type": "object"}),
                          "responses": _answers(200, _ref("Connector"), *_BODY_ERRORS,
                                                404)},
                "put": {"summary": "Change a connector's settings (as PATCH)",
                        "requestBody": _body({"type": "object"}),
                        "responses": _answers(200, _ref("Connector"), *_BODY_ERRORS, 404)},
                "delete": {"summary": "Remove a connector no route uses",
                           "responses": _answers(200, _object(["removed"], removed=_STR),
                                                 404, 409)},
            },
        },
        "routes": {
            "/admin/v1/routes/": {
                "get": {"summary": "The route table",
                        "responses": _answers(200, {"type": "array", "items": _ref("Route")})},
                "post": {"summary": "Add a route",
                         "requestBody": _body(_object(
                             ["connectors"], prefix=_STR, account=_STR, source_prefix=_STR,
                             connectors={"type": "array", "items": _object(
                                 ["name"], name=_STR, weight={
                                     "type": "integer", "minimum": 1, "maximum": 1000})})),
                         "responses": _answers(201, _object(["id"], id=_INT),
                                               *_BODY_ERRORS)},
            },
            "/admin/v1/routes/{id}": {
                "parameters": [_path("id", _ID)],
                "delete": {"summary": "Remove a route", "responses": _answers(
                    200, _object(["removed"], removed=_INT), 400, 404)},
            },
        },
        "cdrs": {
            "/admin/v1/cdrs/": {
                "get": {"summary": "Call detail records of messages final in [since, until)",
                        "parameters": [
                            {**_query("since"), "required": True,
                             "description": "RFC 3339 time or POSIX seconds"},
                            _query("until"), _query("account"), _query("after"),
                            _query("limit", {"type": "integer", "minimum": 1,
                                             "maximum": MAX_LIST})],
                        "responses": _answers(200, _object(
                            ["cdrs", "next"], cdrs={"type": "array",
                                                    "items": {"type": "object"}},
                            next={"type": "string", "nullable": True}), 400)},
            },
        },
    }


def _openapi_schema(schema: Any) -> Any:
    """A Draft 7 schema as OpenAPI 3.0 writes it: `type: [a, b]` becomes `oneOf`."""
    if isinstance(schema, dict):
        out = {key: _openapi_schema(value) for key, value in schema.items()}
        if isinstance(out.get("type"), list):
            out["oneOf"] = [{"type": name} for name in out.pop("type")]
        return out
    if isinstance(schema, list):
        return [_openapi_schema(item) for item in schema]
    return schema


def admin_openapi_document(sections: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.0 description of /admin/v1 with the `sections` this gateway mounts."""
    paths = _own_paths()
    for name, section_paths in _section_paths().items():
        if name in sections:
            paths.update(section_paths)
    requests = {name: _openapi_schema(schema) for name, schema in ADMIN_REQUESTS.items()}
    requests["PriceRequest"] = requests.pop("Price")
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsgw admin API", "version": "1",
                 "description": "Accounts, keys, prices, numbers, the webhook outbox, "
                                "connectors, routes and CDRs."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {
                "type": "http", "scheme": "bearer",
                "description": "the admin token ([admin] token, or <data_dir>/admin-token)"}},
            "schemas": {
                **requests, "Account": ACCOUNT, "ApiKey": API_KEY, "Price": PRICE,
                "Number": NUMBER, "WebhookItem": WEBHOOK_ITEM, "Connector": CONNECTOR,
                "Route": ROUTE, "Error": ERROR,
            },
        },
    }
