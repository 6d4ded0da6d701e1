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

A request whose answer needs no waiting (a remembered password or a known key, a kept
account, an address the limiter lets through at once) is answered by `account_at_once`,
with no coroutine or Deferred; anything else, every refusal included, goes through
`account_for`.
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

    def _fresh(self, cache: dict[str, tuple[Account | None, float]], name: str
               ) -> Account | None:
        """The account kept for `name`, while it is young enough."""
        hit = cache.get(name)
        if hit is not None and hit[1] > self._clock.seconds():
            return hit[0]
        return None

    async def _cached(
        self, cache: dict[str, tuple[Account | None, float]], name: str, lookup
    ) -> Account | None:
        account = self._fresh(cache, name)
        if account is not None:
            return account
        read_at = self._clock.seconds()  # kept for ttl from when the read began, not ended
        account = await lookup(name)
        if account is not None:  # unknown names are not kept: nothing to fill memory with
            if len(cache) >= MAX_CACHE:
                cache.clear()
            cache[name] = (account, read_at + self._ttl)
        return account

    def authenticate(self, authorization: bytes | None, peer_ip: str) -> Deferred[Account]:
        """The account an Authorization header stands for; fails with AuthFailed."""
        return ensureDeferred(self.account_for(authorization, peer_ip))

    def account_at_once(self, authorization: bytes | None, peer_ip: str) -> Account | None:
        """The account when `account_for` would find it without waiting: a password found
        right within the cache's ttl or a known key, for an account kept in the cache, from
        an allowed address, and the limiter lets it through at once. None otherwise (nothing
        counted): then `account_for` decides. A keep-alive client's usual request."""
        scheme, credentials = _scheme(authorization or b"")
        if scheme == b"basic":
            try:
                system_id, password = _basic_credentials(credentials)
            except AuthFailed:
                return None
            return self._logins.login_at_once(
                system_id, password, peer_ip,
                lambda name: self._fresh(self._accounts, name), max_age=self._ttl)
        if scheme == b"bearer":
            try:
                key_hash = _api_key_hash(credentials)
            except AuthFailed:
                return None
            account = self._fresh(self._key_accounts, key_hash)
            if account is None or not account.enabled or not ip_allowed(peer_ip,
                                                                        account.allow_ips):
                return None
            return account
        return None

    async def account_for(self, authorization: bytes | None, peer_ip: str) -> Account:
        """`authenticate` as a coroutine, for a caller that is one: awaited directly, it
        costs no Deferred of its own per request (the same steps, the same AuthFailed)."""
        return await self._authenticate(authorization or b"", peer_ip)

    async def _authenticate(self, authorization: bytes, peer_ip: str) -> Account:
        scheme, credentials = _scheme(authorization)
        if scheme == b"basic":
            return await self._basic(credentials, peer_ip)
        if scheme == b"bearer":
            return await self._bearer(credentials, peer_ip)
        raise AuthFailed("use HTTP Basic (system_id, password) or a bearer API key")

    async def _basic(self, credentials: bytes, peer_ip: str) -> Account:
        system_id, password = _basic_credentials(credentials)
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
        account = await self._cached(
            self._key_accounts, _api_key_hash(credentials), self._keys.account_for_api_key)
        if account is None or not account.enabled:
            raise AuthFailed("unknown or revoked API key")
        if not ip_allowed(peer_ip, account.allow_ips):
            raise AuthFailed(f"{peer_ip} is not allowed for this account", status=403)
        return account


def _scheme(authorization: bytes) -> tuple[bytes, bytes]:
    """(scheme in lower case, credentials) of an Authorization header."""
    scheme, _, credentials = authorization.strip().partition(b" ")
    return scheme.lower(), credentials.strip()


def _basic_credentials(credentials: bytes) -> tuple[str, str]:
    """(system_id, password) of Basic credentials; AuthFailed when they are malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthFailed("malformed Basic credentials") from None
    system_id, sep, password = decoded.partition(":")
    if not sep:
        raise AuthFailed("malformed Basic credentials")
    return system_id, password


def _api_key_hash(credentials: bytes) -> str:
    """What the store keeps of a bearer key; AuthFailed when it is not ASCII."""
    try:
        key = credentials.decode("ascii")
    except UnicodeDecodeError:
        raise AuthFailed("malformed API key") from None
    return hash_api_key(key)
