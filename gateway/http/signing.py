"""The webhook signature (pure, stdlib only): what the sender computes and what a receiver
checks. The scheme is documented in gateway/http/webhooks.py (and the README).

    X-Smsgw-Timestamp: <unix seconds, integer, when the attempt was made>
    X-Smsgw-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

__all__ = ["SCHEME", "sign", "verify"]

SCHEME = "v1"


@lru_cache(maxsize=4096)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with `secret` and fed nothing yet: the key's inner and outer pads
    hashed once per secret, copied per body (a webhook sender signs many bodies with the
    few secrets of its accounts; the cache is bounded)."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Smsgw-Signature value of `body` sent at `timestamp`: 'v1=<64 hex digits>'."""
    mac = _keyed(secret).copy()
    mac.update(b"%d." % timestamp)
    mac.update(body)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(secret: str, timestamp_header: str | None, signature_header: str | None,
           body: bytes, now: float, tolerance: float = 300) -> bool:
    """True when `signature_header` signs `body` with `secret` at `timestamp_header`, and
    that timestamp is within `tolerance` seconds of `now` (a replayed request is not).

    The header may hold several comma-separated signatures (a receiver rotating keys may
    see more than one scheme); any one v1 signature that matches is enough. An empty
    secret never verifies: the sender does not sign with one."""
    if not secret or not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    ok = False
    for candidate in signature_header.split(","):
        # compare every candidate (no early exit): timing says nothing about which matched
        ok |= hmac.compare_digest(candidate.strip().encode(), expected.encode())
    return ok
