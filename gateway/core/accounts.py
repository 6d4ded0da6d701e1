"""Authentication of binds: credentials, IP allow-lists, bind limits, slowed repeated failures."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool

from gateway.core.binds import BindRegistry
from gateway.core.passwords import verify_password
from gateway.core.ports import Store
from gateway.model import Account
from gateway.smpp.constants import CommandStatus


class BindRejected(Exception):
    def __init__(self, status: CommandStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, kw_only=True)
class FailurePolicy:
    """After `free_attempts` failures from one IP, each answer waits `base_delay` * 2^n,
    capped at `max_delay`; the count is forgotten after `forget_after` quiet seconds."""

    free_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    forget_after: float = 300.0


class Authenticator:
    def __init__(
        self,
        store: Store,
        binds: BindRegistry,
        reactor: IReactorTime,
        hash_pool_runner: Callable[..., Deferred] | None = None,
        policy: FailurePolicy = FailurePolicy(),
    ) -> None:
        self._store = store
        self._binds = binds
        self._reactor = reactor
        self._policy = policy
        # scrypt takes tens of milliseconds: keep it off the reactor thread
        self._run = hash_pool_runner or thread_runner(reactor)
        self._failures: dict[str, tuple[int, float]] = {}

    def authenticate(self, system_id: str, password: str, peer_ip: str) -> Deferred[Account]:
        """Fire with the Account, or fail with BindRejected carrying the SMPP status."""
        return ensureDeferred(self._authenticate(system_id, password, peer_ip))

    async def _authenticate(self, system_id: str, password: str, peer_ip: str) -> Account:
        await self._wait_if_suspicious(peer_ip)
        account: Account | None = await self._store.get_account(system_id)
        if account is None or not account.enabled:
            self._note_failure(peer_ip)
            raise BindRejected(CommandStatus.ESME_RINVSYSID, f"unknown system_id {system_id!r}")
        ok = await self._run(verify_password, password, account.password_hash)
        if not ok:
            self._note_failure(peer_ip)
            raise BindRejected(CommandStatus.ESME_RINVPASWD, f"wrong password for {system_id!r}")
        if not ip_allowed(peer_ip, account.allow_ips):
            self._note_failure(peer_ip)
            raise BindRejected(
                CommandStatus.ESME_RBINDFAIL, f"{peer_ip} not allowed for {system_id!r}")
        self._failures.pop(peer_ip, None)
        return account

    def _wait_if_suspicious(self, peer_ip: str) -> Deferred:
        count, last = self._failures.get(peer_ip, (0, 0.0))
        now = self._reactor.seconds()
        if now - last > self._policy.forget_after:
            self._failures.pop(peer_ip, None)
            count = 0
        excess = count - self._policy.free_attempts
        if excess < 0:
            return succeed(None)
        delay = min(self._policy.base_delay * (2**excess), self._policy.max_delay)
        return deferLater(self._reactor, delay, lambda: None)

    def _note_failure(self, peer_ip: str) -> None:
        count, _ = self._failures.get(peer_ip, (0, 0.0))
        self._failures[peer_ip] = (count + 1, self._reactor.seconds())
        if len(self._failures) > 100_000:  # bound memory under a distributed attack
            oldest = sorted(self._failures.items(), key=lambda kv: kv[1][1])[:50_000]
            for ip, _ in oldest:
                del self._failures[ip]


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
