"""The single submit path: validate → price → debit → store → route (R1, S11, S12).

Both front-ends call `Router.submit`; connectors report outcomes to
`Router.message_final`, which records the final state and hands the receipt
to the delivery fan-out. Nothing is acknowledged before the store commits.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.core.content import check_content
from gateway.core.delivery import Delivery, Owner
from gateway.core.fanout import Claims, Subscriptions
from gateway.core.idempotency import Once, OnceOutcome, Remembered
from gateway.core.ids import MessageIdGenerator
from gateway.core.operations import MessageOperations
from gateway.core.ports import (
    Connector,
    IdempotencyStore,
    Store,
    StoreUnavailable,
    UpstreamStore,
)
from gateway.core.pricing import Pricing
from gateway.core.routing import RouteTable
from gateway.core.scheduling import Scheduler
from gateway.core.validation import SubmitRejected, check_destination, validate_submit
from gateway.model import (
    NO_ADDRESS,
    Account,
    Message,
    MessageState,
    OutboxItem,
    SubmitBatch,
    SubmitRequest,
)
from gateway.smpp.constants import CommandStatus
from gateway.smpp.frozen_init import fast_replace

__all__ = ["Accepted", "BatchRejected", "Pricing", "Router"]

log = Logger()

MAX_MESSAGE_ID_LENGTH = 20

# A batch's other recipients: the first's Message with their own id, destination, price
# and connector (everything else of theirs is the first's, times and parts included).
_for_recipient = fast_replace(Message, "id", "destination", "price", "connector")
# Enum members read per message, bound once (smpp/constants.py says why)
_SCHEDULED, _ENROUTE = MessageState.SCHEDULED, MessageState.ENROUTE
# Every submit's Message (one per SMPP submit_sm, so not 21 keywords to the constructor): a
# blank one with all but error_code and done_at replaced, which a new message has unset.
_BLANK_MESSAGE = Message(id="", account="", source=NO_ADDRESS, destination=NO_ADDRESS, body=b"")
_new_message = fast_replace(
    Message, "id", "account", "source", "destination", "body", "data_coding", "esm_class",
    "protocol_id", "priority", "registered_delivery", "parts", "price", "state",
    "submitted_at", "scheduled_at", "expires_at", "connector", "callback_url", "client_ref",
    "owner", "transport")


@dataclass(frozen=True, kw_only=True, slots=True)
class Accepted:
    """What `Router.submit_batch` did: the messages it stored (in request order) and the
    balance right after the debit; or, for a request already done under its idempotency
    key, nothing new, the balance after the first one, and what it remembered."""

    messages: list[Message]
    balance: Decimal
    earlier: Remembered | None = None


class BatchRejected(SubmitRejected):
    """Request number `index` of a batch is invalid; nothing of the batch was stored."""

    def __init__(self, index: int, rejected: SubmitRejected) -> None:
        super().__init__(rejected.status, rejected.detail, rejected.field)
        self.index = index


class Routing(Protocol):
    """Chooses the connector per message (connectors/registry.py)."""

    table: RouteTable

    def connector_for(self, message: Message) -> Connector: ...

    def is_up(self, name: str) -> bool: ...


class Router:
    def __init__(
        self,
        *,
        store: Store,
        ids: MessageIdGenerator,
        pricing: Pricing,
        connector: Connector,
        delivery: Delivery,
        subscriptions: Subscriptions,
        clock: IReactorTime,
        owner: Owner,
        dispatch_retry_delay: float = 5.0,
        routing: Routing | None = None,
        upstream: UpstreamStore | None = None,
        on_final: Callable[[MessageState], None] | None = None,
    ) -> None:
        self._store = store
        self._owner = owner
        self._ids = ids
        self._pricing = pricing
        self._connector = connector  # the default (the simulator)
        self._routing = routing
        self._upstream = upstream
        self._delivery = delivery
        self._subscriptions = subscriptions
        self._clock = clock
        self._retry_delay = dispatch_retry_delay
        self._on_final = on_final  # told each final state once it is durable (metrics)
        # memory holds a window of this owner's schedule; the store pages the rest in
        self._scheduler = Scheduler(clock, self._scheduled_due, loader=self._scheduled_page)
        self._in_flight: set[Deferred] = set()
        # cancel_sm, replace_sm, submit_multi: see operations.py
        self.operations = MessageOperations(
            router=self, store=store, pricing=pricing, delivery=delivery,
            subscriptions=subscriptions, clock=clock)

    # --- the submit path ---------------------------------------------------------------------
    def submit(self, account: Account, request: SubmitRequest) -> Deferred[Message]:
        """Fire with the stored Message, or fail with SubmitRejected (nothing stored or charged)."""
        self._subscriptions.know(account)
        try:
            message = self._prepare(account, request, self._ids.next_id(), self._clock.seconds())
        except SubmitRejected as rejected:
            return fail(rejected)
        d = self._track(self._store.accept(account.system_id, [message], message.price))
        d.addCallbacks(self._accepted, _store_refused, callbackArgs=(message,))
        return d

    def submit_each(self, account: Account, requests: Sequence[SubmitRequest]
                    ) -> Deferred[list[Message | Exception]]:
        """`submit` of each request alone (its own validation, price and debit), in order,
        for a front-end that read several at once (the submit_sm of one TCP read): one
        store operation each, queued together, and one Deferred for all. It fires with one
        result per request: the stored Message, or the exception `submit` would have
        failed with (SubmitRejected, StoreUnavailable)."""
        self._subscriptions.know(account)
        now = self._clock.seconds()
        results: list[Message | Exception] = []
        messages: list[Message] = []
        next_id = self._ids.next_id
        for request in requests:
            try:
                message = self._prepare(account, request, next_id(), now)
            except SubmitRejected as rejected:
                results.append(rejected)
                continue
            results.append(message)
            messages.append(message)
        if not messages:
            return succeed(results)
        d = self._track(self._store.accept_each(account.system_id, messages))
        return d.addCallback(self._each_accepted, results)

    def _each_accepted(self, outcomes: list[tuple[bool, object]],
                       results: list[Message | Exception]) -> list[Message | Exception]:
        stored = iter(outcomes)
        for index, result in enumerate(results):
            if isinstance(result, Exception):
                continue
            ok, value = next(stored)
            if not ok:
                results[index] = _refusal(value)
            elif value:
                self._route(result)
            else:
                results[index] = SubmitRejected(
                    CommandStatus.ESME_RINVBALANCE,
                    f"balance of {result.account} cannot cover {result.price}", "balance")
        return results

    def submit_replacing(self, account: Account, request: SubmitRequest) -> Deferred[Message]:
        """submit_sm with replace_if_present_flag=1 (SMPP 3.4 §5.2.18): in one store
        transaction the account's SCHEDULED messages from the same source to the same
        destination are superseded (deleted and refunded, without a receipt of their own:
        the new message's receipt reports on what went out) and `request` is accepted.
        A message already on its way (not SCHEDULED) is not replaced, as with replace_sm.
        Fails with SubmitRejected like `submit`; nothing changes then."""
        self._subscriptions.know(account)
        try:
            message = self._prepare(account, request, self._ids.next_id(), self._clock.seconds())
        except SubmitRejected as rejected:
            return fail(rejected)
        d = self._track(self._store.accept_replacing(account.system_id, message))
        d.addCallbacks(self._accepted_replacing, _store_refused, callbackArgs=(message,))
        return d

    def _accepted_replacing(self, superseded: list[Message] | None, message: Message) -> Message:
        if superseded is None:
            return self._accepted(False, message)
        for old in superseded:
            self.unschedule(old.id)
        return self._accepted(True, message)

    def submit_batch(
        self, account: Account, batch: SubmitBatch, once: Once | None = None
    ) -> Deferred[Accepted]:
        """Submit every message of `batch`, all or nothing: one debit for the total, one
        transaction.

        Fails with BatchRejected (a message is invalid) or SubmitRejected(ESME_RINVBALANCE);
        nothing is stored or charged then. With `once`, a batch already accepted under its
        key is not submitted again: the result says what the first one remembered.
        """
        now = self._clock.seconds()
        self._subscriptions.know(account)
        try:
            messages = self._prepare_batch(account, batch, self._ids.next_ids(len(batch)), now)
        except BatchRejected as rejected:
            return fail(rejected)
        cost = sum((m.price for m in messages), Decimal(0))
        # the idempotent accept also reports the balance after the debit (for the answer)
        store: IdempotencyStore = self._store  # type: ignore[assignment]
        d = self._track(store.accept_once(
            account.system_id, once.key if once else None, once.fingerprint if once else "",
            messages, cost, once.record(messages) if once else "", now))
        return d.addCallbacks(self._batch_accepted, _store_refused,
                              callbackArgs=(account, messages, cost))

    def quote(self, account: Account, batch: SubmitBatch) -> list[Message]:
        """The messages `batch` would become, validated, routed and priced, without ids
        and without storing or charging anything (a dry run). Raises BatchRejected, for
        a recipient with no route too."""
        return self._prepare_batch(account, batch, [""] * len(batch), self._clock.seconds(),
                                   require_route=True)

    def _prepare_batch(
        self, account: Account, batch: SubmitBatch, ids: Sequence[str], now: float,
        *, require_route: bool = False,
    ) -> list[Message]:
        """`_prepare` of each request of `batch` with its id from `ids`, in order (raises
        BatchRejected). The others differ from the first only in destination, so once the
        first passed, what `_prepare` would check of them is their destination alone;
        their times, parts and state are the first's. `require_route`: a message no
        connector would take now is refused too, at its place in that order."""
        try:
            first = self._prepare(account, batch.first, ids[0], now)
            if require_route:
                self._check_route(first)
        except SubmitRejected as rejected:
            raise BatchRejected(0, rejected) from None
        messages = [first]
        if not batch.others:
            return messages
        price, parts, route = self._pricing.price, first.parts, self._connector_name
        system_id, source = account.system_id, first.source.addr
        others = zip(batch.others, ids[1:], strict=True)
        for index, (destination, message_id) in enumerate(others, 1):
            try:
                check_destination(destination)
                addr = destination.addr
                message = _for_recipient(first, message_id, destination,
                                         price(account, addr, parts),
                                         route(system_id, source, addr))
                if require_route:
                    self._check_route(message)
            except SubmitRejected as rejected:
                raise BatchRejected(index, rejected) from None
            messages.append(message)
        return messages

    def _check_route(self, message: Message) -> None:
        if self.connector_for(message) is None:
            raise SubmitRejected(
                CommandStatus.ESME_RINVDSTADR,
                f"no route to {message.destination.addr}", "destination_addr")

    def _prepare(
        self, account: Account, request: SubmitRequest, message_id: str, now: float
    ) -> Message:
        """Validate and price `request`: the Message to store (raises SubmitRejected)."""
        times = validate_submit(request, now)
        parts = check_content(request)
        source, destination = request.source, request.destination
        return _new_message(
            _BLANK_MESSAGE, message_id, account.system_id, source, destination, request.body,
            request.data_coding, request.esm_class, request.protocol_id, request.priority,
            request.registered_delivery, parts,
            self._pricing.price(account, destination.addr, parts),
            _SCHEDULED if times.scheduled_at else _ENROUTE, now,
            times.scheduled_at, times.expires_at,
            self._connector_name(account.system_id, source.addr, destination.addr),
            request.callback_url, request.client_ref, self._owner.owner, request.transport)

    def _batch_accepted(
        self, outcome: OnceOutcome, account: Account, messages: list[Message], cost: Decimal
    ) -> Accepted:
        if outcome.earlier is not None:
            return Accepted(messages=[], balance=outcome.earlier.balance,
                            earlier=outcome.earlier)
        if not outcome.accepted:
            raise SubmitRejected(
                CommandStatus.ESME_RINVBALANCE,
                f"balance of {account.system_id} cannot cover {cost}", "balance")
        for message in messages:
            self._route(message)
        return Accepted(messages=messages, balance=outcome.balance)

    def _accepted(self, ok: bool, message: Message) -> Message:
        if not ok:
            raise SubmitRejected(
                CommandStatus.ESME_RINVBALANCE,
                f"balance of {message.account} cannot cover {message.price}", "balance")
        self._route(message)
        return message

    # --- routing -----------------------------------------------------------------------------
    def _route(self, message: Message) -> None:
        if message.state is _SCHEDULED:
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
        self._scheduler.add(message, self._clock.seconds() + self._retry_delay, pinned=True)

    def connector_for(self, message: Message) -> Connector | None:
        """The connector `message` would leave through now (routing, with failover to a
        connector that is up; the default connector when no route matches)."""
        routing = self._routing
        return self._connector if routing is None else routing.connector_for(message)

    def _connector_name(self, account: str, source: str, destination: str) -> str:
        routing = self._routing
        if routing is None or not routing.table:
            return self._connector.name
        return routing.table.choose(account, source, destination, routing.is_up,
                                    advance=False)

    def redispatch(self, message: Message) -> None:
        """Send an accepted, unfinished message again through routing (its connector went
        away before it left)."""
        self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        now = self._clock.seconds()
        if message.expires_at is not None and now >= message.expires_at:
            self.message_final(message, MessageState.EXPIRED, 0, now)
            return
        connector = self.connector_for(message)
        try:
            connector.send(message)
        except Exception:
            self._dispatch_failed(Failure(), message, connector.name)

    def _dispatch_failed(self, failure, message: Message, connector: str) -> None:
        log.failure("connector {connector} refused {id}; retrying in {delay}s", failure,
                    connector=connector, id=message.id, delay=self._retry_delay)
        self._clock.callLater(self._retry_delay, self._dispatch, message)

    # --- outcomes (OutcomeSink) --------------------------------------------------------------
    def message_final(
        self, message: Message, state: MessageState, error_code: int, done_at: float
    ) -> Deferred[None]:
        """Record the final state and queue the receipt; fires once both are durable. While
        the store cannot take it (disk full, database down) it is tried again every
        dispatch_retry_delay: the connector is done with the message, so only this keeps
        its receipt (until a restart, when the message is adopted and dispatched again)."""
        outbox = self._subscriptions.receipt_items(
            message, state, error_code, done_at, self._delivery.claims(message.account))
        d = self._track(self._store.finish(message.id, state, error_code, done_at, outbox))
        d.addCallbacks(self._finished, self._finish_failed,
                       callbackArgs=(state,),
                       errbackArgs=(message, state, error_code, done_at))
        return d

    def messages_final(self, outcomes: Sequence[tuple[Message, MessageState, int, float]]
                       ) -> Deferred[None]:
        """`message_final(*outcome)` for each outcome (the receipts of one connector tick),
        as one store operation each, queued together; fires once all are durable (or, for
        one the store could not take, once its retry is scheduled)."""
        calls = []
        receipt_items, claims_of = self._subscriptions.receipt_items, self._delivery.claims
        claims_by_account: dict[str, Claims] = {}  # a tick's receipts are mostly one account's
        for message, state, error_code, done_at in outcomes:
            account = message.account
            claims = claims_by_account.get(account)
            if claims is None:
                claims = claims_by_account[account] = claims_of(account)
            outbox = receipt_items(message, state, error_code, done_at, claims)
            calls.append((message.id, state, error_code, done_at, outbox))
        d = self._track(self._store.finish_each(calls))
        return d.addCallback(self._each_finished, outcomes)

    def _each_finished(self, results: list[tuple[bool, object]],
                       outcomes: Sequence[tuple[Message, MessageState, int, float]]) -> None:
        items: list[OutboxItem] = []
        on_final = self._on_final
        for (ok, value), (message, state, error_code, done_at) in zip(
                results, outcomes, strict=True):
            if ok:
                if on_final is not None:
                    on_final(state)
                items += value
            else:
                self._finish_failed(Failure(value), message, state, error_code, done_at)
        self._delivery.enqueue_many(items)

    def _finish_failed(self, failure, message: Message, state: MessageState, error_code: int,
                       done_at: float) -> None:
        if failure.check(ValueError, TypeError):  # a bug, not the store: retrying cannot help
            log.failure("recording the final state of {id} failed", failure, id=message.id)
            return
        log.failure("recording the final state of {id} failed; retrying in {delay}s", failure,
                    id=message.id, delay=self._retry_delay, event="store.error")
        self._clock.callLater(self._retry_delay, self.message_final, message, state,
                              error_code, done_at)

    def _finished(self, items: list[OutboxItem], state: MessageState) -> None:
        if self._on_final is not None:
            self._on_final(state)
        for item in items:
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
    def adopt(self, messages: list[Message]) -> Deferred[None]:
        """Dispatch accepted, unfinished messages this process took over (core/cluster.py:
        an earlier run of this node, or a node that is gone): their connector's work did
        not survive, the store did. Fires once the page is handed on."""
        return ensureDeferred(self._adopt(messages))

    async def _adopt(self, page: list[Message]) -> None:
        records = (await self._upstream.upstream_records([m.id for m in page])
                   if self._upstream is not None and page else {})
        for message in page:
            record = records.get(message.id)
            if record is None or record.status == "refused":
                self._route(message)
            elif record.status == "submitted":
                pass  # accepted upstream: its receipt finds it through the store
            else:
                # 'submitting' at a crash: the upstream may have it, and without its
                # id no receipt can be matched. Never sent twice: it ends UNKNOWN.
                self.message_final(message, MessageState.UNKNOWN, 0, self._clock.seconds())

    def start(self) -> None:
        """Once this process has joined the store as its owner: page in the earliest of
        its scheduled messages (read before any submit can be queued, so the schedule
        knows what the store holds by the time one is accepted)."""
        self._stopped = False
        self._scheduler.start()

    def _scheduled_page(self, after: tuple[float, str] | None, limit: int
                        ) -> Deferred[list[Message]]:
        return self._store.scheduled_messages(self._owner.owner, after, limit)

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


def _store_refused(failure):
    """A submit's transaction failed in the store: nothing was stored or charged."""
    if failure.check(StoreUnavailable):
        return failure
    log.failure("the store refused a submit", failure)
    raise StoreUnavailable(failure.getErrorMessage() or failure.type.__name__)


def _refusal(error: BaseException) -> Exception:
    """`_store_refused` for one submit of `submit_each`: the exception it fails with."""
    if isinstance(error, StoreUnavailable):
        return error
    log.failure("the store refused a submit", Failure(error))
    return StoreUnavailable(str(error) or type(error).__name__)
