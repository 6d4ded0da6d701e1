"""Delivery receipt text (SMPP 3.4 Appendix B): format ours, parse anybody's.

We write exactly, on one line,

    id:IIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:EEE text:...

and read liberally: any field order, any key case, `text:`, `Text:`, `Text `
(sms77) or `Текст:` (the Bulgarian seed), `submit_date`, missing fields, ids
in hex or decimal (kept as strings).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from gateway.smpp.constants import STATE_BY_RECEIPT_STAT, MessageState

__all__ = ["Receipt", "format_receipt", "parse_receipt"]

TEXT_LENGTH = 20

# Spelled-out words some SMSCs use instead of the 7-letter stat words.
_STAT_ALIASES = {
    "DELIVERED": MessageState.DELIVERED,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "ACCEPTED": MessageState.ACCEPTED,
    "REJECTED": MessageState.REJECTED,
    "FAILED": MessageState.UNDELIVERABLE,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Receipt:
    """A parsed receipt. None means the field was absent (or, for sub/dlvrd, not a number)."""

    message_id: str | None = None
    sub: int | None = None
    dlvrd: int | None = None
    submit_date: str | None = None  # YYMMDDhhmm, or YYMMDDhhmmss from some SMSCs
    done_date: str | None = None
    stat: str | None = None  # upper-cased
    err: str | None = None  # kept as sent: "000", "0", "0A3"...
    text: str | None = None

    @property
    def message_state(self) -> MessageState | None:
        """The MessageState that `stat` names, if it names one."""
        if self.stat is None:
            return None
        return STATE_BY_RECEIPT_STAT.get(self.stat) or _STAT_ALIASES.get(self.stat)


def _receipt_date(ts: float) -> str:
    return _minute_text(int(ts) // 60)


@lru_cache(maxsize=64)
def _minute_text(minute: int) -> str:
    # A receipt date names a minute, and receipts come in bursts within the same few
    # minutes: strftime once per minute, not twice per receipt.
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%y%m%d%H%M")


def format_receipt(
    *,
    message_id: str,
    sub: int,
    dlvrd: int,
    submit_date: float,
    done_date: float,
    stat: str,
    err: int,
    text: str,
) -> str:
    """The receipt short_message text; dates are POSIX seconds, written in UTC.

    `err` has three digits in the format: a larger code (an upstream's command_status such
    as 0x40B) is written as 999; the network_error_code TLV carries it in full."""
    err = min(err, 999)
    return (
        f"id:{message_id} sub:{sub:03d} dlvrd:{dlvrd:03d}"
        f" submit date:{_receipt_date(submit_date)} done date:{_receipt_date(done_date)}"
        f" stat:{stat} err:{err:03d} text:{text[:TEXT_LENGTH]}"
    )


# A key starts the text or follows whitespace. `text` may come without a colon (sms77).
_KEY = re.compile(
    r"(?<!\S)(?:(?P<key>id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err)\s*:"
    r"|(?P<text>text|текст)(?:\s*:\s?|\s|$))",
    re.IGNORECASE,
)
_FIELD = {"id": "message_id", "sub": "sub", "dlvrd": "dlvrd", "stat": "stat", "err": "err"}


def _field_name(key: str) -> str:
    key = key.lower()
    if key.startswith("submit"):
        return "submit_date"
    if key.startswith("done"):
        return "done_date"
    return _FIELD[key]


# The format as we (and most SMSCs) write it, every field in order: one match instead of
# the general parse below, which gives the same Receipt for such a text (tests say so).
_CANONICAL = re.compile(
    r"id:(\S+) sub:(\S*) dlvrd:(\S*) submit date:(\S*) done date:(\S*)"
    r" stat:(\S*) err:(\S*) text:\s?(.*)", re.DOTALL)


def parse_receipt(text: str) -> Receipt | None:
    """Parse a receipt text; None when it has neither `id:` nor `stat:`.

    The text value runs to the end, unless fields not seen before it follow
    it (a receipt with the text in the middle): then it stops at the first.
    """
    canonical = _CANONICAL.fullmatch(text)
    if canonical is not None:
        message_id, sub, dlvrd, submit_date, done_date, stat, err, body = canonical.groups()
        return Receipt(message_id=message_id, sub=_number(sub), dlvrd=_number(dlvrd),
                       submit_date=submit_date, done_date=done_date, stat=stat.upper(),
                       err=err, text=body)
    return _parse_any(text)


def _parse_any(text: str) -> Receipt | None:
    matches = list(_KEY.finditer(text))
    first_text = next((i for i, m in enumerate(matches) if m.group("text")), None)
    keyed = matches if first_text is None else matches[:first_text]
    seen = {_field_name(m.group("key")) for m in keyed}
    body = None
    if first_text is not None:
        later = [m for m in matches[first_text + 1:]
                 if m.group("key") and _field_name(m.group("key")) not in seen]
        text_match = matches[first_text]
        end = later[0].start() if later else len(text)
        body = text[text_match.end():end].rstrip() if later else text[text_match.end():]
        keyed = keyed + [text_match] + later
    values: dict[str, str] = {}
    for i, m in enumerate(keyed):
        if m.group("key") is None:
            continue
        end = keyed[i + 1].start() if i + 1 < len(keyed) else len(text)
        tokens = text[m.end():end].split()
        values.setdefault(_field_name(m.group("key")), tokens[0] if tokens else "")
    if "message_id" not in values and "stat" not in values:
        return None
    return Receipt(
        message_id=values.get("message_id"),
        sub=_number(values.get("sub")),
        dlvrd=_number(values.get("dlvrd")),
        submit_date=values.get("submit_date"),
        done_date=values.get("done_date"),
        stat=values["stat"].upper() if "stat" in values else None,
        err=values.get("err"),
        text=body,
    )


def _number(value: str | None) -> int | None:
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)
