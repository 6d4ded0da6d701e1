"""Whole numbers from the URL (path segments and query parameters), range-checked before
they reach a store: a store's integer columns are 64-bit signed, so an id past 2^63 - 1
would fail deep inside the database driver (OverflowError) instead of being answered.

Only ASCII digits count: `int()` alone would take '+5', ' 5', '1_000' and other scripts'
digits ('٣'), which are no ids of ours."""
from __future__ import annotations

from gateway.http.web import InvalidField

__all__ = ["MAX_ID", "parse_id", "whole_number"]

MAX_ID = 2**63 - 1  # the largest value of a 64-bit signed INTEGER column (SQLite, PostgreSQL)


def _digits(text: str) -> int | None:
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


def parse_id(text: str, what: str, field: str = "id") -> int:
    """The id `text` names (1 to MAX_ID); InvalidField naming `what` otherwise, e.g.
    "api key id 'abc' is not a number"."""
    value = _digits(text)
    if value is None or not 1 <= value <= MAX_ID:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidField(field, f"{what} {shown!r} is not a number from 1 to {MAX_ID}")
    return value


def whole_number(text: str, field: str, *, low: int, high: int, default: int) -> int:
    """The query parameter `field` as a whole number from `low` to `high`; `default` when
    it is absent or empty."""
    if text == "":
        return default
    value = _digits(text)
    if value is None or not low <= value <= high:
        raise InvalidField(field, f"{field} is a whole number from {low} to {high}")
    return value
