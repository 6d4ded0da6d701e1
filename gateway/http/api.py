"""The public REST API (H1-H5) under /api/v1: send, message status, balance.

Every message goes through `Router.submit_batch` (the single submit path); this module
only authenticates, validates JSON, translates, and renders answers. Every answer is JSON,
errors included: a bad request gets 4xx naming the field, never a 500.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from klein import Klein
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from gateway.core.admission import AccountAdmissions
from gateway.core.idempotency import MAX_KEY_LENGTH, Once, fingerprint
from gateway.core.operations import is_message_id
from gateway.core.ports import Store, StoreUnavailable
from gateway.core.router import BatchRejected, Router
from gateway.core.validation import SubmitRejected
from gateway.http import translate
from gateway.http.auth import AuthFailed, HttpAuthenticator
from gateway.http.schemas import InvalidRequest, openapi_document, validate_send
from gateway.http.web import BadBody, error, json_response, read_json
from gateway.model import Account, Message, SubmitBatch
from gateway.smpp.constants import CommandStatus

__all__ = ["PublicApi"]

log = Logger()

_CHALLENGE = b'Basic realm="smsgw", Bearer realm="smsgw"'
_AUTH_ERROR_CODE = {401: "unauthorized", 403: "forbidden", 429: "too_many_attempts",
                    503: "busy"}


class PublicApi:
    """The /api/v1 resource. `app.resource()` is what the site serves under /api/v1."""

    app = Klein()

    def __init__(
        self, *, router: Router, store: Store, authenticator: HttpAuthenticator,
        clock: IReactorTime, admissions: AccountAdmissions, metrics: Any = None,
    ) -> None:
        self._router = router
        self._metrics = metrics  # ops/metrics.GatewayMetrics, or None when metrics are off
        self._store = store
        self._auth = authenticator
        self._clock = clock
        self._admissions = admissions
        self._openapi = json.dumps(openapi_document()).encode()

    # --- routes ------------------------------------------------------------------------------
    @app.route("/openapi.json", methods=["GET"])
    def openapi(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"content-length", b"%d" % len(self._openapi))
        return self._openapi

    @app.route("/messages", methods=["POST"])
    async def send(self, request: Any) -> bytes:
        account = await self._account(request)
        if not isinstance(account, Account):
            return account
        try:
            body = validate_send(read_json(request))
            key = _idempotency_key(request)
            dry_run = bool(body.get("dry_run", False)) or _query_flag(request, b"dry_run")
            batch = translate.submit_batch(body, self._clock.seconds())
        except BadBody as e:
            return error(request, e.status, "invalid_body" if e.status == 400
                         else "unsupported_media_type", e.message)
        except (InvalidRequest, translate.SendError) as e:
            return error(request, 400, "invalid_field", e.message, field=e.field)
        recipients = [d.addr for d in batch.destinations]
        if dry_run:
            return await self._dry_run(request, account, batch, recipients)
        once = None
        if key is not None:
            once = Once(key=key, fingerprint=fingerprint(body),
                        record=lambda messages: json.dumps(_sent(messages, recipients)))
        admission = self._admissions.of(account)
        status = admission.admit(len(batch))
        if status:
            self._count_refused(status)
        if status == CommandStatus.ESME_RTHROTTLED:
            wait = max(1, math.ceil(admission.retry_after()))
            request.setHeader(b"retry-after", b"%d" % wait)
            return error(request, 429, "ESME_RTHROTTLED",
                         f"above the account's throughput of {account.throughput:g} messages "
                         f"per second; retry after {wait} s", command_status=f"0x{int(status):X}")
        if status:
            return error(request, 503, "ESME_RMSGQFUL", "too many sends of this account are "
                         "waiting to be stored; retry shortly", command_status=f"0x{int(status):X}")
        try:
            accepted = await admission.track(self._router.submit_batch(account, batch, once))
        except BatchRejected as rejected:
            self._count_refused(rejected.status)
            return _rejected(request, rejected, _indexed(rejected, len(batch)))
        except SubmitRejected as rejected:
            self._count_refused(rejected.status)
            return _rejected(request, rejected, None)
        except StoreUnavailable:
            self._count_refused(CommandStatus.ESME_RSYSERR)
            # nothing was stored: the client may send it again (the same Idempotency-Key
            # too); the failure itself was logged by the router
            request.setHeader(b"retry-after", b"5")
            return error(request, 503, "store_unavailable",
                         "the gateway cannot store messages right now; nothing was "
                         "accepted or charged, retry later",
                         command_status=translate.command_status_hex(
                             CommandStatus.ESME_RSYSERR))
        if self._metrics is not None and accepted.messages:
            self._metrics.http_submitted(account.system_id, len(accepted.messages))
        if accepted.earlier is not None:
            if accepted.earlier.fingerprint != once.fingerprint:
                return error(request, 422, "idempotency_key_reused",
                             "this Idempotency-Key was used for a different request")
            request.setHeader(b"idempotent-replayed", b"true")
            result = json.loads(accepted.earlier.result)
        else:
            result = _sent(accepted.messages, recipients)
        return json_response(request, 202, {
            **result, "balance": translate.money(accepted.balance), "dry_run": False})

    @app.route("/messages/<string:message_id>", methods=["GET"])
    async def status(self, request: Any, message_id: str) -> bytes:
        account = await self._account(request)
        if not isinstance(account, Account):
            return account
        message = None
        if is_message_id(message_id):
            message = await self._store.get_message(message_id)
        if message is None or message.account != account.system_id:
            return error(request, 404, "not_found", f"no message {message_id} for this account")
        return json_response(request, 200, translate.status_json(message))

    @app.route("/balance", methods=["GET"])
    async def balance(self, request: Any) -> bytes:
        account = await self._account(request)
        if not isinstance(account, Account):
            return account
        fresh = await self._store.get_account(account.system_id)
        balance = fresh.balance if fresh is not None else account.balance
        return json_response(request, 200, {"account": account.system_id,
                                            "balance": translate.money(balance)})

    # --- errors: JSON for everything ---------------------------------------------------------
    @app.handle_errors(NotFound, RequestRedirect)
    def not_found(self, request: Any, failure: Any) -> bytes:
        return error(request, 404, "not_found", "no such resource under /api/v1")

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request: Any, failure: Any) -> bytes:
        allowed = getattr(failure.value, "valid_methods", None) or []
        if allowed:
            request.setHeader(b"allow", ", ".join(allowed).encode())
        return error(request, 405, "method_not_allowed", "method not allowed here")

    @app.handle_errors(Exception)
    def internal(self, request: Any, failure: Any) -> bytes:
        log.failure("HTTP API request {uri} failed", failure, uri=request.uri)
        return error(request, 500, "internal_error", "the gateway failed to answer")

    # --- helpers -----------------------------------------------------------------------------
    def _count_refused(self, status: int) -> None:
        if self._metrics is not None:
            self._metrics.submit_refused("http", status)

    async def _account(self, request: Any) -> Account | bytes:
        """The caller's account, or the 401/403 answer to return."""
        authorization, peer_ip = request.getHeader(b"authorization"), _peer_ip(request)
        account = self._auth.account_at_once(authorization, peer_ip)
        if account is not None:
            return account
        try:
            return await self._auth.account_for(authorization, peer_ip)
        except AuthFailed as e:
            if e.status == 401:
                request.setHeader(b"www-authenticate", _CHALLENGE)
            if e.retry_after:
                request.setHeader(b"retry-after", b"%d" % max(1, math.ceil(e.retry_after)))
            return error(request, e.status, _AUTH_ERROR_CODE[e.status], str(e))

    async def _dry_run(self, request: Any, account: Account, batch: SubmitBatch,
                       recipients: list[str]) -> bytes:
        try:
            quoted = self._router.quote(account, batch)
        except BatchRejected as rejected:
            return _rejected(request, rejected, _indexed(rejected, len(batch)))
        result = _sent(quoted, recipients)
        fresh = await self._store.get_account(account.system_id)
        balance = fresh.balance if fresh is not None else account.balance
        return json_response(request, 200, {**result, "balance": translate.money(balance),
                                            "dry_run": True})


def _sent(messages: Sequence[Message], recipients: list[str]) -> dict[str, Any]:
    total = sum((m.price for m in messages), Decimal(0))
    return {"messages": [translate.message_json(m, to) for m, to in zip(
        messages, recipients, strict=True)], "total_price": translate.money(total)}


def _rejected(request: Any, rejected: SubmitRejected, field: str | None) -> bytes:
    if rejected.status == CommandStatus.ESME_RINVBALANCE:
        return json_response(request, 402, {"error": translate.rejection_detail(rejected, None)})
    return json_response(request, 400, {"error": translate.rejection_detail(
        rejected, field or translate.http_field(rejected))})


def _indexed(rejected: BatchRejected, count: int) -> str:
    field = translate.http_field(rejected)
    if field == "to" and count > 1:
        return f"to[{rejected.index}]"
    return field


def _idempotency_key(request: Any) -> str | None:
    raw = request.getHeader(b"idempotency-key")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise InvalidRequest("Idempotency-Key",
                             f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII "
                             "characters")
    return raw


def _query_flag(request: Any, name: bytes) -> bool:
    values = request.args.get(name) or []
    if not values:
        return False
    if values[-1].lower() in (b"true", b"1"):
        return True
    if values[-1].lower() in (b"false", b"0", b""):
        return False
    raise InvalidRequest(name.decode(), f"{name.decode()} must be true or false")


def _peer_ip(request: Any) -> str:
    peer = request.getClientAddress()
    return getattr(peer, "host", "") or ""
