"""Password checks that remember recent successes, so a bind storm or a keep-alive HTTP
client pays scrypt once per password, not once per bind or request.

What is remembered is an HMAC-SHA256 of (system_id, password) under a key drawn at random
when the process starts (never stored, never logged), together with the stored hash the
password was verified against. A later check matches when its HMAC equals a remembered one
(compared in constant time) for the same stored hash and the entry is young enough: a wrong
password has a different HMAC and goes to scrypt, and a new password hash (the account's
password changed) matches no entry. Only successes are remembered. Identical checks in
flight at the same moment share one scrypt run.

Storage is untouched (scrypt hashes on disk); what this adds is in memory only, and only
for passwords that were typed correctly within the last `ttl` seconds.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from gateway.core.single_flight import SingleFlight

__all__ = ["CredentialChecker"]

PER_ACCOUNT = 4  # remembered passwords per account (a password change in progress, say)


@dataclass(frozen=True, slots=True)
class _Remembered:
    digest: bytes
    password_hash: str  # the stored hash this password was verified against
    verified_at: float


class CredentialChecker:
    """Is this the account's password? scrypt through `verify`, successes remembered."""

    def __init__(
        self, verify: Callable[[str, str], Deferred[bool]], clock: IReactorTime,
        ttl: float = 300.0, max_accounts: int = 10_000,
    ) -> None:
        self._verify = verify
        self._clock = clock
        self._ttl = ttl
        self._max_accounts = max_accounts
        self._keyed = hmac.new(os.urandom(32), digestmod=hashlib.sha256)
        self._remembered: dict[str, list[_Remembered]] = {}  # by system_id
        self._flights = SingleFlight()  # identical checks in flight share one scrypt run

    def fingerprint(self, system_id: str, password: str) -> bytes:
        """The keyed HMAC standing for (system_id, password) in this process."""
        name = system_id.encode("utf-8", "surrogatepass")
        secret = password.encode("utf-8", "surrogatepass")
        message = len(name).to_bytes(4, "big") + name + secret  # unambiguous split
        mac = self._keyed.copy()  # the key's pads hashed once: half the cost of hmac.digest
        mac.update(message)
        return mac.digest()

    def check(
        self, system_id: str, password: str, password_hash: str, max_age: float | None = None,
        fingerprint: bytes | None = None,
    ) -> Deferred[bool]:
        """Whether `password` is the one `password_hash` was made from. A success of the
        last `max_age` seconds (default: the ttl) answers at once; anything else runs
        scrypt. Fails with the verifier's VerifierBusy when it is full. `fingerprint`:
        this object's fingerprint(system_id, password), when the caller has it already."""
        digest = fingerprint or self.fingerprint(system_id, password)
        if self.remembers(system_id, digest, password_hash, max_age):
            return succeed(True)
        return self._flights.call((system_id, digest, password_hash), self._verify_and_remember,
                                  system_id, digest, password, password_hash)

    def forget(self, system_id: str | None = None) -> None:
        """Drop what is remembered for `system_id`, or for everyone."""
        if system_id is None:
            self._remembered.clear()
        else:
            self._remembered.pop(system_id, None)

    def remembers(self, system_id: str, fingerprint: bytes, password_hash: str,
                  max_age: float | None = None) -> bool:
        """Whether the password `fingerprint` stands for was found right for `password_hash`
        within the last `max_age` seconds (default: the ttl): `check` without scrypt."""
        age = self._ttl if max_age is None else min(max_age, self._ttl)
        return self._remembers(system_id, fingerprint, password_hash, age)

    def _remembers(self, system_id: str, digest: bytes, password_hash: str, age: float) -> bool:
        entries = self._remembered.get(system_id)
        if not entries:
            return False
        oldest = self._clock.seconds() - age
        found = False
        for entry in entries:
            same = hmac.compare_digest(entry.digest, digest)  # every entry, constant time
            if same and entry.password_hash == password_hash and entry.verified_at > oldest:
                found = True
        return found

    def _verify_and_remember(self, system_id: str, digest: bytes, password: str,
                             password_hash: str) -> Deferred[bool]:
        def remember(ok: bool) -> bool:
            if ok is True:
                self._remember(system_id, digest, password_hash)
            return bool(ok)

        return self._verify(password, password_hash).addCallback(remember)

    def _remember(self, system_id: str, digest: bytes, password_hash: str) -> None:
        if self._ttl <= 0:
            return
        now = self._clock.seconds()
        oldest = now - self._ttl
        entries = [e for e in self._remembered.pop(system_id, ())
                   if not hmac.compare_digest(e.digest, digest)
                   and e.password_hash == password_hash
                   and e.verified_at > oldest]  # stale hashes and old entries go
        entries.append(_Remembered(digest, password_hash, now))
        while len(self._remembered) >= self._max_accounts:  # bounded: the oldest go first
            del self._remembered[next(iter(self._remembered))]
        self._remembered[system_id] = entries[-PER_ACCOUNT:]
