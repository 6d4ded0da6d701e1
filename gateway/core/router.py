"""The single submit path: validate → price → debit → store → route (R1, S11, S12).

Both front-ends call `Router.submit`; connectors report outcomes to
`Router.message_final`, which records the final state and hands the receipt
to the delivery fan-out. Nothing is acknowledged before the store commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gateway.core.content import check_content
from gateway.core.delivery import Delivery
from gateway.core.ids import MessageIdGenerator
from gateway.core.operations import MessageOperations
from gateway.core.ports import Connector, Store
from gateway.core.receipts import receipt_for, wants_receipt
from gateway.core.scheduling import Scheduler
from gateway.core.validation import SubmitRejected, validate_submit
from gateway.model import Account, Message, MessageState, SubmitRequest
from gateway.smpp.constants import CommandStatus

log = Logger()

MAX_MESSAGE_ID_LENGTH = 20
RECOVERY_PAGE = 1000


@dataclass(frozen=True, kw_only=True)
class Pricing:
    """One price per SMS part for now; price tables by destination come with the HTTP issue."""

    price_per_part: Decimal = Decimal("0.05")

    def price(self, account: Account, message_parts: int) -> Decimal:
        return self.price_per_part * message_parts


class Router:
    def __init__(
        self,
        *,
        store: Store,
        ids: MessageIdGenerator,
        pricing: Pricing,
        connector: Connector,
        delivery: Delivery,
        clock: IReactorTime,
        dispatch_retry_delay: float = 5.0,
    ) -> None:
        self._store = store
        self._ids = ids
        self._pricing = pricing
        self._connector = connector
        self._delivery = delivery
        self._clock = clock
        self._retry_delay = dispatch_retry_delay
        self._scheduler = Scheduler(clock, self._scheduled_due)
        self._in_flight: set[Deferred] = set()
        # cancel_sm, replace_sm, submit_multi: see operations.py
        self.operations = MessageOperations(
            router=self, store=store, pricing=pricing, delivery=delivery, clock=clock)

    # --- the submit path ---------------------------------------------------------------------
    def submit(self, account: Account, request: SubmitRequest) -> Deferred[Message]:
        """Fire with the stored Message, or fail with SubmitRejected (nothing stored or charged)."""
        now = self._clock.seconds()
        try:
            times = validate_submit(request, now)
            parts = check_content(request)
        except SubmitRejected as rejected:
            return fail(rejected)
        price = self._pricing.price(account, parts)
        message = Message(
            id=self._ids.next_id(),
            account=account.system_id,
            source=request.source,
            destination=request.destination,
            body=request.body,
            data_coding=request.data_coding,
            esm_class=request.esm_class,
            protocol_id=request.protocol_id,
            priority=request.priority,
            registered_delivery=request.registered_delivery,
            parts=parts,
            price=price,
            state=MessageState.SCHEDULED if times.scheduled_at else MessageState.ENROUTE,
            submitted_at=now,
            scheduled_at=times.scheduled_at,
            expires_at=times.expires_at,
            connector=self._connector.name,
        )
        d = self._track(self._store.accept(account.system_id, [message], price))
        d.addCallback(self._accepted, message)
        return d

    def _accepted(self, ok: bool, message: Message) -> Message:
        if not ok:
            raise SubmitRejected(
                CommandStatus.ESME_RINVBALANCE,
                f"balance of {message.account} cannot cover {message.price}", "balance")
        self._route(message)
        return message

    # --- routing -----------------------------------------------------------------------------
    def _route(self, message: Message) -> None:
        if message.state is MessageState.SCHEDULED:
            self._scheduler.add(message)  # due at scheduled_at; at once if that has passed
            return
        self._dispatch(message)

    def reschedule(self, message: Message) -> None:
        """A SCHEDULED message changed (replace_sm): wait for its new time instead."""
        self._scheduler.add(message)

    def unschedule(self, message_id: str) -> None:
        """A SCHEDULED message was deleted (cancel_sm): forget its time."""
        self._scheduler.remove(message_id)

    def _scheduled_due(self, message: Message, due: float) -> None:
        # The store decides: the message may have been cancelled or replaced meanwhile,
        # so what goes to the connector is the stored version, now ENROUTE.
        d = self._track(self._store.start_scheduled(message.id, due))
        d.addCallbacks(self._started, self._start_failed, errbackArgs=(message, due))

    def _started(self, message: Message | None) -> None:
        if message is not None:
            self._dispatch(message)

    def _start_failed(self, failure, message: Message, due: float) -> None:
        log.failure("starting scheduled message {id} failed; retrying in {delay}s", failure,
                    id=message.id, delay=self._retry_delay)
        self._scheduler.add(message, self._clock.seconds() + self._retry_delay)

    def connector_for(self, message: Message) -> Connector | None:
        """The connector `message` would leave through now (None: no route takes it)."""
        return self._connector

    def _dispatch(self, message: Message) -> None:
        now = self._clock.seconds()
        if message.expires_at is not None and now >= message.expires_at:
            self.message_final(message, MessageState.EXPIRED, 0, now)
            return
        d = self._connector.send(message)
        d.addErrback(self._dispatch_failed, message)

    def _dispatch_failed(self, failure, message: Message) -> None:
        log.failure("connector {connector} refused {id}; retrying in {delay}s", failure,
                    connector=self._connector.name, id=message.id, delay=self._retry_delay)
        self._clock.callLater(self._retry_delay, self._dispatch, message)

    # --- outcomes (OutcomeSink) --------------------------------------------------------------
    def message_final(
        self, message: Message, state: MessageState, error_code: int, done_at: float
    ) -> None:
        outbox = (
            receipt_for(message, state, error_code, done_at)
            if wants_receipt(message.registered_delivery, state)
            else None
        )
        d = self._track(self._store.finish(message.id, state, error_code, done_at, outbox))
        d.addCallback(self._finished)
        d.addErrback(lambda f: log.failure("recording the final state of {id} failed", f,
                                           id=message.id))

    def _finished(self, item) -> None:
        if item is not None:
            self._delivery.enqueue(item)

    # --- query_sm ----------------------------------------------------------------------------
    def query(self, account: Account, message_id: str) -> Deferred[Message]:
        """The account's own message, or SubmitRejected(RINVMSGID / RQUERYFAIL)."""
        if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH or not message_id.isdigit():
            return fail(SubmitRejected(
                CommandStatus.ESME_RINVMSGID, f"{message_id!r} is not a message id", "message_id"))

        def found(message: Message | None) -> Message:
            if message is None or message.account != account.system_id:
                raise SubmitRejected(
                    CommandStatus.ESME_RQUERYFAIL, f"no message {message_id} for this account",
                    "message_id")
            return message

        return self._store.get_message(message_id).addCallback(found)

    # --- lifecycle ---------------------------------------------------------------------------
    async def recover(self) -> int:
        """Re-dispatch every message that was accepted but never reached a final state
        (the simulator and in-flight work do not survive a crash; the store does)."""
        count = 0
        after = ""
        while True:
            page = await self._store.unfinished_messages(after, RECOVERY_PAGE)
            for message in page:
                self._route(message)
            count += len(page)
            if len(page) < RECOVERY_PAGE:
                return count
            after = page[-1].id

    def drain(self) -> Deferred:
        """Fire when every store operation started so far has completed."""
        if not self._in_flight:
            return succeed(None)
        return DeferredList(list(self._in_flight), consumeErrors=True)

    def stop(self) -> None:
        self._scheduler.stop()

    def _track(self, d: Deferred) -> Deferred:
        self._in_flight.add(d)
        return d.addBoth(self._untrack, d)

    def _untrack(self, result, d: Deferred):
        self._in_flight.discard(d)
        return result
