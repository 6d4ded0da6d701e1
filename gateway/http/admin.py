"""The admin REST API under /admin/v1 (H6), behind its own bearer token: accounts,
balance top-ups, API keys, price tables, live binds; and the sections other parts of the
gateway add (webhooks, numbers, inbound, connectors, routes), each a Klein app mounted at
/admin/v1/<name>/ after the token check."""
from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft7Validator
from klein import Klein
from klein.interfaces import IKleinRequest
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from gateway.core.apikeys import ApiKey, hash_api_key, key_prefix, new_api_key
from gateway.core.binds import BindRegistry
from gateway.core.fanout import with_webhook_secret
from gateway.core.passwords import hash_password
from gateway.core.ports import AccountExists, ApiKeyStore, PriceStore, Store, UnknownAccount
from gateway.core.pricing import ALL_ACCOUNTS, PriceEntry, normalize_prefix
from gateway.http.admin_schemas import ADMIN_REQUESTS, admin_openapi_document
from gateway.http.params import parse_id
from gateway.http.translate import money
from gateway.http.web import (
    BadBody,
    InvalidField,
    error,
    json_response,
    read_json,
    unencodable_field,
)
from gateway.model import Account, DeliverVia

__all__ = ["AccountDefaults", "AdminApi"]

log = Logger()

_NEW_ACCOUNT = Draft7Validator(ADMIN_REQUESTS["NewAccount"])
_CHANGE_ACCOUNT = Draft7Validator(ADMIN_REQUESTS["AccountChange"])
_TOPUP = Draft7Validator(ADMIN_REQUESTS["Topup"])
_NEW_KEY = Draft7Validator(ADMIN_REQUESTS["NewApiKey"])
_PRICE = Draft7Validator(ADMIN_REQUESTS["Price"])


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccountDefaults:
    """Limits a new account gets when the request leaves them out."""

    max_binds: int = 2
    throughput: float = 5.0
    window: int = 10


class AdminStore(Store, PriceStore, ApiKeyStore):
    """What the admin API needs of the store (typing only)."""


class AdminApi:
    """The /admin/v1 resource; `sections` are mounted at /admin/v1/<name>/."""

    app = Klein()

    def __init__(
        self, *, token: str, store: AdminStore, binds: BindRegistry, clock: IReactorTime,
        run_in_thread: Callable[..., Deferred], defaults: AccountDefaults = AccountDefaults(),
        sections: Mapping[str, Klein] | None = None,
        settings_changed: Callable[[], object] = lambda: None,
    ) -> None:
        if not token:
            raise ValueError("the admin API needs a token")
        self._token = token.encode()
        self._store = store
        self._binds = binds
        self._clock = clock
        self._run = run_in_thread
        self._defaults = defaults
        self._sections = {name: app.resource() for name, app in (sections or {}).items()}
        self._openapi = json.dumps(admin_openapi_document(sorted(self._sections))).encode()
        # apply a change on this node at once (the settings watcher would, within 2 s)
        self._changed = settings_changed

    # --- accounts ----------------------------------------------------------------------------
    @app.route("/accounts", methods=["GET"])
    async def list_accounts(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        accounts = await self._store.list_accounts()
        return json_response(request, 200, {"accounts": [_account_json(a) for a in accounts]})

    @app.route("/accounts", methods=["POST"])
    async def create_account(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            body = _body(request, _NEW_ACCOUNT)
            balance = _money(body.get("balance", "0"), "balance", allow_negative=False)
            allow_ips = _networks(body.get("allow_ips", []))
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        defaults = self._defaults
        account = Account(
            system_id=body["system_id"],
            password_hash=await self._run(hash_password, body["password"]),
            balance=balance,
            max_binds=body.get("max_binds", defaults.max_binds),
            throughput=float(body.get("throughput", defaults.throughput)),
            window=body.get("window", defaults.window),
            allow_ips=allow_ips,
            enabled=body.get("enabled", True),
            **_webhook_settings(body),
        )
        account = with_webhook_secret(account)
        try:
            await self._store.add_account(account)
        except AccountExists:
            return error(request, 409, "exists", f"account {account.system_id} exists",
                         field="system_id")
        await maybeDeferred(self._changed)
        return json_response(request, 201, _account_json(
            await self._store.get_account(account.system_id)))

    @app.route("/accounts/<string:system_id>", methods=["GET"])
    async def show_account(self, request: Any, system_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        account = await self._store.get_account(system_id)
        if account is None:
            return _no_account(request, system_id)
        return json_response(request, 200, _account_json(account))

    @app.route("/accounts/<string:system_id>", methods=["PATCH"])
    async def change_account(self, request: Any, system_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            body = _body(request, _CHANGE_ACCOUNT)
            changes: dict[str, Any] = {k: body[k] for k in (
                "max_binds", "window", "enabled") if k in body}
            if "throughput" in body:
                changes["throughput"] = float(body["throughput"])
            if "allow_ips" in body:
                changes["allow_ips"] = _networks(body["allow_ips"])
            changes.update(_webhook_settings(body))
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        account = await self._store.get_account(system_id)
        if account is None:
            return _no_account(request, system_id)
        if "password" in body:
            changes["password_hash"] = await self._run(hash_password, body["password"])
        try:
            await self._store.update_account(
                with_webhook_secret(dataclasses.replace(account, **changes)))
        except UnknownAccount:
            return _no_account(request, system_id)
        await maybeDeferred(self._changed)
        return json_response(request, 200, _account_json(await self._store.get_account(
            system_id)))

    @app.route("/accounts/<string:system_id>/topup", methods=["POST"])
    async def topup(self, request: Any, system_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            amount = _money(_body(request, _TOPUP)["amount"], "amount", allow_negative=True)
            balance = await self._store.topup(system_id, amount)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        except UnknownAccount:
            return _no_account(request, system_id)
        except ValueError as e:  # past the store's range or precision
            return error(request, 400, "invalid_field", str(e), field="amount")
        return json_response(request, 200, {"account": system_id, "balance": str(balance)})

    # --- API keys ----------------------------------------------------------------------------
    @app.route("/accounts/<string:system_id>/api-keys", methods=["POST"])
    async def issue_key(self, request: Any, system_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            label = _body(request, _NEW_KEY, empty_ok=True).get("label", "")
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        key = new_api_key()
        try:
            stored = await self._store.add_api_key(
                system_id, hash_api_key(key), key_prefix(key), label, self._clock.seconds())
        except UnknownAccount:
            return _no_account(request, system_id)
        return json_response(request, 201, {**_key_json(stored), "key": key})

    @app.route("/accounts/<string:system_id>/api-keys", methods=["GET"])
    async def list_keys(self, request: Any, system_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            keys = await self._store.list_api_keys(system_id)
        except UnknownAccount:
            return _no_account(request, system_id)
        return json_response(request, 200, {"api_keys": [_key_json(k) for k in keys]})

    @app.route("/accounts/<string:system_id>/api-keys/<string:key_id>", methods=["DELETE"])
    async def revoke_key(self, request: Any, system_id: str, key_id: str) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            number = parse_id(key_id, "api key id", field="key_id")
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        if await self._store.get_account(system_id) is None:
            return _no_account(request, system_id)
        if not await self._store.revoke_api_key(system_id, number, self._clock.seconds()):
            return error(request, 404, "not_found",
                         f"no active api key {number} for account {system_id}")
        await maybeDeferred(self._changed)
        return json_response(request, 200, {"revoked": number})

    # --- price tables ------------------------------------------------------------------------
    @app.route("/prices", methods=["GET"])
    async def list_prices(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        account = (request.args.get(b"account") or [None])[-1]
        entries = await self._store.list_prices(
            account.decode("utf-8", "replace") if account is not None else None)
        return json_response(request, 200, {"prices": [_price_json(e) for e in entries]})

    @app.route("/prices", methods=["PUT"])
    async def set_price(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            body = _body(request, _PRICE)
            prefix = _prefix(body.get("prefix", ""))
            price = _money(body["price"], "price", allow_negative=False)
            await self._store.set_price(body["account"], prefix, price)
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        except BadBody as e:
            return error(request, e.status, "invalid_body", e.message)
        except UnknownAccount:
            return _no_account(request, body["account"])
        except ValueError as e:
            return error(request, 400, "invalid_field", str(e), field="price")
        await maybeDeferred(self._changed)
        return json_response(request, 200, _price_json(
            PriceEntry(account=body["account"], prefix=prefix, price=price)))

    @app.route("/prices", methods=["DELETE"])
    async def delete_price(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        account = (request.args.get(b"account") or [b""])[-1].decode("utf-8", "replace")
        try:
            prefix = _prefix((request.args.get(b"prefix") or [b""])[-1].decode(
                "utf-8", "replace"))
        except InvalidField as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        if not await self._store.delete_price(account, prefix):
            return error(request, 404, "not_found", f"no price for {account!r} prefix {prefix!r}")
        await maybeDeferred(self._changed)
        return json_response(request, 200, {"deleted": {"account": account, "prefix": prefix}})

    # --- live binds --------------------------------------------------------------------------
    @app.route("/binds", methods=["GET"])
    def list_binds(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        binds = []
        for channel in self._binds:
            transport = getattr(channel, "transport", None)
            peer = transport.getPeer() if transport is not None else None
            binds.append({"account": channel.account, "kind": channel.kind.value,
                          "in_flight": channel.load(),
                          "peer": f"{peer.host}:{peer.port}" if peer is not None else ""})
        return json_response(request, 200, {"binds": binds})

    # --- sections other parts of the gateway add ---------------------------------------------
    @app.route("/<string:section>/", branch=True)
    def section(self, request: Any, section: str) -> Any:
        if (denied := self._denied(request)) is not None:
            return denied
        resource = self._sections.get(section)
        if resource is None:
            return _unrouted(request, section)
        return resource

    @app.route("/openapi.json", methods=["GET"])
    def openapi(self, request: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"content-length", b"%d" % len(self._openapi))
        return self._openapi

    # --- errors ------------------------------------------------------------------------------
    @app.handle_errors(NotFound, RequestRedirect)  # a redirect: a branch without its '/'
    def not_found(self, request: Any, failure: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        return error(request, 404, "not_found", "no such resource under /admin/v1")

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request: Any, failure: Any) -> bytes:
        if (denied := self._denied(request)) is not None:
            return denied
        return error(request, 405, "method_not_allowed", "method not allowed here")

    @app.handle_errors(Exception)
    def internal(self, request: Any, failure: Any) -> bytes:
        log.failure("admin API request {uri} failed", failure, uri=request.uri)
        return error(request, 500, "internal_error", "the gateway failed to answer")

    def _denied(self, request: Any) -> bytes | None:
        """None when the request carries the admin token; else the 401 to return."""
        header = request.getHeader(b"authorization") or b""
        if isinstance(header, str):
            header = header.encode("latin-1", "replace")
        scheme, _, token = header.strip().partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._token):
            return None
        request.setHeader(b"www-authenticate", b'Bearer realm="smsgw-admin"')
        return error(request, 401, "unauthorized", "the admin API needs its bearer token")


# The admin API's own routes, without the branch that hands /<section>/... on: a path no
# section takes is matched against these to answer 405 (a known path, another method) or a
# 404 that names the path, instead of blaming a section that was never meant.
_OWN_ROUTES = Map([Rule(rule.rule, methods=rule.methods, endpoint=rule.endpoint)
                   for rule in AdminApi.app.url_map.iter_rules()
                   if not rule.endpoint.startswith("section")])


def _unrouted(request: Any, section: str) -> bytes:
    path = IKleinRequest(request).mapper.path_info
    method = request.method.decode("latin-1")
    try:
        _OWN_ROUTES.bind("admin").match(path, method=method)
    except MethodNotAllowed as e:
        request.setHeader(b"allow", ", ".join(sorted(e.valid_methods or [])).encode())
        return error(request, 405, "method_not_allowed",
                     f"{method} is not allowed on /admin/v1{path}")
    except (NotFound, RequestRedirect):
        pass
    if any(rule.rule.startswith(f"/{section}") for rule in _OWN_ROUTES.iter_rules()):
        return error(request, 404, "not_found", f"no such resource: /admin/v1{path}")
    return error(request, 404, "not_found", f"no admin section {section!r}")


def _body(request: Any, validator: Draft7Validator, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok:
        request.content.seek(0)
        if not request.content.read().strip():
            return {}
    body = read_json(request)
    bad = unencodable_field(body)
    if bad is not None:
        raise InvalidField(bad, f"{bad} is not valid Unicode (a lone surrogate)")
    problem = next(iter(validator.iter_errors(body)), None)
    if problem is not None:
        path = list(problem.absolute_path)
        field = str(path[0]) if path else "body"
        if problem.validator == "required" and isinstance(body, dict):
            field = next((n for n in problem.validator_value if n not in body), field)
        raise InvalidField(field, problem.message[:200])
    return body


def _money(value: Any, field: str, *, allow_negative: bool) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidField(field, f"{field} must be a decimal number") from None
    if not amount.is_finite() or (amount < 0 and not allow_negative):
        sign = "" if allow_negative else ", positive"
        raise InvalidField(field, f"{field} must be a finite{sign} number")
    if amount.as_tuple().exponent < -6 or abs(amount) >= 10**12:
        raise InvalidField(field, f"{field} must have at most 6 decimals and be below 10^12")
    return amount


def _networks(values: list[str]) -> tuple[str, ...]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise InvalidField(f"allow_ips[{i}]", f"{value!r} is not an IP address or network") \
                from None
    return tuple(out)


def _prefix(value: str) -> str:
    try:
        return normalize_prefix(value)
    except ValueError as e:
        raise InvalidField("prefix", str(e)) from None


def _webhook_settings(body: dict[str, Any]) -> dict[str, Any]:
    """The Account fields a create/change request sets for webhooks."""
    settings: dict[str, Any] = {k: body[k] for k in ("webhook_url", "webhook_secret")
                                if k in body}
    if "deliver_via" in body:
        settings["deliver_via"] = DeliverVia(body["deliver_via"])
    return settings


def _no_account(request: Any, system_id: str) -> bytes:
    return error(request, 404, "not_found", f"no account {system_id!r}")


def _account_json(account: Account) -> dict[str, Any]:
    return {"system_id": account.system_id, "balance": str(account.balance),
            "max_binds": account.max_binds, "throughput": account.throughput,
            "window": account.window, "allow_ips": list(account.allow_ips),
            "enabled": account.enabled, "webhook_url": account.webhook_url,
            "webhook_secret": account.webhook_secret,
            "deliver_via": account.deliver_via.value}


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "account": key.account, "prefix": key.prefix, "label": key.label,
            "created_at": key.created_at, "revoked_at": key.revoked_at, "active": key.active}


def _price_json(entry: PriceEntry) -> dict[str, Any]:
    return {"account": entry.account, "prefix": entry.prefix, "price": money(entry.price),
            "applies_to": "every account" if entry.account == ALL_ACCOUNTS else entry.account}
