"""Translation between the HTTP API's JSON and the core's transport-neutral types: a send
request becomes a SubmitBatch: one SubmitRequest and the other recipients (a long text
stays one message; the core counts and bills its parts), and messages become JSON."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gateway.core.events import encoding_name, iso_time
from gateway.core.validation import SubmitRejected
from gateway.model import (
    NO_ADDRESS,
    Address,
    Message,
    MessageState,
    SubmitBatch,
    SubmitRequest,
    copy_address,
)
from gateway.smpp.constants import CommandStatus, DataCoding, Npi, Ton
from gateway.smpp.frozen_init import fast_replace
from gateway.smpp.timefmt import format_smpp_time
from gateway.text.encoding import choose_data_coding, encode_text
from gateway.text.errors import UnencodableText

__all__ = [
    "SendError", "command_status_hex", "encoding_name", "http_field", "iso_time",
    "message_json", "money", "rejection_detail", "status_json", "status_name", "submit_batch",
]

# GSM 03.38 DCS with message class 0 (flash): general data coding group, class bits valid
_FLASH = {DataCoding.DEFAULT: 0x10, DataCoding.UCS2: 0x18, DataCoding.BINARY_8BIT: 0x14}
# SMPP field names in SubmitRejected → the HTTP request's names
_FIELDS = {
    "destination_addr": "to", "dest_addr_ton": "to", "dest_addr_npi": "to",
    "source_addr": "from", "source_addr_ton": "from", "source_addr_npi": "from",
    "schedule_delivery_time": "scheduled_at", "validity_period": "validity",
    "message_payload": "text", "short_message": "text", "esm_class": "text",
    "data_coding": "encoding", "registered_delivery": "dlr",
}
_LATEST = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
# Addresses hold plain ints, as the model types them: SQLite binds an int in ~50 ns, an
# IntEnum member through its adaptation lookup in ~300 ns, four times per stored row.
_INTERNATIONAL, _ISDN = int(Ton.INTERNATIONAL), int(Npi.ISDN)
_ALPHANUMERIC, _UNKNOWN_NPI = int(Ton.ALPHANUMERIC), int(Npi.UNKNOWN)
# A send's request and its recipients' addresses: copies of blank ones with the fields a
# send gives replaced, where the constructors' keywords cost more (one request per send,
# one address per recipient).
_BLANK_HTTP_REQUEST = SubmitRequest(
    source=NO_ADDRESS, destination=NO_ADDRESS, body=b"",
    from_payload=True,  # one message however long: the gateway cuts it into parts
    transport="http")
_http_request = fast_replace(
    SubmitRequest, "source", "destination", "body", "data_coding", "registered_delivery",
    "schedule_delivery_time", "validity_period", "callback_url", "client_ref")


class SendError(Exception):
    """A send request the core would not understand; `field` is the JSON field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def submit_batch(body: dict[str, Any], now: float) -> SubmitBatch:
    """The SubmitBatch of a validated send request (schemas.validate_send): its first
    recipient's SubmitRequest and the other recipients' addresses."""
    data, data_coding = _content(body)
    recipients = body["to"] if isinstance(body["to"], list) else [body["to"]]
    callback_url = body.get("callback_url", "")
    ton, npi = _INTERNATIONAL, _ISDN
    destinations = tuple(copy_address(NO_ADDRESS, ton, npi, to.removeprefix("+"))
                         for to in recipients)
    first = _http_request(
        _BLANK_HTTP_REQUEST, _source(body.get("from", "")), destinations[0], data,
        data_coding, 1 if body.get("dlr", False) or callback_url else 0,
        _scheduled(body.get("scheduled_at"), now), _validity(body.get("validity")),
        callback_url, body.get("client_ref", ""))
    return SubmitBatch(first=first, others=destinations[1:])


def _content(body: dict[str, Any]) -> tuple[bytes, int]:
    """The octets of a send's `text` or `hex` and their data_coding (a pair, not a frozen
    dataclass: built once per send, it cost as much as the encoding of a short text)."""
    if "hex" in body:
        data = bytes.fromhex(body["hex"])
        coding = DataCoding.BINARY_8BIT
    else:
        text = body["text"]
        encoding = body.get("encoding", "auto")
        if encoding == "gsm7":
            coding = DataCoding.DEFAULT
        elif encoding == "ucs2":
            coding = DataCoding.UCS2
        else:
            coding = choose_data_coding(text)
        try:
            data = encode_text(text, coding)
        except UnencodableText as e:
            raise SendError("text", f"character {e.char!r} at {e.index} is not in the "
                                    f"{encoding} alphabet") from None
        except UnicodeError:  # a lone surrogate cannot be sent in any alphabet
            raise SendError("text", "text is not valid Unicode") from None
    if body.get("flash", False):
        coding = _FLASH[coding]
    return data, int(coding)


def _source(sender: str) -> Address:
    if not sender:
        return Address()  # the gateway's default sender
    digits = sender.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return Address(ton=_INTERNATIONAL, npi=_ISDN, addr=digits)
    return Address(ton=_ALPHANUMERIC, npi=_UNKNOWN_NPI, addr=sender)


def _scheduled(value: str | None, now: float) -> str:
    if value is None:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise SendError("scheduled_at", "scheduled_at must be an RFC 3339 date-time") from None
    if when.tzinfo is None:
        raise SendError("scheduled_at", "scheduled_at needs a time zone (e.g. Z)")
    ts = when.timestamp()
    if ts > _LATEST:
        raise SendError("scheduled_at", "scheduled_at must be before 2100")
    return format_smpp_time(max(ts, now))  # a past time means now


def _validity(seconds: int | None) -> str:
    if seconds is None:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


_MICRO = Decimal("0.000001")


def money(amount: Decimal) -> str:
    """An amount as the API writes it: a string with the store's 6 decimals."""
    return str(amount.quantize(_MICRO))


def http_field(rejected: SubmitRejected) -> str:
    """The JSON field a core rejection is about."""
    return _FIELDS.get(rejected.field, rejected.field or "body")


def command_status_hex(status: int) -> str:
    return f"0x{status:X}"


def status_name(status: int) -> str:
    try:
        return CommandStatus(status).name
    except ValueError:
        return command_status_hex(status)


# An enum member's .name is a Python-level descriptor (~0.2 µs); a batch's answer names the
# state of each of its messages.
_STATE_NAME = {state: state.name for state in MessageState}


def message_json(message: Message, to: str) -> dict[str, Any]:
    """A message as the send response lists it (`id` None in a dry run)."""
    return {
        "id": message.id or None,
        "to": to,
        "parts": message.parts,
        "encoding": encoding_name(message.data_coding),
        "price": money(message.price),
        "state": _STATE_NAME[message.state],
    }


def status_json(message: Message) -> dict[str, Any]:
    """GET /api/v1/messages/{id}: the message's state and timeline."""
    return {
        "id": message.id,
        "from": message.source.addr,
        "to": message.destination.addr,
        "state": message.state.name,
        "error_code": message.error_code,
        "parts": message.parts,
        "price": money(message.price),
        "encoding": encoding_name(message.data_coding),
        "client_ref": message.client_ref,
        "callback_url": message.callback_url,
        "timeline": {
            "accepted": iso_time(message.submitted_at),
            "scheduled": iso_time(message.scheduled_at),
            "sent": iso_time(_sent_at(message)),
            "final": iso_time(message.done_at),
            "expires": iso_time(message.expires_at),
        },
    }


def _sent_at(message: Message) -> float | None:
    """When the router handed the message to its connector: right after the accept, or at
    its scheduled time; never for one deleted (cancelled) or expired while it waited."""
    if message.state is MessageState.SCHEDULED or message.state is MessageState.DELETED:
        return None
    start = message.scheduled_at if message.scheduled_at is not None else message.submitted_at
    if message.state is MessageState.EXPIRED and message.expires_at is not None \
            and start >= message.expires_at:
        return None
    return start


def rejection_detail(rejected: SubmitRejected, field: str | None) -> dict[str, Any]:
    """The `error` object for a core rejection (with `field` None: not about a field)."""
    detail = {"code": status_name(rejected.status),
              "command_status": command_status_hex(rejected.status),
              "message": rejected.detail}
    if field is not None:
        detail["field"] = field
    return detail

