"""The upstream SMPP connector (R3): sends messages to an operator SMSC over one or more
ESME binds and turns its answers and receipts into final states under OUR message ids.

Theory of operation
-------------------
`send(message)` only queues (FairQueue: FIFO per account, round robin across accounts);
`_pump` moves messages to a transmitting bind while it has window room and the throughput
cap allows. Each submit goes through these steps, so that nothing is sent twice blindly:

1. reserve a window slot on the bind and write the durable mark 'submitting';
2. send submit_sm (if the bind went away meanwhile nothing left: release the mark, queue
   the message again);
3. the answer decides:
   - ESME_ROK: record the upstream id and its match keys (upstream_ids.py) durably; a
     receipt that overtook this answer and was held is matched now;
   - ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RX_T_APPN, and ESME_RINVBNDSTS (an upstream that
     is unbinding, e.g. shutting down, answers that to what crossed its unbind): the
     upstream did not take it; release the mark, put the message back at the head of its
     account's queue, pause the bind;
   - any other error (or generic_nack): a permanent refusal: REJECTD with the status as the
     error code, and a refund when `refund_rejected`;
   - no answer (timeout, connection lost with it outstanding): the upstream may or may not
     have it, and without its id no receipt can ever be matched. We do NOT resend: the
     message ends UNKNOWN (the customer's receipt says stat:UNKNOWN), not refunded. At
     most once, never twice; see README "Upstream connectors and routing".

Receipts (deliver_sm/data_sm with a receipt esm_class or receipted_message_id) are matched
to the messages this connector saw accepted (awaiting_receipts.py), or else looked up by
their id keys in the store; the final state is recorded through the router (which
queues the customer's receipt with our id), and only after that is durable do we answer
deliver_sm_resp. A receipt whose id is not known yet while submits are unanswered is held
up to `receipt_hold` seconds for the submit_sm_resp, unanswered (so the upstream would
resend it if we crashed). Everything else is MO and goes to the InboundSink.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.connectors.awaiting_receipts import AwaitingReceipts
from gateway.connectors.fair_queue import FairQueue
from gateway.connectors.upstream_pdus import (
    UpstreamReceipt,
    inbound_from,
    receipt_from,
    submit_sm_for,
)
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import InboundRejected, InboundSink, OutcomeSink, UpstreamStore
from gateway.core.throttle import TokenBucket
from gateway.core.upstream_ids import id_keys
from gateway.model import Message, MessageState
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import SessionUsageError
from gateway.smpp.window import WindowFull
from gateway.transport.smpp_client import SubmitOutcomeUnknown, UpstreamBind, client_endpoint

log = Logger()

TEMPORARY = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL,
                       CommandStatus.ESME_RX_T_APPN, CommandStatus.ESME_RINVBNDSTS})
_GENERIC_NACK = int(CommandId.GENERIC_NACK)


@dataclass
class _HeldReceipt:
    keys: list[str]
    receipt: UpstreamReceipt
    answer: Deferred
    timer: IDelayedCall | None = None


@dataclass
class Counters:
    submitted: int = 0  # answered ESME_ROK
    rejected: int = 0  # refused permanently
    retried: int = 0  # refused temporarily, queued again
    unknown: int = 0  # no answer: ended UNKNOWN
    receipts: int = 0  # matched upstream receipts
    unmatched_receipts: int = 0
    mo: int = 0


class SmppConnector:
    """One upstream SMSC account: `binds` sessions (tx+rx pairs for bind='pair')."""

    def __init__(self, settings: ConnectorSettings, *, sink: OutcomeSink, store: UpstreamStore,
                 inbound: InboundSink, clock: IReactorTime, reactor: Any,
                 endpoint: IStreamClientEndpoint | None = None) -> None:
        self.settings = settings
        self.name = settings.name
        self._sink = sink
        self._store = store
        self._inbound = inbound
        self._clock = clock
        self._queue = FairQueue()
        self._bucket = TokenBucket(settings.throughput, clock.seconds())
        self._paused_until = 0.0
        self._pump_timer: IDelayedCall | None = None
        self._pump_call: IDelayedCall | None = None  # send's pump, after the caller's turn
        self._pump_after_read = False
        self._held: list[_HeldReceipt] = []
        self._awaiting = AwaitingReceipts()  # matched without a store lookup
        # receipts of one read, recorded together at its end: (message, state, error, answer)
        self._read_finals: list[tuple[Message, MessageState, int, Deferred]] = []
        # submit_resp of one read, recorded together at its end: record_submitted's args
        self._read_records: list[tuple[str, str, str, list[str], float]] = []
        self._reads = 0  # reads being handled (a read's answers may start another)
        self.counters = Counters()
        self._rate_mark = (clock.seconds(), 0)  # for the submits-per-second in health()
        kinds = (["transmitter", "receiver"] if settings.bind == "pair" else [settings.bind])
        if endpoint is None:
            endpoint = client_endpoint(reactor, settings)
        self.binds = [UpstreamBind(settings=settings, kind=kind, owner=self, clock=clock,
                                   endpoint=endpoint)
                      for _ in range(settings.binds) for kind in kinds]
        self._running = False

    # --- Connector -------------------------------------------------------------------------
    def send(self, message: Message) -> None:
        self._queue.push(message)
        # the messages a commit hands over one by one go out as one pump run, marked in one
        # store call and written in one transport write
        if self._pump_call is None:
            self._pump_call = self._clock.callLater(0, self._pump_called)

    @property
    def is_up(self) -> bool:
        """True while at least one bind that can submit is bound."""
        return any(b.is_up and b.can_submit for b in self.binds)

    def start(self) -> None:
        self._running = True
        for bind in self.binds:
            bind.start()

    def stop(self) -> Deferred[list[Message]]:
        """Unbind and stop; fires with the messages still queued (for the router to send
        elsewhere). Held receipts stay unanswered: the upstream resends them."""
        self._running = False
        if self._pump_timer is not None and self._pump_timer.active():
            self._pump_timer.cancel()
        self._pump_timer = None
        if self._pump_call is not None and self._pump_call.active():
            self._pump_call.cancel()
        self._pump_call = None
        for held in self._held:
            if held.timer is not None and held.timer.active():
                held.timer.cancel()
        self._held.clear()
        queued = self._queue.drain()
        d = DeferredList([bind.stop() for bind in self.binds], consumeErrors=True)
        return d.addCallback(lambda _: queued)

    # --- BindOwner -------------------------------------------------------------------------
    def bind_up(self, bind: UpstreamBind) -> None:
        self._pump()

    def bind_down(self, bind: UpstreamBind) -> None:
        pass  # outstanding submits are resolved by their Deferreds

    # --- sending ---------------------------------------------------------------------------
    def _pump(self) -> None:
        if not self._running:
            return
        now = self._clock.seconds()
        run: list[tuple[Message, UpstreamBind]] = []
        while len(self._queue):
            if now < self._paused_until:
                self._pump_later(self._paused_until - now)
                break
            bind = self._free_bind()
            if bind is None:
                break  # bind_up or an answer pumps again
            if not self._bucket.try_take(now):
                self._pump_later(1.0 / self.settings.throughput)
                break
            message = self._queue.pop()
            if message.expires_at is not None and now >= message.expires_at:
                self._sink.message_final(message, MessageState.EXPIRED, 0, now)
                continue
            bind.reserved += 1
            run.append((message, bind))
        if run:
            self._submit_run(run, now)

    def _pump_called(self) -> None:
        self._pump_call = None
        self._pump()

    def _pump_soon(self) -> None:
        """Pump now, or at the end of the read being handled (one run for its answers)."""
        if self._reads:
            self._pump_after_read = True
        else:
            self._pump()

    def _pump_later(self, delay: float) -> None:
        if self._pump_timer is None or not self._pump_timer.active():
            self._pump_timer = self._clock.callLater(max(delay, 0.001), self._pump_due)

    def _pump_due(self) -> None:
        self._pump_timer = None
        self._pump()

    def _free_bind(self) -> UpstreamBind | None:
        best = None
        for bind in self.binds:
            if bind.can_submit and bind.has_room() and (
                    best is None or bind.health().in_flight < best.health().in_flight):
                best = bind
        return best

    def _submit_run(self, run: list[tuple[Message, UpstreamBind]], now: float) -> None:
        """Mark a pump run's messages durably in one store call; send them once it is."""
        d = self._store.mark_submitting_each([(m.id, self.name, now) for m, _ in run])
        d.addCallbacks(self._marked_run, self._run_mark_failed, callbackArgs=(run,),
                       errbackArgs=(run,))

    def _run_mark_failed(self, failure: Failure, run: list[tuple[Message, UpstreamBind]]
                         ) -> None:
        self._marked_run([(False, failure.value)] * len(run), run)

    def _marked_run(self, results: list[tuple[bool, Any]],
                    run: list[tuple[Message, UpstreamBind]]) -> None:
        # the run's submit_sm leave in one transport write per bind, not one write each
        protocols = {bind.protocol for _, bind in run if bind.protocol is not None}
        for protocol in protocols:
            protocol.hold_writes()
        failed: list[Message] = []
        first_error: Any = None
        try:
            for (ok, value), (message, bind) in zip(results, run, strict=True):
                bind.reserved -= 1
                if ok:
                    self._marked(message, bind)
                else:
                    first_error = value if first_error is None else first_error
                    failed.append(message)
        finally:
            for protocol in protocols:
                protocol.release_writes()
        if failed:
            # one line for the run: a store down fails every mark of it with the same error
            log.failure("upstream {name}: marking {count} of {total} messages failed "
                        "(first {id}); queued again", Failure(first_error), name=self.name,
                        count=len(failed), total=len(run), id=failed[0].id)
            self._mark_failed(failed)

    def _mark_failed(self, messages: list[Message]) -> None:
        """Queue a run's unmarked messages again, first and in their order, after a pause."""
        for message in reversed(messages):  # push_front: the last put back goes first
            self._queue.push_front(message)
        backoff = self.settings.throttle_backoff or 1.0
        self._pause(backoff)
        self._pump_later(backoff)  # nothing else may come to pump it again

    def _marked(self, message: Message, bind: UpstreamBind) -> None:
        protocol = bind.protocol
        try:
            if protocol is None:
                raise SessionUsageError("bind gone")
            d = protocol.submit(submit_sm_for(message))
        except (WindowFull, SessionUsageError):
            # nothing left: the message was never offered upstream, so it may go again
            self._store.release_submit(message.id)
            self._queue.push_front(message)
            self._pump()
            return
        d.addCallbacks(self._answered, self._no_answer, callbackArgs=(message,),
                       errbackArgs=(message,))

    def _answered(self, response: Any, message: Message) -> None:
        status = response.command_status
        if response.command_id != _GENERIC_NACK and status == CommandStatus.ESME_ROK:
            self.counters.submitted += 1
            self._accepted(message, response.message_id)
        elif status in TEMPORARY:
            self.counters.retried += 1
            self._store.release_submit(message.id)
            self._queue.push_front(message)
            self._pause(self.settings.throttle_backoff)
        else:
            self.counters.rejected += 1
            log.info("upstream {name} refused {id} with {status:#x}", name=self.name,
                     id=message.id, status=status)
            self._final(message, MessageState.REJECTED, status, refund=True)
        self._pump_soon()

    def _no_answer(self, failure, message: Message) -> None:
        failure.trap(SubmitOutcomeUnknown)
        self.counters.unknown += 1
        log.warn("upstream {name}: no answer to the submit of {id} ({why}); it ends UNKNOWN, "
                 "not sent again", name=self.name, id=message.id, why=failure.getErrorMessage())
        self._final(message, MessageState.UNKNOWN, 0, refund=False)
        self._pump()

    def _final(self, message: Message, state: MessageState, error: int, *,
               refund: bool) -> Deferred | None:
        d = self._sink.message_final(message, state, error, self._clock.seconds())
        if refund and self.settings.refund_rejected:
            def refund_it(_: Any) -> Deferred:
                return self._store.refund(message.id)
            d = (d if d is not None else succeed(None)).addCallback(refund_it)
            d.addErrback(lambda f: log.failure("refunding {id} failed", f, id=message.id))
        return d

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock.seconds() + seconds)

    def _accepted(self, message: Message, upstream_id: str) -> None:
        keys = id_keys(upstream_id)
        call = (message.id, self.name, upstream_id, keys, self._clock.seconds())
        if self._reads:
            # recorded with the read's other answers at its end, before the read's receipts:
            # the writer keeps their order, so no receipt's outcome is durable before the
            # record that matched it
            self._read_records.append(call)
            self._matchable(message, keys)
            return
        d = self._store.record_submitted(*call)
        d.addCallbacks(lambda _: self._matchable(message, keys), self._record_failed,
                       errbackArgs=(message.id, upstream_id))

    def _record_failed(self, failure: Failure, message_id: str, upstream_id: str) -> None:
        log.failure("upstream {name}: recording {id} as {uid} failed", failure,
                    name=self.name, id=message_id, uid=upstream_id)

    def _records_done(self, results: list[tuple[bool, Any]], calls: list[tuple]) -> None:
        for (ok, value), (message_id, _, upstream_id, _, _) in zip(results, calls, strict=True):
            if not ok:
                self._record_failed(Failure(value), message_id, upstream_id)

    def _matchable(self, message: Message, keys: list[str]) -> None:
        """Receipts for `keys` find `message` from now on, and those held for it apply."""
        if keys:
            self._awaiting.remember(keys[0], message)
        wanted = set(keys)
        for held in list(self._held):
            if wanted.intersection(held.keys):
                self._release_held(held)
                if held.receipt.state is not None and held.receipt.state.is_final:
                    self._awaiting.forget(keys[0])
                self._apply_receipt(message, held.receipt, held.answer)

    # --- from upstream ---------------------------------------------------------------------
    def inbound(self, pdu: Any) -> Deferred[int]:
        receipt = receipt_from(pdu)
        if receipt is None:
            return self._mo(pdu)
        answer: Deferred[int] = Deferred()
        keys = id_keys(receipt.upstream_id)
        known = self._awaiting.get(keys[0]) if keys else None
        if known is not None:
            if receipt.state is not None and receipt.state.is_final:
                self._awaiting.forget(keys[0])  # a repeat of it is looked up in the store
            self._apply_receipt(known, receipt, answer)
            return answer
        self._flush_records()  # a record of this read may be the one it looks for
        d = self._store.find_by_upstream_id(self.name, keys)
        d.addCallback(self._found, keys, receipt, answer, True)
        d.addErrback(answer.errback)
        return answer

    def _found(self, message: Message | None, keys: list[str], receipt: UpstreamReceipt,
               answer: Deferred, may_hold: bool) -> None:
        if message is not None:
            self._apply_receipt(message, receipt, answer)
        elif may_hold and keys and self._awaiting_answers() and self.settings.receipt_hold > 0:
            held = _HeldReceipt(keys=keys, receipt=receipt, answer=answer)
            held.timer = self._clock.callLater(self.settings.receipt_hold, self._hold_over, held)
            self._held.append(held)
        else:
            self.counters.unmatched_receipts += 1
            log.warn("upstream {name}: receipt for unknown id {uid!r} acknowledged and dropped",
                     name=self.name, uid=receipt.upstream_id)
            answer.callback(CommandStatus.ESME_ROK)

    def _awaiting_answers(self) -> bool:
        return any(b.health().in_flight for b in self.binds)

    def _hold_over(self, held: _HeldReceipt) -> None:
        held.timer = None
        self._release_held(held)
        d = self._store.find_by_upstream_id(self.name, held.keys)
        d.addCallback(self._found, held.keys, held.receipt, held.answer, False)
        d.addErrback(held.answer.errback)

    def _release_held(self, held: _HeldReceipt) -> None:
        if held in self._held:
            self._held.remove(held)
        if held.timer is not None and held.timer.active():
            held.timer.cancel()
        held.timer = None

    def reading(self) -> None:
        self._reads += 1

    def read_done(self) -> None:
        self._reads -= 1
        if self._reads:
            return
        self._flush_records()
        if self._read_finals:
            finals, self._read_finals = self._read_finals, []
            self._record_finals(finals)
        if self._pump_after_read:
            self._pump_after_read = False
            self._pump()

    def _flush_records(self) -> None:
        """Queue the read's submit records: ahead of its receipts' outcomes and lookups."""
        if not self._read_records:
            return
        records, self._read_records = self._read_records, []
        d = self._store.record_submitted_each(records)
        d.addCallbacks(self._records_done, lambda f: log.failure(
            "upstream {name}: recording {n} submits failed", f, name=self.name,
            n=len(records)), callbackArgs=(records,))

    def _record_finals(self, finals: list[tuple[Message, MessageState, int, Deferred]]
                       ) -> None:
        together = getattr(self._sink, "messages_final", None)
        if together is None or len(finals) == 1:
            for message, state, error, answer in finals:
                self._record_final(message, state, error, answer)
            return
        now = self._clock.seconds()
        d = together([(message, state, error, now) for message, state, error, _ in finals])

        def answer_all(_: Any) -> None:
            for *_, answer in finals:
                answer.callback(CommandStatus.ESME_ROK)

        def fail_all(failure: Any) -> None:
            for *_, answer in finals:
                answer.errback(failure)

        d.addCallbacks(answer_all, fail_all)

    def _apply_receipt(self, message: Message, receipt: UpstreamReceipt,
                       answer: Deferred) -> None:
        state = receipt.state
        if state is None or not state.is_final or message.state.is_final:
            answer.callback(CommandStatus.ESME_ROK)  # intermediate, or already settled
            return
        self.counters.receipts += 1
        if self._reads:  # the receipts of this read go to the store together, at its end
            self._read_finals.append((message, state, receipt.error_code, answer))
            return
        self._record_final(message, state, receipt.error_code, answer)

    def _record_final(self, message: Message, state: MessageState, error: int,
                      answer: Deferred) -> None:
        d = self._final(message, state, error, refund=False)
        if d is None:
            answer.callback(CommandStatus.ESME_ROK)
            return
        d.addCallbacks(lambda _: answer.callback(CommandStatus.ESME_ROK), answer.errback)

    def _mo(self, pdu: Any) -> Deferred[int]:
        self.counters.mo += 1
        d = self._inbound.message_received(inbound_from(pdu, self.name, self._clock.seconds()))

        def refused(failure) -> int:
            failure.trap(InboundRejected)
            return failure.value.command_status

        return d.addCallbacks(lambda _: CommandStatus.ESME_ROK, refused)

    # --- health ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        now = self._clock.seconds()
        since, count = self._rate_mark
        rate = (self.counters.submitted - count) / (now - since) if now > since else 0.0
        if now - since >= 5.0:
            self._rate_mark = (now, self.counters.submitted)
        return {
            "name": self.name,
            "up": self.is_up,
            "binds": [asdict(b.health()) for b in self.binds],
            "window_used": sum(b.health().in_flight for b in self.binds if b.can_submit),
            "window_size": self.settings.window * sum(1 for b in self.binds if b.can_submit),
            "queued": len(self._queue),
            "submits_per_second": round(rate, 2),
            "throughput_cap": self.settings.throughput,
            "held_receipts": len(self._held),
            "counters": asdict(self.counters),
        }
