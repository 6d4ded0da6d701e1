"""Compact JSON, fast: orjson writes what it can (about 15 times faster than the json
module); what it refuses (an integer past 64 bits, a lone surrogate, a key that is not a
string) goes to the json module, which writes it as before or raises as before. The
output is the same JSON either way: compact separators, UTF-8, non-ASCII unescaped."""
from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["compact_json", "compact_json_text"]


def _slow(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_json(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _slow(value).encode()


def compact_json_text(value: Any) -> str:
    """`value` as compact JSON text (a lone surrogate stays one, as json.dumps leaves it)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _slow(value)
