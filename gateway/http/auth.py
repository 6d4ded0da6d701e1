"""Who is calling the public API: HTTP Basic with the account's SMPP credentials, or a
bearer API key. Both end in the account as the store holds it right now (so a disabled
account or a changed password takes effect at once).

Basic goes through the same login path as SMPP binds (core/accounts.PasswordLogins): the
shared limiter decides when a guess may be checked (parallel guesses get later and later
turns, per address and per account; too late a turn is 429 at once, unchecked), and a
password checked within `cache_ttl` seconds is recognised without scrypt (by a keyed HMAC
tied to the stored hash, so a password change ends it). Bearer keys are 256 random bits,
not guessable at any rate: they are looked up at once.

The account found for a system_id or a key is kept as well (at most `cache_ttl`), so a
request costs no store read before its submit; `forget()` drops those and is called
whenever the store's settings_version moves (service.py polls it every 2 s; the admin API
calls it at once), so a disabled account or a revoked key applies within seconds, as for
SMPP binds. Balances are not taken from here: the store checks them.
"""
from __future__ import annotations

import base64
import binascii

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime

from gateway.core.accounts import LoginRefused, PasswordLogins, Refusal, ip_allowed
from gateway.core.apikeys import hash_api_key
from gateway.core.ports import ApiKeyStore, Store
from gateway.model import Account

__all__ = ["AuthFailed", "HttpAuthenticator"]

MAX_CACHE = 10_000


class AuthFailed(Exception):
    """No valid credentials (401), an address the account does not allow (403), too many
    attempts (429) or too many checks in progress (503); `retry_after` in seconds."""

    def __init__(self, reason: str, *, status: int = 401, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after

    @property
    def forbidden(self) -> bool:
        return self.status == 403


_HTTP_STATUS = {
    Refusal.UNKNOWN_ACCOUNT: 401, Refusal.WRONG_PASSWORD: 401,
    Refusal.ADDRESS_NOT_ALLOWED: 403, Refusal.TOO_MANY_ATTEMPTS: 429, Refusal.BUSY: 503,
}


class HttpAuthenticator:
    def __init__(
        self, store: Store, keys: ApiKeyStore, clock: IReactorTime, logins: PasswordLogins,
        cache_ttl: float = 60.0,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._logins = logins
        self._ttl = cache_ttl
        self._accounts: dict[str, tuple[Account | None, float]] = {}  # by system_id
        self._key_accounts: dict[str, tuple[Account | None, float]] = {}  # by key hash

    def forget(self) -> None:
        """Settings changed somewhere: look every account and key up again."""
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
        return ensureDeferred(self.account_for(authorization, peer_ip))

    async def account_for(self, authorization: bytes | None, peer_ip: str) -> Account:
        """`authenticate` as a coroutine, for a caller that is one: awaited directly, it
        costs no Deferred of its own per request (the same steps, the same AuthFailed)."""
        return await self._authenticate(authorization or b"", peer_ip)

    async def _authenticate(self, authorization: bytes, peer_ip: str) -> Account:
        scheme, _, credentials = authorization.strip().partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic":
            return await self._basic(credentials.strip(), peer_ip)
        if scheme == b"bearer":
            return await self._bearer(credentials.strip(), peer_ip)
        raise AuthFailed("use HTTP Basic (system_id, password) or a bearer API key")

    async def _basic(self, credentials: bytes, peer_ip: str) -> Account:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed("malformed Basic credentials") from None
        system_id, sep, password = decoded.partition(":")
        if not sep:
            raise AuthFailed("malformed Basic credentials")
        try:
            return await self._logins.login(
                system_id, password, peer_ip,
                lambda name: self._cached(self._accounts, name, self._store.get_account),
                max_age=self._ttl)
        except LoginRefused as e:
            status = _HTTP_STATUS[e.refusal]
            reason = "unknown account or wrong password" if status == 401 else str(e)
            raise AuthFailed(reason, status=status, retry_after=e.retry_after) from None

    async def _bearer(self, credentials: bytes, peer_ip: str) -> Account:
        try:
            key = credentials.decode("ascii")
        except UnicodeDecodeError:
            raise AuthFailed("malformed API key") from None
        account = await self._cached(
            self._key_accounts, hash_api_key(key), self._keys.account_for_api_key)
        if account is None or not account.enabled:
            raise AuthFailed("unknown or revoked API key")
        if not ip_allowed(peer_ip, account.allow_ips):
            raise AuthFailed(f"{peer_ip} is not allowed for this account", status=403)
        return account
