"""The HTTP API unit tests' environment: the real router and the memory store behind the Klein
resources, driven through treq's StubTreq (no sockets), time from a task.Clock: every answer
is there as soon as the stub is flushed, no real waits."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from klein import Klein
from treq.testing import StubTreq
from twisted.internet.defer import ensureDeferred, maybeDeferred
from twisted.internet.task import Clock

from gateway.config import load_config
from gateway.core.accounts import PasswordLogins
from gateway.core.admission import AccountAdmissions
from gateway.core.credentials import CredentialChecker
from gateway.core.login_limiter import AttemptPolicy, LoginLimiter
from gateway.core.passwords import hash_password, verify_password
from gateway.core.verifier import InlineVerifier
from gateway.http.admin import AdminApi
from gateway.http.api import PublicApi
from gateway.http.auth import HttpAuthenticator
from gateway.http.site import ApiFirst, Root
from gateway.model import Account
from gateway.service import wire
from gateway.storage.memory import MemoryStore

NOW = 1_800_000_000.0
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
PASSWORD = "secret1"
_HASH = hash_password(PASSWORD)  # once: scrypt is slow


def run_now(fn, *args):
    return maybeDeferred(fn, *args)


class Env:
    def __init__(self, tmp_path, sections: dict[str, Klein] | None = None,
                 free_failures: int = 1000, policy: AttemptPolicy | None = None,
                 sections_for: Callable[[Env], dict[str, Klein]] | None = None) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.store = MemoryStore()
        config = load_config(None, {"data_dir": str(tmp_path), "price_per_part": "0.05"})
        self.parts = wire(config, self.store, None, self.clock, InlineVerifier())
        ensureDeferred(self.parts.membership.join())  # the memory store answers at once
        self.parts.router.start()
        self.router = self.parts.router
        self.pricing = self.parts.pricing
        self.scrypt_calls = 0

        def counting(password, encoded):
            self.scrypt_calls += 1
            return run_now(verify_password, password, encoded)

        self.limiter = LoginLimiter(self.clock,
                                    policy or AttemptPolicy(free_attempts=free_failures))
        logins = PasswordLogins(self.limiter, CredentialChecker(counting, self.clock))
        self.auth = HttpAuthenticator(self.store, self.store, self.clock, logins)
        self.api = PublicApi(router=self.router, store=self.store, clock=self.clock,
                             authenticator=self.auth,
                             admissions=AccountAdmissions(self.clock, 1000))
        if sections_for is not None:
            sections = sections_for(self)
        self.admin = AdminApi(token=ADMIN_TOKEN, store=self.store, binds=self.parts.binds,
                              clock=self.clock, run_in_thread=run_now, sections=sections,
                              settings_changed=self.settings_changed)
        self.stub = StubTreq(ApiFirst(Root(self.api, self.admin)))  # as make_site serves it

    def settings_changed(self):
        """What service.py does when the settings version moves."""
        self.auth.forget()
        d = self.store.list_prices()
        d.addCallback(self.pricing.load)
        d.addCallback(lambda _: self.store.list_accounts())
        d.addCallback(self.parts.subscriptions.load)
        d.addCallback(lambda _: self.store.list_numbers())
        d.addCallback(self.parts.directory.load)
        return d

    async def add_account(self, system_id: str = "acme", balance: str = "10",
                          throughput: float = 0) -> None:
        await self.store.add_account(Account(
            system_id=system_id, password_hash=_HASH, balance=Decimal(balance),
            throughput=throughput))

    async def call(self, method: str, path: str, body: Any = None, **kw: Any
                   ) -> tuple[int, Any, Any]:
        """(status, parsed JSON, response headers) of one request."""
        return await self.answer(self.request(method, path, body, **kw))

    def request(self, method: str, path: str, body: Any = None, *, auth: Any = "acme",
                headers: dict[str, str] | None = None, raw: bytes | None = None,
                content_type: str = "application/json"):
        """Start a request; its response Deferred (see `answer`)."""
        all_headers = {"content-type": content_type}
        if isinstance(auth, str) and auth == "admin":
            all_headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
        elif isinstance(auth, str):
            creds = base64.b64encode(f"{auth}:{PASSWORD}".encode()).decode()
            all_headers["authorization"] = f"Basic {creds}"
        elif isinstance(auth, tuple):
            all_headers["authorization"] = auth[0]
        all_headers.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        return self.stub.request(method, "http://gw" + path, data=data,
                                 headers={k: [v] for k, v in all_headers.items()})

    async def answer(self, d) -> tuple[int, Any, Any]:
        """(status, parsed JSON, response headers) of a request `request` started."""
        response = await self._settle(d)
        content = await self._settle(response.content())
        try:
            parsed = json.loads(content)
        except ValueError:
            raise AssertionError(f"not JSON ({response.code}): {content[:200]!r}") from None
        return response.code, parsed, response.headers

    async def _settle(self, d):
        """Pump the stub until `d` fires (the memory store answers at once)."""
        done: list = []
        d.addBoth(done.append)
        self.stub.flush()
        assert done, "no answer from the API"
        result = done[0]
        if hasattr(result, "raiseException"):
            result.raiseException()
        return result

    async def settle_router(self) -> None:
        await self.router.drain()
