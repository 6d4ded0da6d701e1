"""The web console under /console/: login with the admin token, then server-rendered pages
(overview, accounts, messages, webhooks, routes and connectors) and the forms that change
things. Every change is a POST checked for the session's CSRF token; answers are HTML pages
(errors too), except the overview's live data, which its script reads as JSON.
"""
from __future__ import annotations

import dataclasses
import hmac
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from klein import Klein
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from gateway.core.apikeys import hash_api_key, key_prefix, new_api_key
from gateway.core.fanout import with_webhook_secret
from gateway.core.operations import is_message_id
from gateway.core.passwords import hash_password
from gateway.core.ports import AccountExists, UnknownAccount
from gateway.http.console import pages
from gateway.http.console.html import Html, esc, layout
from gateway.http.console.overview import overview_data
from gateway.http.console.sessions import LoginThrottle, Session, Sessions
from gateway.http.params import MAX_ID
from gateway.model import Account

__all__ = ["Console"]

log = Logger()

COOKIE = b"smsgw_console"
STATIC = {"console.css": "text/css", "console.js": "text/javascript",
          "uplot.iife.min.js": "text/javascript", "uplot.min.css": "text/css"}
_SECURITY_HEADERS = {
    b"content-security-policy": b"default-src 'self'; script-src 'self'; style-src 'self' "
                                b"'unsafe-inline'; img-src 'self' data:; frame-ancestors "
                                b"'none'; form-action 'self'; base-uri 'none'",
    b"x-frame-options": b"DENY", b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer", b"cache-control": b"no-store",
}
SEARCH_LIMIT = 100
WEBHOOK_PAGE = 200


class CsrfFailed(Exception):
    pass


class Console:
    app = Klein()

    def __init__(self, *, token: str, store: Any, binds: Any, registry: Any, simulator: Any,
                 sender: Any, ops: Any, clock: Any, run_in_thread: Callable[..., Any],
                 settings_changed: Callable[[], object], smpp_port: Callable[[], int],
                 defaults: Any) -> None:
        self._token = token.encode()
        self._store = store
        self._binds = binds
        self._registry = registry
        self._simulator = simulator
        self._sender = sender
        self._ops = ops
        self._clock = clock
        self._run = run_in_thread
        self._changed = settings_changed
        self._smpp_port = smpp_port
        self._defaults = defaults  # http.admin.AccountDefaults for new accounts
        self._sessions = Sessions()
        self._throttle = LoginThrottle()

    # --- login -----------------------------------------------------------------------------
    @app.route("/login", methods=["GET"])
    def login_form(self, request: Any) -> bytes:
        if self._session(request) is not None:
            return self._redirect(request, "/console/")
        return self._html(request, "Sign in", "", pages.login_page(False), None)

    @app.route("/login", methods=["POST"])
    async def login(self, request: Any) -> bytes:
        peer = getattr(request.getClientAddress(), "host", "") or ""
        delay = self._throttle.delay(peer, self._clock.seconds())
        if delay:
            await deferLater(self._clock, delay, lambda: None)
        given = self._form(request).get("token", "").strip().encode()
        if not given or not hmac.compare_digest(given, self._token):
            self._throttle.failed(peer, self._clock.seconds())
            log.info("console login refused from {peer}", peer=peer, event="console.login_refused")
            request.setResponseCode(401)
            return self._html(request, "Sign in", "", pages.login_page(True), None)
        self._throttle.succeeded(peer)
        session = self._sessions.start(self._clock.seconds())
        request.addCookie(COOKIE, session.id.encode(), path=b"/console/", httpOnly=True,
                          sameSite="strict", secure=request.isSecure())
        log.info("console login from {peer}", peer=peer, event="console.login")
        return self._redirect(request, "/console/")

    @app.route("/logout", methods=["POST"])
    def logout(self, request: Any) -> bytes:
        session = self._changing(request)
        self._sessions.end(session.id)
        request.addCookie(COOKIE, b"", path=b"/console/", httpOnly=True, sameSite="strict",
                          max_age=b"0", secure=request.isSecure())
        return self._redirect(request, "/console/login")

    # --- overview --------------------------------------------------------------------------
    @app.route("/", methods=["GET"])
    def overview(self, request: Any) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        body = pages.overview_page(self._overview(), self._ops.metrics is not None)
        return self._html(request, "Overview", "overview", body, session,
                          scripts=("/console/static/uplot.iife.min.js",
                                   "/console/static/console.js"),
                          styles=("/console/static/uplot.min.css",))

    @app.route("/data/overview", methods=["GET"])
    def overview_json(self, request: Any) -> bytes:
        if self._session(request) is None:
            return self._json(request, 401, {"error": "signed out"})
        return self._json(request, 200, self._overview())

    def _overview(self) -> dict[str, Any]:
        return overview_data(ops=self._ops, binds=self._binds, registry=self._registry,
                             simulator=self._simulator, smpp_port=self._smpp_port())

    # --- accounts --------------------------------------------------------------------------
    @app.route("/accounts", methods=["GET"])
    async def accounts(self, request: Any) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        accounts = await self._store.list_accounts()
        live = {account: self._binds.count(account) for account in self._binds.accounts()}
        return self._html(request, "Accounts", "accounts",
                          pages.accounts_page(accounts, live, session.csrf), session)

    @app.route("/accounts", methods=["POST"])
    async def create_account(self, request: Any) -> bytes:
        session = self._changing(request)
        form = self._form(request)
        system_id, password = form.get("system_id", "").strip(), form.get("password", "")
        try:
            _check_credentials(system_id, password)
            balance = _amount(form.get("balance") or "0", negative=False)
        except ValueError as e:
            return self._back(request, session, "/console/accounts", "error", str(e))
        d = self._defaults
        account = Account(system_id=system_id,
                          password_hash=await self._run(hash_password, password),
                          balance=balance, max_binds=d.max_binds, throughput=d.throughput,
                          window=d.window)
        try:
            await self._store.add_account(with_webhook_secret(account))
        except AccountExists:
            return self._back(request, session, "/console/accounts", "error",
                              f"An account {system_id} exists already.")
        await maybeDeferred(self._changed)
        return self._back(request, session, f"/console/accounts/{quote(system_id)}", "ok",
                          f"Account {system_id} created with balance {balance}.")

    @app.route("/accounts/<string:system_id>", methods=["GET"])
    async def account(self, request: Any, system_id: str) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        account = await self._store.get_account(system_id)
        if account is None:
            return self._missing(request, session, f"There is no account {system_id!r}.")
        keys = await self._store.list_api_keys(system_id)
        return self._html(request, f"Account {system_id}", "accounts", pages.account_page(
            account, keys, self._binds.count(system_id), session.csrf), session)

    @app.route("/accounts/<string:system_id>/topup", methods=["POST"])
    async def topup(self, request: Any, system_id: str) -> bytes:
        session = self._changing(request)
        back = f"/console/accounts/{quote(system_id)}"
        try:
            amount = _amount(self._form(request).get("amount", ""), negative=True)
            balance = await self._store.topup(system_id, amount)
        except UnknownAccount:
            return self._back(request, session, "/console/accounts", "error",
                              f"There is no account {system_id!r}.")
        except ValueError as e:
            return self._back(request, session, back, "error", str(e))
        log.info("console: {account} topped up by {amount}", account=system_id,
                 amount=str(amount), event="console.topup")
        return self._back(request, session, back, "ok",
                          f"Topped up by {amount}: the balance is {balance}.")

    @app.route("/accounts/<string:system_id>/limits", methods=["POST"])
    async def limits(self, request: Any, system_id: str) -> bytes:
        session = self._changing(request)
        back = f"/console/accounts/{quote(system_id)}"
        form = self._form(request)
        account = await self._store.get_account(system_id)
        if account is None:
            return self._back(request, session, "/console/accounts", "error",
                              f"There is no account {system_id!r}.")
        try:
            changes = {"max_binds": _whole(form.get("max_binds", ""), "Max binds", 1, 1000),
                       "window": _whole(form.get("window", ""), "Window", 1, 10_000),
                       "throughput": _rate(form.get("throughput", "")),
                       "enabled": form.get("enabled") == "1"}
        except ValueError as e:
            return self._back(request, session, back, "error", str(e))
        await self._store.update_account(dataclasses.replace(account, **changes))
        await maybeDeferred(self._changed)
        return self._back(request, session, back, "ok", "Limits saved.")

    @app.route("/accounts/<string:system_id>/keys", methods=["POST"])
    async def issue_key(self, request: Any, system_id: str) -> bytes:
        session = self._changing(request)
        back = f"/console/accounts/{quote(system_id)}"
        label = self._form(request).get("label", "").strip()[:100]
        key = new_api_key()
        try:
            stored = await self._store.add_api_key(system_id, hash_api_key(key),
                                                   key_prefix(key), label,
                                                   self._clock.seconds())
        except UnknownAccount:
            return self._back(request, session, "/console/accounts", "error",
                              f"There is no account {system_id!r}.")
        return self._back(request, session, back, "ok",
                          f"API key {stored.id} issued. Copy it now, it is not shown again: "
                          f"{key}")

    @app.route("/accounts/<string:system_id>/keys/<int:key_id>/revoke", methods=["POST"])
    async def revoke_key(self, request: Any, system_id: str, key_id: int) -> bytes:
        session = self._changing(request)
        back = f"/console/accounts/{quote(system_id)}"
        if key_id > MAX_ID or not await self._store.revoke_api_key(
                system_id, key_id, self._clock.seconds()):
            return self._back(request, session, back, "error", f"No active key {key_id}.")
        await maybeDeferred(self._changed)
        return self._back(request, session, back, "ok", f"API key {key_id} revoked.")

    # --- messages --------------------------------------------------------------------------
    @app.route("/messages", methods=["GET"])
    async def messages(self, request: Any) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        query = _arg(request, b"q").strip()[:40]
        period = _arg(request, b"period") or "24h"
        seconds = dict((k, s) for k, _, s in pages.PERIODS).get(period)
        if seconds is None:
            period, seconds = "24h", 86400
        found = None
        if query:
            if is_message_id(query) and await self._store.get_message(query) is not None:
                return self._redirect(request, f"/console/messages/{query}")
            number = query.removeprefix("+").replace(" ", "")
            found = await self._store.find_messages(
                number, self._clock.seconds() - seconds, SEARCH_LIMIT)
            if not found and number != query:
                found = await self._store.find_messages(
                    query, self._clock.seconds() - seconds, SEARCH_LIMIT)
        return self._html(request, "Messages", "messages",
                          pages.messages_page(query, period, found), session)

    @app.route("/messages/<string:message_id>", methods=["GET"])
    async def message(self, request: Any, message_id: str) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        message = await self._store.get_message(message_id) if is_message_id(
            message_id) else None
        if message is None:
            return self._missing(request, session, f"There is no message {message_id!r}.")
        records = await self._store.upstream_records([message_id])
        return self._html(request, f"Message {message_id}", "messages",
                          pages.message_page(message, records.get(message_id)), session)

    # --- webhooks --------------------------------------------------------------------------
    @app.route("/webhooks", methods=["GET"])
    async def webhooks(self, request: Any) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        state = "pending" if _arg(request, b"state") == "pending" else "dead"
        items = await self._store.list_webhooks(dead=state == "dead", limit=WEBHOOK_PAGE)
        counts = await self._store.webhook_counts()
        stats = self._sender.stats() if self._sender is not None else None
        return self._html(request, "Webhooks", "webhooks", pages.webhooks_page(
            items, state, counts, stats, session.csrf), session)

    @app.route("/webhooks/replay", methods=["POST"])
    async def replay(self, request: Any) -> bytes:
        session = self._changing(request)
        try:
            form = parse_qs(self._body(request), max_num_fields=WEBHOOK_PAGE + 10)
        except ValueError:  # more fields than a page of dead letters has
            form = {}
        ids = [int(v) for v in form.get("id", []) if v.isascii() and v.isdigit() and len(v) < 19]
        every = form.get("all") == ["1"]
        if not ids and not every:
            return self._back(request, session, "/console/webhooks", "error",
                              "Select the dead letters to replay first.")
        count = await self._store.replay_webhooks(ids=None if every else ids,
                                                  now=self._clock.seconds())
        if self._sender is not None and count:
            self._sender.clear_backoff()  # replayed because the receiver is back
        log.info("console: {n} dead letters replayed", n=count, event="console.replay")
        return self._back(request, session, "/console/webhooks?state=pending", "ok",
                          f"{count} dead letter{'s' if count != 1 else ''} replayed: "
                          "they are sent again now.")

    # --- routes and connectors -------------------------------------------------------------
    @app.route("/routes", methods=["GET"])
    async def routes(self, request: Any) -> bytes:
        session = self._viewing(request)
        if not isinstance(session, Session):
            return session
        body = pages.routes_page(await self._store.list_connectors(), self._registry.health(),
                                 await self._store.list_routes(), self._simulator.pending())
        return self._html(request, "Routes & connectors", "routes", body, session)

    # --- static files ----------------------------------------------------------------------
    @app.route("/static/<string:name>", methods=["GET"])
    def static(self, request: Any, name: str) -> bytes:
        kind = STATIC.get(name)
        if kind is None:
            request.setResponseCode(404)
            return b"not found"
        data = resources.files("gateway.http.console").joinpath("static", name).read_bytes()
        request.setHeader(b"content-type", f"{kind}; charset=utf-8".encode())
        request.setHeader(b"cache-control", b"max-age=3600")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return data

    # --- errors ----------------------------------------------------------------------------
    @app.handle_errors(CsrfFailed)
    def csrf_failed(self, request: Any, failure: Any) -> bytes:
        request.setResponseCode(403)
        session = self._session(request)
        return self._html(request, "Not done", "", Html(
            f'<p class="notice notice-error" role="alert">{esc(failure.getErrorMessage())} '
            'Nothing was changed. Go back, reload the page and try again.</p>'), session)

    @app.handle_errors(NotFound, RequestRedirect, MethodNotAllowed)
    def not_found(self, request: Any, failure: Any) -> bytes:
        return self._missing(request, self._session(request), "There is no such page.")

    @app.handle_errors(Exception)
    def internal(self, request: Any, failure: Any) -> bytes:
        log.failure("console request {uri} failed", failure, uri=request.uri,
                    event="console.error")
        request.setResponseCode(500)
        session = self._session(request)
        return self._html(request, "Something went wrong", "", Html(
            '<p class="notice notice-error" role="alert">The gateway could not answer this '
            f'page ({failure.type.__name__}). The details are in the gateway log; nothing you '
            'sent was changed unless the page said so.</p>'), session)

    # --- helpers ---------------------------------------------------------------------------
    def _session(self, request: Any) -> Session | None:
        raw = request.getCookie(COOKIE)
        return self._sessions.get(raw.decode("latin-1") if raw else None,
                                  self._clock.seconds())

    def _viewing(self, request: Any) -> Session | bytes:
        """The session of a GET, or the redirect to the login page."""
        session = self._session(request)
        return session if session is not None else self._redirect(request, "/console/login")

    def _changing(self, request: Any) -> Session:
        """The session of a POST whose form carries its CSRF token; CsrfFailed otherwise."""
        session = self._session(request)
        if session is None:
            raise CsrfFailed("You are signed out (the session ended).")
        if not session.csrf_ok(self._form(request).get("csrf", "")):
            raise CsrfFailed("The form did not come from this console session.")
        return session

    def _body(self, request: Any) -> str:
        request.content.seek(0)
        return request.content.read().decode("utf-8", "replace")

    def _form(self, request: Any) -> dict[str, str]:
        """The urlencoded form (the site parses no forms itself); the last of repeats."""
        try:
            fields = parse_qs(self._body(request), max_num_fields=WEBHOOK_PAGE + 10)
        except ValueError:
            return {}
        return {k: v[-1] for k, v in fields.items()}

    def _html(self, request: Any, title: str, active: str, body: Any,
              session: Session | None, **assets: Any) -> bytes:
        for name, value in _SECURITY_HEADERS.items():
            request.setHeader(name, value)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        notice = session.take_notice() if session is not None else None
        return layout(title, active, body, csrf=session.csrf if session else None,
                      notice=notice, **assets)

    def _json(self, request: Any, status: int, body: Any) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(body).encode()

    def _redirect(self, request: Any, to: str) -> bytes:
        request.setResponseCode(303)
        request.setHeader(b"location", to.encode())
        request.setHeader(b"cache-control", b"no-store")
        return b""

    def _back(self, request: Any, session: Session, to: str, kind: str, text: str) -> bytes:
        session.notice = (kind, text)
        return self._redirect(request, to)

    def _missing(self, request: Any, session: Session | None, text: str) -> bytes:
        request.setResponseCode(404)
        return self._html(request, "Not found", "", Html(
            f'<p class="notice notice-error" role="alert">{esc(text)} '
            '<a href="/console/">Back to the overview</a>.</p>'), session)


def _arg(request: Any, name: bytes) -> str:
    return (request.args.get(name) or [b""])[-1].decode("utf-8", "replace")


def _check_credentials(system_id: str, password: str) -> None:
    if not 1 <= len(system_id) <= 15 or not all(0x21 <= ord(c) <= 0x7E for c in system_id):
        raise ValueError("The system id is 1-15 printable ASCII characters, no spaces.")
    if not 1 <= len(password) <= 8 or not all(0x20 <= ord(c) <= 0x7E for c in password):
        raise ValueError("The password is 1-8 printable ASCII characters (an SMPP limit).")


def _amount(text: str, *, negative: bool) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not an amount: write it like 25.50.") from None
    if not amount.is_finite() or (amount < 0 and not negative):
        raise ValueError("The amount must be a positive number.")
    if amount.as_tuple().exponent < -6 or abs(amount) >= 10**12:
        raise ValueError("The amount has at most 6 decimals and is below 10^12.")
    if amount == 0 and negative:  # a top-up of 0 changes nothing (a new balance may be 0)
        raise ValueError("An amount of 0 changes nothing.")
    return amount


def _whole(text: str, name: str, low: int, high: int) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} is a whole number from {low} to {high}.")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Throughput is a number of submits per second (0 = unlimited).") \
            from None
    if not 0 <= value <= 1_000_000:
        raise ValueError("Throughput is between 0 (unlimited) and 1000000.")
    return value
