"""Bearer API keys for the HTTP API: issued per account, shown once, stored as a hash.

A key is 32 random bytes (URL-safe base64 after a recognisable `smsgw_` tag), so a fast
hash (SHA-256) is the right one to store: there is nothing to brute-force that a slow KDF
would protect, and checking a key costs microseconds per request.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

__all__ = ["KEY_TAG", "ApiKey", "hash_api_key", "new_api_key"]

KEY_TAG = "smsgw_"
PREFIX_LENGTH = len(KEY_TAG) + 6


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKey:
    """A stored key, without the key itself."""

    id: int
    account: str
    prefix: str  # the key's first characters, to tell keys apart in listings
    label: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_api_key() -> str:
    """A fresh key to hand to the customer once."""
    return KEY_TAG + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What the store keeps of a key (hex SHA-256)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]
