"""Idempotent submits (H3): a retried request with the same key gets the first result.

The first result is written by the store in the same transaction as the accept (debit and
messages), so "charged" and "remembered" cannot come apart, not even in a crash. A second
request with the key, concurrent or after a restart, finds the row in that transaction and
gets the remembered result instead of a second accept.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.model import Message

__all__ = ["Once", "OnceOutcome", "Remembered", "fingerprint"]

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, kw_only=True, slots=True)
class Once:
    """A submit to do at most once per (account, key).

    `record(messages)` renders the result to remember (the API's answer, JSON); the store
    keeps it with the balance right after the debit.
    """

    key: str
    fingerprint: str
    record: Callable[[Sequence[Message]], str]


@dataclass(frozen=True, kw_only=True, slots=True)
class Remembered:
    """What the first request under a key got."""

    fingerprint: str
    result: str
    balance: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class OnceOutcome:
    """The store's answer to accept_once: accepted now (with the new balance), refused for
    the balance (accepted False, earlier None), or done before (earlier set, nothing
    written)."""

    accepted: bool
    balance: Decimal | None = None
    earlier: Remembered | None = None


def fingerprint(request: Any) -> str:
    """A stable hash of a request's JSON-able content."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
