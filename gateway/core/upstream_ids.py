"""Keys that match an upstream message id however a receipt spells it.

Operator SMSCs answer submit_sm_resp with one spelling of their id and quote it in the
receipt with another: hex in one and decimal in the other, upper or lower case, with or
without leading zeros. Both sides are reduced to keys, in order of preference:

- ``t:<text>``: the id lower-cased without leading zeros (exact up to those);
- ``n:<value>``: its numeric value, read as decimal when it is all digits and read as
  hex when it is all hex digits (a digits-only id gets both readings).

A receipt matches the message whose stored keys meet the receipt's keys, preferring a
``t:`` match to a numeric one (an id like ``10`` reads as 10 and as 16; the exact text
wins when both are in flight).
"""
from __future__ import annotations

import string

__all__ = ["id_keys", "best_match"]

_HEX_DIGITS = string.hexdigits
_MAX_DIGITS = 40  # longer is no number anyone sends; keep it as text only


def _text_key(upstream_id: str) -> str:
    text = upstream_id.strip().lower().lstrip("0")
    return "t:" + (text or "0")


def id_keys(upstream_id: str) -> list[str]:
    """The keys of `upstream_id`, most specific first; empty for an empty id."""
    raw = upstream_id.strip()
    if not raw:
        return []
    keys = [_text_key(raw)]
    if len(raw) <= _MAX_DIGITS:
        if raw.isascii() and raw.isdigit():
            keys.append(f"n:{int(raw, 10)}")
        if raw.isascii() and not raw.strip(_HEX_DIGITS):  # all hex digits (strip: in C)
            key = f"n:{int(raw, 16)}"
            if key not in keys:
                keys.append(key)
    return keys


def best_match(receipt_keys: list[str], found: list[tuple[str, str]]) -> str | None:
    """Of `found` (stored key, message id) pairs, the message id the receipt means: the
    one matched by the receipt's most preferred key; None when nothing matched."""
    by_key: dict[str, str] = {}
    for key, message_id in found:
        by_key.setdefault(key, message_id)
    for key in receipt_keys:
        if key in by_key:
            return by_key[key]
    return None
