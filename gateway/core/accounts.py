"""Password logins for SMPP binds and HTTP Basic alike (slowed guessing, remembered
successes, a bounded verifier), IP allow-lists and bind limits."""
from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from enum import Enum

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool

from gateway.core.binds import BindRegistry
from gateway.core.credentials import CredentialChecker
from gateway.core.login_limiter import LoginLimiter, TooManyAttempts
from gateway.core.ports import Store
from gateway.core.single_flight import SingleFlight
from gateway.core.verifier import VerifierBusy
from gateway.model import Account
from gateway.smpp.constants import CommandStatus


class Refusal(Enum):
    UNKNOWN_ACCOUNT = "unknown or disabled account"
    WRONG_PASSWORD = "wrong password"
    ADDRESS_NOT_ALLOWED = "address not allowed for this account"
    TOO_MANY_ATTEMPTS = "too many attempts from this address or for this account"
    BUSY = "too many password checks in progress"


class LoginRefused(Exception):
    def __init__(self, refusal: Refusal, detail: str, retry_after: float = 0.0) -> None:
        super().__init__(detail)
        self.refusal = refusal
        self.retry_after = retry_after


AccountLookup = Callable[[str], Awaitable[Account | None]]
KnownAccount = Callable[[str], Account | None]  # without waiting; None: not known right now


class PasswordLogins:
    """One login path for every front-end: the limiter decides when the attempt may be
    checked (before anything looks at the password), then the account is looked up and
    the password checked (remembered successes answer at once), then the allow-list.
    `login_at_once` is the same steps for a front-end that keeps accounts: when none of
    them waits, it answers with no coroutine or Deferred; else `login` decides."""

    def __init__(self, limiter: LoginLimiter, checker: CredentialChecker) -> None:
        self.limiter = limiter
        self.checker = checker

    async def login(
        self, system_id: str, password: str, peer_ip: str, lookup: AccountLookup,
        *, max_age: float | None = None,
    ) -> Account:
        """The account, or LoginRefused. `max_age`: how old a remembered success may be."""
        guess = self.checker.fingerprint(system_id, password)
        try:
            admission = await self.limiter.admit(peer_ip, system_id, guess)
        except TooManyAttempts as e:
            raise LoginRefused(Refusal.TOO_MANY_ATTEMPTS, str(e), e.retry_after) from None
        outcome: bool | None = None
        try:
            account = await lookup(system_id)
            if account is None or not account.enabled:
                outcome = False
                raise LoginRefused(Refusal.UNKNOWN_ACCOUNT, f"unknown system_id {system_id!r}")
            try:
                ok = await self.checker.check(system_id, password, account.password_hash,
                                              max_age, guess)
            except VerifierBusy as e:
                raise LoginRefused(Refusal.BUSY, str(e), 1.0) from None
            if not ok:
                outcome = False
                raise LoginRefused(Refusal.WRONG_PASSWORD, f"wrong password for {system_id!r}")
            outcome = ip_allowed(peer_ip, account.allow_ips)
            if not outcome:
                raise LoginRefused(Refusal.ADDRESS_NOT_ALLOWED,
                                   f"{peer_ip} not allowed for {system_id!r}")
            return account
        finally:
            admission.done(outcome)

    def login_at_once(
        self, system_id: str, password: str, peer_ip: str, known: KnownAccount,
        *, max_age: float | None = None,
    ) -> Account | None:
        """The account when `login` would succeed without waiting for anything: the
        limiter lets the attempt through at once, `known` has the account, enabled, whose
        password was found right within `max_age` seconds and whose allow-list has
        `peer_ip`. None otherwise, with nothing counted: then `login` decides."""
        guess = self.checker.fingerprint(system_id, password)

        def remembered() -> Account | None:
            account = known(system_id)
            if (account is None or not account.enabled
                    or not self.checker.remembers(system_id, guess, account.password_hash,
                                                  max_age)
                    or not ip_allowed(peer_ip, account.allow_ips)):
                return None
            return account

        return self.limiter.settle_at_once(peer_ip, system_id, guess, remembered)


class BindRejected(Exception):
    def __init__(self, status: CommandStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


_BIND_STATUS = {
    Refusal.UNKNOWN_ACCOUNT: CommandStatus.ESME_RINVSYSID,
    Refusal.WRONG_PASSWORD: CommandStatus.ESME_RINVPASWD,
    Refusal.ADDRESS_NOT_ALLOWED: CommandStatus.ESME_RBINDFAIL,
    Refusal.TOO_MANY_ATTEMPTS: CommandStatus.ESME_RBINDFAIL,
    Refusal.BUSY: CommandStatus.ESME_RBINDFAIL,
}


class Authenticator:
    """Binds: PasswordLogins with the SMPP statuses (S4), and the bind limit."""

    def __init__(self, store: Store, binds: BindRegistry, logins: PasswordLogins,
                 remember: float | None = None) -> None:
        self._store = store
        self._binds = binds
        self._logins = logins
        self._remember = remember
        self._lookups = SingleFlight()  # a bind storm's binds of one account: one store read

    def authenticate(self, system_id: str, password: str, peer_ip: str) -> Deferred[Account]:
        """Fire with the Account, or fail with BindRejected carrying the SMPP status.
        Cancelling it withdraws an attempt still waiting for its turn."""
        return ensureDeferred(self._authenticate(system_id, password, peer_ip))

    async def _authenticate(self, system_id: str, password: str, peer_ip: str) -> Account:
        try:
            return await self._logins.login(system_id, password, peer_ip, self._lookup,
                                            max_age=self._remember)
        except LoginRefused as e:
            raise BindRejected(_BIND_STATUS[e.refusal], str(e)) from None

    def _lookup(self, system_id: str) -> Deferred[Account | None]:
        """The account as the store holds it now; binds asking at the same moment share
        one read (a change applies to every read started after it)."""
        return self._lookups.call(system_id, self._store.get_account, system_id)



# This machine's own addresses: where the gateway listens, and whom administration answers,
# unless configured otherwise.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


def ip_allowed(peer_ip: str, allow: tuple[str, ...]) -> bool:
    """True when `allow` is empty or `peer_ip` is inside one of its CIDR networks."""
    if not allow:
        return True
    try:
        address = ipaddress.ip_address(peer_ip)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for cidr in allow:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def thread_runner(reactor: IReactorThreads) -> Callable[..., Deferred]:
    def run(fn, *args):
        return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

    return run
