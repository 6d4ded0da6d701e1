"""Admin changes reaching a running gateway without a restart: price tables, accounts'
delivery settings, numbers, connectors and routes, cached credentials and live sessions.

The store's settings version grows with every admin change, whoever made it: this node's
admin API (which applies it at once), the `smsgw` CLI or another node. A watcher reads it
every `poll_interval` (and when the store notifies a change) and, when it moved, reloads
everything from the store.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.core.connector_settings import ConnectorSettings
from gateway.core.numbers import NumberDirectory
from gateway.core.ports import HttpStore, NumberStore, UpstreamStore
from gateway.core.pricing import Pricing
from gateway.core.routing import Route
from gateway.model import Account

__all__ = ["LiveSettings"]

log = Logger()


class SettingsStore(HttpStore, NumberStore, UpstreamStore, Protocol):
    """What reloading reads."""


class Connectors(Protocol):
    """The live upstream connectors and routes (connectors/registry.py)."""

    async def apply(self, settings: Sequence[ConnectorSettings], routes: Sequence[Route]
                    ) -> None: ...


class Sessions(Protocol):
    """The live SMPP sessions (transport/smpp_server.py)."""

    def bound_accounts(self) -> set[str]: ...

    def refresh_accounts(self, accounts: dict[str, Account | None]) -> None: ...


class AccountSettings(Protocol):
    """In-memory account settings (core/fanout.Subscriptions)."""

    def load(self, accounts: Iterable[Account]) -> None: ...


class LiveSettings:
    """Reloads what admins change, on demand (`apply`) and when the version moves."""

    def __init__(self, *, store: SettingsStore, clock: IReactorTime, poll_interval: float,
                 pricing: Pricing, subscriptions: AccountSettings, directory: NumberDirectory,
                 connectors: Connectors, sessions: Sessions,
                 forget_credentials: Callable[[], None]) -> None:
        self._store = store
        self._pricing = pricing
        self._subscriptions = subscriptions
        self._directory = directory
        self._connectors = connectors
        self._sessions = sessions
        self._forget_credentials = forget_credentials
        self._version = -1
        self._checking = False
        self._loop = LoopingCall(self.check)
        self._loop.clock = clock
        self._poll_interval = poll_interval

    async def load(self) -> None:
        """The first load, at start: everything, and the version it reflects."""
        self._version = await self._store.settings_version()
        await self._reload(strict=True)

    def start(self) -> None:
        self._loop.start(self._poll_interval, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def apply(self) -> Deferred[None]:
        """An admin change made here: apply it now (the admin API answers after this)."""
        return ensureDeferred(self._reload())

    def check(self) -> Deferred[None] | None:
        """Reload if the settings version moved (CLI, other nodes); live sessions then get
        their accounts' new settings (a disabled account's binds are unbound)."""
        if self._checking:
            return None
        self._checking = True
        d = ensureDeferred(self._check())
        d.addBoth(self._checked)
        return d

    def _checked(self, result: object) -> object:
        self._checking = False
        return None

    async def _check(self) -> None:
        try:
            version = await self._store.settings_version()
        except Exception:
            log.failure("reading the settings version failed", event="store.error")
            return
        if version == self._version:
            return
        self._version = version
        await self._reload()
        bound = self._sessions.bound_accounts()
        try:
            fresh = {system_id: await self._store.get_account(system_id) for system_id in bound}
        except Exception:
            log.failure("reading the accounts of live sessions failed")
            return
        self._sessions.refresh_accounts(fresh)

    async def _reload(self, strict: bool = False) -> None:
        """Everything from the store; a failure is logged (the next change retries), or
        raised when `strict` (at start, where it must stop the gateway)."""
        self._forget_credentials()
        try:
            self._pricing.load(await self._store.list_prices())
            self._subscriptions.load(await self._store.list_accounts())
            self._directory.load(await self._store.list_numbers())
        except Exception:
            if strict:
                raise
            log.failure("reloading prices, accounts and numbers failed")
        try:
            await self._connectors.apply(await self._store.list_connectors(),
                                         await self._store.list_routes())
        except Exception:
            if strict:
                raise
            log.failure("reloading upstream connectors and routes failed")
