"""The JSON documents webhooks carry: a delivery receipt or an inbound (MO) message.

They are built when the event happens and stored with it (core/fanout.py), so every
retry sends the same bytes and a receiver can de-duplicate by `event_id`. The layout is
documented in the README ("Webhooks").
"""
from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from gateway.core.json_text import compact_json_text
from gateway.model import Message, MessageState
from gateway.text.encoding import Alphabet, alphabet, decode_body

__all__ = ["encoding_name", "iso_time", "mo_payload", "receipt_payload"]

RECEIPT_EVENT = "message.receipt"
MO_EVENT = "message.inbound"

_ENCODING_NAME = {Alphabet.GSM7: "gsm7", Alphabet.UCS2: "ucs2", Alphabet.BINARY: "binary"}
# Enum members read per message, bound once (smpp/constants.py says why)
_DELIVERED = MessageState.DELIVERED


def _name_by_alphabet(data_coding: int) -> str:
    return _ENCODING_NAME.get(alphabet(data_coding), "binary")


# Every octet's name, worked out once: a batch's answer names the encoding of each of its
# messages, and alphabet() and hashing a (plain) Enum member are Python calls, ~0.3 µs.
_NAME_BY_DATA_CODING = {data_coding: _name_by_alphabet(data_coding)
                        for data_coding in range(256)}


def encoding_name(data_coding: int) -> str:
    """gsm7, ucs2, or binary for anything else (as the HTTP API names encodings)."""
    name = _NAME_BY_DATA_CODING.get(data_coding)
    return name if name is not None else _name_by_alphabet(data_coding)


def iso_time(ts: float | None) -> str | None:
    """RFC 3339 in UTC with milliseconds ('2026-12-01T18:00:00.000Z'); None stays None.

    As datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds") says it (the
    microseconds rounded half to even, then cut to milliseconds), with each second's text
    made once: a webhook receipt carries three times, a CDR export two per row, and the
    datetime round costs about ten times the arithmetic."""
    if ts is None:
        return None
    seconds = math.floor(ts)
    micros = round((ts - seconds) * 1e6)  # exact: ts - floor(ts) loses no bits
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{_second_text(seconds)}.{micros // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _document(event: str, event_id: str, account: str, created_at: str | None,
              data: dict[str, Any]) -> str:
    return compact_json_text(
        {"event_id": event_id, "type": event, "created_at": created_at,
         "account": account, "data": data})


def receipt_payload(message: Message, state: MessageState, error_code: int, done_at: float,
                    event_id: str) -> str:
    """The receipt of `message`, which reached final `state`."""
    done = iso_time(done_at)  # also the event's created_at
    return _document(RECEIPT_EVENT, event_id, message.account, done, {
        "message_id": message.id,
        "client_ref": message.client_ref,
        "from": message.source.addr,
        "to": message.destination.addr,
        "state": state.name,
        "stat": state.receipt_stat,
        "message_state": int(state),
        "error_code": error_code,
        "parts": message.parts,
        "delivered_parts": message.parts if state is _DELIVERED else 0,
        "submitted_at": iso_time(message.submitted_at),
        "done_at": done,
    })


def mo_payload(*, event_id: str, mo_id: str, account: str, source: str, destination: str,
               body: bytes, data_coding: int, received_at: float, keyword: str = "",
               connector: str = "", parts: int = 1,
               part: tuple[int, int, int] | None = None) -> str:
    """An inbound message to one of `account`'s numbers. `body` is its text octets
    without UDH: the whole message once reassembled, or a single part (`part` is then
    (ref, total, seq)) when the rest never came in time."""
    kind = alphabet(data_coding)
    binary = kind is Alphabet.BINARY
    received = iso_time(received_at)  # also the event's created_at
    data: dict[str, Any] = {
        "id": mo_id,
        "from": source,
        "to": destination,
        "text": None if binary else decode_body(body, data_coding),
        "hex": body.hex(),
        "encoding": encoding_name(data_coding),
        "data_coding": data_coding,
        "keyword": keyword,
        "parts": parts,
        "complete": part is None,
        "received_at": received,
        "connector": connector,
    }
    if part is not None:
        ref, total, seq = part
        data["part"] = {"ref": ref, "total": total, "seq": seq}
    return _document(MO_EVENT, event_id, account, received, data)
