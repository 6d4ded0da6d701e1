"""What a customer may do with messages besides submitting one: cancel_sm, replace_sm, and
submit_multi's fan-out (each destination one message through `Router.submit`).

Theory of operation
-------------------
Only a message still SCHEDULED (accepted with a schedule_delivery_time, its time not yet
come) can be cancelled or replaced: once the router has started it (store state ENROUTE)
it is on its way to the network. The store decides, atomically: `Store.cancel` deletes the
message, refunds its price and queues its DELETED receipt in one transaction;
`Store.replace` swaps the content and charges or refunds the price difference in one
transaction; `Store.start_scheduled` (the router, at the scheduled time) only starts a
message that is still SCHEDULED. Whichever of them commits first wins; the loser sees
"not SCHEDULED" and answers ESME_RCANCELFAIL / ESME_RREPLACEFAIL (or, for the router,
does nothing). The in-memory schedule is then brought in line: a cancelled message is
removed from it, a replaced one re-added at its (possibly new) time. A schedule entry
that is stale anyway is harmless: `start_scheduled` refuses it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.core.content import parts_of
from gateway.core.delivery import Delivery
from gateway.core.fanout import Subscriptions
from gateway.core.ports import Cancelled, ReceiptFor, ReplaceOutcome, Store
from gateway.core.validation import SubmitRejected, validate_submit
from gateway.model import Account, Message, MessageState, NewOutboxItem, SubmitRequest
from gateway.smpp.constants import CommandStatus

if TYPE_CHECKING:
    from gateway.core.pricing import Pricing
    from gateway.core.router import Router

__all__ = ["MessageOperations", "ReplaceRequest", "is_message_id"]

log = Logger()

MAX_MESSAGE_ID_LENGTH = 20


def is_message_id(value: str) -> bool:
    """Could `value` be one of our message ids (decimal, at most 20 digits)?"""
    return 0 < len(value) <= MAX_MESSAGE_ID_LENGTH and value.isascii() and value.isdigit()


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ReplaceRequest:
    """replace_sm as the core sees it. Empty times keep the message's own (SMPP 3.4 §4.10)."""

    message_id: str
    source_addr: str = ""
    body: bytes = b""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0


class MessageOperations:
    """cancel, replace and submit_multi for an account's messages; owned by the Router."""

    def __init__(
        self, *, router: Router, store: Store, pricing: Pricing, delivery: Delivery,
        subscriptions: Subscriptions, clock: IReactorTime,
    ) -> None:
        self._router = router
        self._store = store
        self._pricing = pricing
        self._delivery = delivery
        self._subscriptions = subscriptions
        self._clock = clock

    # --- cancel_sm ---------------------------------------------------------------------------
    def cancel(
        self, account: Account, message_id: str, source_addr: str = "",
        destination_addr: str = "",
    ) -> Deferred[list[Message]]:
        """Cancel the account's SCHEDULED message `message_id` (the addresses, when given,
        must match it), or with message_id '' every SCHEDULED message from `source_addr` to
        `destination_addr`. Fires with the deleted messages (refunded, receipts queued);
        fails with SubmitRejected: ESME_RINVMSGID (malformed id), ESME_RCANCELFAIL."""
        now = self._clock.seconds()
        receipt = self._deleted_receipt(account.system_id, now)
        if not message_id:
            if not destination_addr:
                return fail(_cancel_fail("cancel_sm without message_id needs destination_addr"))
            d = self._store.cancel_matching(
                account.system_id, source_addr, destination_addr, now, receipt)
            return d.addCallback(self._cancelled)
        if not is_message_id(message_id):
            return fail(SubmitRejected(
                CommandStatus.ESME_RINVMSGID, f"{message_id!r} is not a message id",
                "message_id"))

        def check(message: Message | None) -> Deferred[Cancelled | None]:
            if (message is None or message.account != account.system_id
                    or not _same_addr(source_addr, message.source.addr)
                    or not _same_addr(destination_addr, message.destination.addr)):
                raise _cancel_fail(f"no message {message_id} from these addresses")
            if message.state is not MessageState.SCHEDULED:
                raise _cancel_fail(f"message {message_id} is {message.state.name}")
            return self._store.cancel(account.system_id, message_id, now, receipt)

        d = self._store.get_message(message_id).addCallback(check)
        return d.addCallback(lambda one: self._cancelled([one] if one is not None else []))

    def _cancelled(self, results: list[Cancelled]) -> list[Message]:
        if not results:
            raise _cancel_fail("no SCHEDULED message matched (sent, final, or unknown)")
        for message, items in results:
            self._router.unschedule(message.id)
            for item in items:
                self._delivery.enqueue(item)
        return [message for message, _ in results]

    def _deleted_receipt(self, account: str, done_at: float) -> ReceiptFor:
        subscriptions = self._subscriptions
        claim = self._delivery.claimer(account)  # decided here, in the reactor thread

        def build(message: Message) -> list[NewOutboxItem]:
            return claim(subscriptions.receipt_items(message, MessageState.DELETED, 0, done_at))
        return build

    # --- replace_sm --------------------------------------------------------------------------
    def replace(self, account: Account, request: ReplaceRequest) -> Deferred[Message]:
        """Replace the content of the account's SCHEDULED message and reschedule it; the
        price difference is charged or refunded. Fails with SubmitRejected: ESME_RINVMSGID,
        ESME_RREPLACEFAIL, ESME_RINVBALANCE, or a field's own error (RINVSCHED, ...)."""
        if not is_message_id(request.message_id):
            return fail(SubmitRejected(
                CommandStatus.ESME_RINVMSGID, f"{request.message_id!r} is not a message id",
                "message_id"))
        now = self._clock.seconds()
        d = self._store.get_message(request.message_id)
        d.addCallback(self._replacement, account, request, now)
        return d.addCallback(self._store_replacement, account)

    def _replacement(
        self, message: Message | None, account: Account, request: ReplaceRequest, now: float
    ) -> Message:
        if (message is None or message.account != account.system_id
                or message.state is not MessageState.SCHEDULED
                or not _same_addr(request.source_addr, message.source.addr)):
            raise _replace_fail(f"message {request.message_id} cannot be replaced")
        times = validate_submit(SubmitRequest(
            source=message.source, destination=message.destination, body=request.body,
            data_coding=message.data_coding, esm_class=message.esm_class,
            registered_delivery=request.registered_delivery,
            schedule_delivery_time=request.schedule_delivery_time,
            validity_period=request.validity_period), now)
        scheduled_at = message.scheduled_at
        if request.schedule_delivery_time:
            scheduled_at = times.scheduled_at if times.scheduled_at is not None else now
        expires_at = times.expires_at if request.validity_period else message.expires_at
        if expires_at is not None and (
            expires_at <= now or (scheduled_at is not None and expires_at <= scheduled_at)
        ):
            raise SubmitRejected(
                CommandStatus.ESME_RINVEXPIRY, "validity_period ends before delivery could start",
                "validity_period")
        parts = parts_of(request.body, message.data_coding, message.esm_class)
        return dataclasses.replace(
            message, body=request.body, registered_delivery=request.registered_delivery,
            parts=parts, price=self._pricing.price(account, message.destination.addr, parts),
            scheduled_at=scheduled_at, expires_at=expires_at)

    def _store_replacement(self, message: Message, account: Account) -> Deferred[Message]:
        def stored(outcome: ReplaceOutcome) -> Message:
            if outcome is ReplaceOutcome.NO_BALANCE:
                raise SubmitRejected(
                    CommandStatus.ESME_RINVBALANCE,
                    f"balance of {account.system_id} cannot cover the new price {message.price}",
                    "balance")
            if outcome is not ReplaceOutcome.REPLACED:
                raise _replace_fail(f"message {message.id} is no longer SCHEDULED")
            self._router.reschedule(message)
            return message

        return self._store.replace(account.system_id, message).addCallback(stored)

    # --- submit_multi ------------------------------------------------------------------------
    def submit_multi(
        self, account: Account, requests: Sequence[SubmitRequest]
    ) -> Deferred[list[Message | SubmitRejected]]:
        """Submit each request (one per destination) through `Router.submit`, in order, so
        the balance serves the first destinations first. Fires with, per request, the
        stored Message or the SubmitRejected that refused it."""
        submits = [self._router.submit(account, request) for request in requests]
        d = DeferredList(submits, consumeErrors=True)
        return d.addCallback(lambda results: [_outcome(ok, value) for ok, value in results])


def _outcome(ok: bool, value: Message | Failure) -> Message | SubmitRejected:
    if ok:
        return value
    if value.check(SubmitRejected):
        return value.value
    log.failure("one destination of a submit_multi failed", value)
    return SubmitRejected(CommandStatus.ESME_RSYSERR, value.getErrorMessage())


def _same_addr(given: str, stored: str) -> bool:
    """An address the customer repeats for verification; empty means "not given"."""
    return not given or given.lstrip("+") == stored.lstrip("+")


def _cancel_fail(detail: str) -> SubmitRejected:
    return SubmitRejected(CommandStatus.ESME_RCANCELFAIL, detail, "message_id")


def _replace_fail(detail: str) -> SubmitRejected:
    return SubmitRejected(CommandStatus.ESME_RREPLACEFAIL, detail, "message_id")
