"""Admin REST sections for two-way messaging: the numbers accounts own, the webhook outbox
and injecting an inbound message into the simulator. `AdminApi` checks the token and
mounts each app at /admin/v1/<section>/:

    numbers:   GET /                  list (?account=)
               POST /                 {"number", "account", "keyword"?} -> 201
               DELETE /<number>       remove (?keyword=)
    webhooks:  GET /                  items (?state=pending|dead, ?account=, ?after=, ?limit=),
                                      with the outbox counts and the sender's counters
               GET /<id>              one item, with its JSON payload
               POST /replay           dead letters back to the queue:
                                      {"ids": [...]} | {"account": "..."} | {"all": true}
    inbound:   POST /                 {"from", "to", "text" | "hex", "data_coding"?,
                                      "split"?: udh|sar|none, "order"?: given|reverse,
                                      "drop"?: [seq, ...], "ref"?: 0-65535}: an MO as if
                                      from the network (parts with `ref` as their
                                      concatenation reference, by default the next one),
                                      through the simulator and the one MO path -> 202

Errors are the admin API's: {"error": {"code", "message", "field"?}}.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from klein import Klein
from twisted.internet.defer import maybeDeferred
from twisted.internet.interfaces import IReactorTime
from werkzeug.exceptions import MethodNotAllowed

from gateway.core.events import iso_time
from gateway.core.numbers import OwnedNumber, normalize_keyword, normalize_number
from gateway.core.ports import (
    InboundRejected,
    NumberStore,
    NumberTaken,
    UnknownAccount,
    WebhookStore,
)
from gateway.http.params import MAX_ID, parse_id, whole_number
from gateway.http.translate import status_name
from gateway.http.web import (
    BadBody,
    InvalidField,
    error,
    json_errors,
    json_response,
    read_json,
    unencodable_field,
)
from gateway.http.webhooks import WebhookSender
from gateway.model import OutboxItem

__all__ = ["MessagingAdmin", "webhook_json"]

MAX_LIST = 1000
_SPLITS = ("udh", "sar", "none")
_ORDERS = ("given", "reverse")


class MessagingAdmin:
    numbers = Klein()
    webhooks = Klein()
    inbound = Klein()

    def __init__(self, *, store: NumberStore, webhook_store: WebhookStore, simulator: Any,
                 clock: IReactorTime, settings_changed: Callable[[], object] = lambda: None,
                 sender: WebhookSender | None = None) -> None:
        self._store = store
        self._webhook_store = webhook_store
        self._simulator = simulator  # has inject(...) (connectors/simulator.py)
        self._clock = clock
        self._changed = settings_changed
        self._sender = sender  # None: webhooks are not sent by this process (tests)

    def sections(self) -> dict[str, Klein]:
        """The section apps to hand to AdminApi."""
        return {"numbers": self.numbers, "webhooks": self.webhooks, "inbound": self.inbound}

    # --- numbers -----------------------------------------------------------------------------
    @numbers.route("/", methods=["GET"], strict_slashes=False)
    async def list_numbers(self, request: Any) -> bytes:
        account = _arg(request, b"account")
        entries = await self._store.list_numbers(account or None)
        return json_response(request, 200, {"numbers": [_number_json(e) for e in entries]})

    @numbers.route("/", methods=["POST"], strict_slashes=False)
    async def add_number(self, request: Any) -> bytes:
        try:
            body = _object(request)
            number = OwnedNumber(
                number=_normalized(normalize_number, _string(body, "number", required=True),
                                   "number"),
                account=_string(body, "account", required=True),
                keyword=_normalized(normalize_keyword, _string(body, "keyword"), "keyword"))
            await self._store.add_number(number)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        except UnknownAccount:
            return error(request, 404, "not_found", f"no account {number.account!r}",
                         field="account")
        except NumberTaken:
            return error(request, 409, "exists", f"{number.number} is owned already"
                         + (f" for keyword {number.keyword!r}" if number.keyword else ""),
                         field="number")
        await maybeDeferred(self._changed)
        return json_response(request, 201, _number_json(number))

    @numbers.route("/<string:number>", methods=["DELETE"])
    async def remove_number(self, request: Any, number: str) -> bytes:
        keyword = _arg(request, b"keyword")
        try:
            removed = await self._store.remove_number(number, keyword)
        except ValueError as e:
            return error(request, 400, "invalid_field", str(e), field="number")
        if not removed:
            return error(request, 404, "not_found", f"nobody owns {number!r}"
                         + (f" with keyword {keyword!r}" if keyword else ""))
        await maybeDeferred(self._changed)
        return json_response(request, 200, {"removed": {"number": number, "keyword": keyword}})

    # --- webhook outbox ----------------------------------------------------------------------
    @webhooks.route("/", methods=["GET"], strict_slashes=False)
    async def list_webhooks(self, request: Any) -> bytes:
        state = _arg(request, b"state")
        if state not in ("", "pending", "dead"):
            return error(request, 400, "invalid_field", "state is pending or dead",
                         field="state")
        try:
            after = whole_number(_arg(request, b"after"), "after", low=0, high=MAX_ID,
                                 default=0)
            limit = whole_number(_arg(request, b"limit"), "limit", low=1, high=MAX_LIST,
                                 default=100)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        items = await self._webhook_store.list_webhooks(
            dead={"": None, "pending": False, "dead": True}[state],
            account=_arg(request, b"account") or None, after_id=after, limit=limit)
        counts = await self._webhook_store.webhook_counts()
        return json_response(request, 200, {
            "webhooks": [webhook_json(i) for i in items], "counts": counts,
            "sender": self._sender.stats() if self._sender is not None else None})

    @webhooks.route("/<string:item_id>", methods=["GET"])
    async def show_webhook(self, request: Any, item_id: str) -> bytes:
        if item_id == "replay":  # a GET of the replay route, not an item: 405, not "no id"
            raise MethodNotAllowed(valid_methods=["POST"])
        try:
            number = parse_id(item_id, "webhook item id")
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        found = await self._webhook_store.list_webhooks(after_id=number - 1, limit=1)
        if not found or found[0].id != number:
            return error(request, 404, "not_found", f"no webhook item {number} (delivered "
                                                    "items are not kept)")
        return json_response(request, 200, {**webhook_json(found[0]),
                                            "payload": found[0].payload})

    @webhooks.route("/replay", methods=["POST"])
    async def replay(self, request: Any) -> bytes:
        try:
            body = _object(request)
            ids = body.get("ids")
            if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_LIST or not all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID
                    for i in ids)):
                raise InvalidField("ids", f"ids is a list of up to {MAX_LIST} item ids "
                                          f"(1-{MAX_ID})")
            account = _string(body, "account")
            every = body.get("all", False)
            if not isinstance(every, bool):
                raise InvalidField("all", "all is true or false")
            if not (ids or account or every):
                raise InvalidField("ids", "say which dead letters: ids, account, or all")
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        count = await self._webhook_store.replay_webhooks(
            ids=ids or None, account=account or None, now=self._clock.seconds())
        if self._sender is not None and count:
            self._sender.clear_backoff()  # an admin replays because the receiver is back
        return json_response(request, 200, {"replayed": count})

    # --- inbound (simulator) -----------------------------------------------------------------
    @inbound.route("/", methods=["POST"], strict_slashes=False)
    async def inject(self, request: Any) -> bytes:
        try:
            body = _object(request)
            source = _string(body, "from", required=True)
            destination = _string(body, "to", required=True)
            text, hex_body = body.get("text"), body.get("hex")
            if (text is None) == (hex_body is None):
                raise InvalidField("text", "give text or hex")
            if text is not None and (not isinstance(text, str) or len(text) > 10_000):
                raise InvalidField("text", "text is a string of up to 10000 characters")
            binary = None
            if hex_body is not None:
                try:
                    binary = bytes.fromhex(hex_body) if isinstance(hex_body, str) else None
                except ValueError:
                    binary = None
                if binary is None or len(binary) > 10_000:
                    raise InvalidField("hex", "hex is up to 10000 octets in hexadecimal")
            data_coding = body.get("data_coding")
            if data_coding is not None and (not isinstance(data_coding, int)
                                            or isinstance(data_coding, bool)
                                            or not 0 <= data_coding <= 0xFF):
                raise InvalidField("data_coding", "data_coding is 0-255")
            split = _choice(body, "split", _SPLITS)
            order = _choice(body, "order", _ORDERS)
            drop = body.get("drop", [])
            if not isinstance(drop, list) or len(drop) > 255 or not all(
                    isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 255
                    for n in drop):
                raise InvalidField("drop", "drop is a list of part numbers (1-255)")
            ref = body.get("ref")
            if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool)
                                    or not 0 <= ref <= 0xFFFF):
                raise InvalidField("ref", "ref is the concatenation reference, 0-65535")
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        try:
            ids = await self._simulator.inject(
                source, destination, text=text, hex=binary, data_coding=data_coding,
                split=split, order=order, drop=tuple(drop), ref=ref)
        except InboundRejected as e:
            return error(request, 422, status_name(e.command_status), str(e),
                         command_status=f"0x{e.command_status:X}")
        except ValueError as e:  # text the data_coding cannot carry, a bad address
            return error(request, 400, "invalid_field", str(e))
        return json_response(request, 202, {"injected": len(ids), "ids": list(ids)})

    json_errors(numbers, "/admin/v1/numbers")
    json_errors(webhooks, "/admin/v1/webhooks")
    json_errors(inbound, "/admin/v1/inbound")


def webhook_json(item: OutboxItem) -> dict[str, Any]:
    """A webhook outbox item as the admin API and the CLI show it."""
    return {"id": item.id, "event_id": item.event_id, "account": item.account,
            "kind": item.kind.value, "message_id": item.message_id, "url": item.url,
            "created_at": iso_time(item.created_at), "attempts": item.attempts,
            "next_attempt_at": iso_time(item.next_attempt_at), "last_error": item.last_error,
            "dead_at": iso_time(item.dead_at),
            "state": "dead" if item.dead_at is not None else "pending"}


def _number_json(entry: OwnedNumber) -> dict[str, str]:
    return {"number": entry.number, "keyword": entry.keyword, "account": entry.account}


def _normalized(normalize: Callable[[str], str], value: str, field: str) -> str:
    try:
        return normalize(value) if value or field == "number" else ""
    except ValueError as e:
        raise InvalidField(field, str(e)) from None


def _arg(request: Any, name: bytes) -> str:
    value = (request.args.get(name) or [b""])[-1]
    return value.decode("utf-8", "replace")


def _object(request: Any) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise InvalidField("body", "the body must be a JSON object")
    bad = unencodable_field(body)
    if bad is not None:
        raise InvalidField(bad, f"{bad} is not valid Unicode (a lone surrogate)")
    return body


def _string(body: dict[str, Any], field: str, *, required: bool = False) -> str:
    value = body.get(field, None)
    if value is None:
        if required:
            raise InvalidField(field, f"{field} is required")
        return ""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidField(field, f"{field} is a string of up to 64 characters")
    return value


def _choice(body: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    value = body.get(field, allowed[0])
    if value not in allowed:
        raise InvalidField(field, f"{field} is one of {', '.join(allowed)}")
    return value
