"""Who is calling the public API: HTTP Basic with the account's SMPP credentials, or a
bearer API key. Both end in the account as the store holds it right now (so a disabled
account or a changed password takes effect at once).

scrypt costs tens of milliseconds, so Basic checks run in the thread pool (as binds do,
core/accounts.py) and a successful check is remembered for `cache_ttl` seconds, keyed by
the password's SHA-256 and tied to the stored hash: a keep-alive client sending many
requests pays scrypt once, and a password change invalidates the entry.

The account found for a system_id or a key is kept as well (at most `cache_ttl`), so a
request costs no store read before its submit; `forget()` drops everything and is called
whenever the store's settings_version moves (service.py polls it every 2 s; the admin API
calls it at once), so a disabled account, a new password or a revoked key applies within
seconds, as for SMPP binds. Balances are not taken from here: the store checks them.

Repeated failures from one IP are slowed down as for binds (core/accounts.FailurePolicy):
after a few, each answer waits longer, so guessing passwords (and making the gateway run
scrypt for every guess) gets slow.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from gateway.core.accounts import FailurePolicy, ip_allowed
from gateway.core.apikeys import hash_api_key
from gateway.core.passwords import verify_password
from gateway.core.ports import ApiKeyStore, Store
from gateway.model import Account

__all__ = ["AuthFailed", "HttpAuthenticator"]

MAX_CACHE = 10_000


class AuthFailed(Exception):
    """No valid credentials (401), or an address the account does not allow (403)."""

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        self.forbidden = forbidden


@dataclass(frozen=True, slots=True)
class _Checked:
    password_hash: str  # the stored hash the password was checked against
    until: float


class HttpAuthenticator:
    def __init__(
        self, store: Store, keys: ApiKeyStore, clock: IReactorTime,
        run_in_thread: Callable[..., Deferred], cache_ttl: float = 60.0,
        policy: FailurePolicy = FailurePolicy(),
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._run = run_in_thread
        self._ttl = cache_ttl
        self._checked: dict[tuple[str, bytes], _Checked] = {}
        self._accounts: dict[str, tuple[Account | None, float]] = {}  # by system_id
        self._key_accounts: dict[str, tuple[Account | None, float]] = {}  # by key hash
        self._policy = policy
        self._failures: dict[str, tuple[int, float]] = {}  # by IP: (count, last failure)

    def forget(self) -> None:
        """Settings changed somewhere: look every account and key up again."""
        self._checked.clear()
        self._accounts.clear()
        self._key_accounts.clear()

    async def _cached(
        self, cache: dict[str, tuple[Account | None, float]], name: str, lookup
    ) -> Account | None:
        now = self._clock.seconds()
        hit = cache.get(name)
        if hit is not None and hit[1] > now:
            return hit[0]
        account = await lookup(name)
        if account is not None:  # unknown names are not kept: nothing to fill memory with
            if len(cache) >= MAX_CACHE:
                cache.clear()
            cache[name] = (account, now + self._ttl)
        return account

    def authenticate(self, authorization: bytes | None, peer_ip: str) -> Deferred[Account]:
        """The account an Authorization header stands for; fails with AuthFailed."""
        return ensureDeferred(self._authenticate(authorization or b"", peer_ip))

    async def _authenticate(self, authorization: bytes, peer_ip: str) -> Account:
        delay = self._delay(peer_ip)
        if delay:
            await deferLater(self._clock, delay, lambda: None)
        try:
            account = await self._identify(authorization)
        except AuthFailed:
            self._note_failure(peer_ip)
            raise
        self._failures.pop(peer_ip, None)
        if not ip_allowed(peer_ip, account.allow_ips):
            raise AuthFailed(f"{peer_ip} is not allowed for this account", forbidden=True)
        return account

    def _delay(self, peer_ip: str) -> float:
        count, last = self._failures.get(peer_ip, (0, 0.0))
        if self._clock.seconds() - last > self._policy.forget_after:
            self._failures.pop(peer_ip, None)
            return 0.0
        excess = count - self._policy.free_attempts
        if excess < 0:
            return 0.0
        return min(self._policy.base_delay * 2**excess, self._policy.max_delay)

    def _note_failure(self, peer_ip: str) -> None:
        if len(self._failures) >= MAX_CACHE:
            self._failures.clear()  # bounded under a distributed attack
        count, _ = self._failures.get(peer_ip, (0, 0.0))
        self._failures[peer_ip] = (count + 1, self._clock.seconds())

    async def _identify(self, authorization: bytes) -> Account:
        scheme, _, credentials = authorization.strip().partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic":
            account = await self._basic(credentials.strip())
        elif scheme == b"bearer":
            account = await self._bearer(credentials.strip())
        else:
            raise AuthFailed("use HTTP Basic (system_id, password) or a bearer API key")
        return account

    async def _basic(self, credentials: bytes) -> Account:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed("malformed Basic credentials") from None
        system_id, sep, password = decoded.partition(":")
        if not sep:
            raise AuthFailed("malformed Basic credentials")
        account = await self._cached(self._accounts, system_id, self._store.get_account)
        if account is None or not account.enabled:
            raise AuthFailed("unknown account or wrong password")
        key = (system_id, hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())
        now = self._clock.seconds()
        checked = self._checked.get(key)
        if checked is not None and checked.until > now \
                and checked.password_hash == account.password_hash:
            return account
        if not await self._run(verify_password, password, account.password_hash):
            raise AuthFailed("unknown account or wrong password")
        if len(self._checked) >= MAX_CACHE:
            self._checked.clear()  # bounded: the next requests re-check once each
        self._checked[key] = _Checked(account.password_hash, now + self._ttl)
        return account

    async def _bearer(self, credentials: bytes) -> Account:
        try:
            key = credentials.decode("ascii")
        except UnicodeDecodeError:
            raise AuthFailed("malformed API key") from None
        account = await self._cached(
            self._key_accounts, hash_api_key(key), self._keys.account_for_api_key)
        if account is None or not account.enabled:
            raise AuthFailed("unknown or revoked API key")
        return account
