"""SMSC side of SMPP: authenticates binds and hands submits and queries to the core.

One SmscProtocol per customer connection. A bound receiver/transceiver is also
a DeliveryChannel: the fan-out pushes receipts through `deliver`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any, NamedTuple

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.core.accounts import Authenticator, BindRejected
from gateway.core.admission import Admission
from gateway.core.bind_ledger import BindLedger
from gateway.core.binds import BindRegistry, DeliveryAnswers
from gateway.core.delivery import Delivery
from gateway.core.router import Router
from gateway.core.validation import SubmitRejected
from gateway.model import Account, BindKind, Message, OutboxItem
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.smpp.errors import SessionUsageError
from gateway.smpp.events import RequestTimedOut, ResponseReceived
from gateway.smpp.session import Role, SessionConfig, WindowFull
from gateway.smpp.timefmt import format_final_date
from gateway.transport.smpp_protocol import SmppProtocol
from gateway.transport.smsc_operations import HANDLERS as OPERATION_HANDLERS
from gateway.transport.translate import deliver_sm_for, submit_request_from

log = Logger()

_BIND_KIND = {
    P.BindTransmitter: BindKind.TRANSMITTER,
    P.BindReceiver: BindKind.RECEIVER,
    P.BindTransceiver: BindKind.TRANSCEIVER,
}


class _Pushed(NamedTuple):
    """What a deliver_sm waits for its answer with: the item and who is told of it."""

    item: OutboxItem
    answers: DeliveryAnswers


@dataclass(frozen=True, kw_only=True)
class SmscSettings:
    session: SessionConfig
    max_pending_submits: int = 1000


class SmscProtocol(SmppProtocol):
    def __init__(self, server: SmscServer) -> None:
        super().__init__(server.settings.session, server.clock)
        self.server = server
        self.account_settings: Account | None = None
        self.account = ""  # DeliveryChannel: the bound system_id
        self.kind = BindKind.TRANSMITTER
        self.admission: Admission | None = None
        self.bind_id: int | None = None  # counted in the cluster's binds (BindLedger)
        self._bind_check: Deferred | None = None  # the pending bind's authentication
        # submit_sm read and admitted, not yet handed to the router: (seq, read at, request)
        self._read_submits: list[tuple[int, float, Any]] = []
        self._answers_read = False  # a deliver_sm_resp was read: wake the fan-out after the read

    # --- DeliveryChannel -----------------------------------------------------------------------
    def load(self) -> int:
        return self.session.outstanding if self.session else 0

    def has_room(self) -> bool:
        session = self.session
        return (not self.closed and not self.paused and session is not None
                and session.is_bound and not session.window_full)

    def deliver(self, item: OutboxItem, answers: DeliveryAnswers) -> bool:
        try:
            self.send_request(deliver_sm_for(item), context=_Pushed(item, answers))
        except (WindowFull, SessionUsageError):  # full or closing: the fan-out keeps it
            return False
        return True

    # --- requests from the customer ----------------------------------------------------------
    def request_received(self, pdu: Any) -> None:
        kind = type(pdu)
        if kind is P.SubmitSm:
            self._submit(pdu)
            return
        if self._read_submits:  # in order: what came before this request goes first
            self._submit_read()
        if kind in _BIND_KIND:
            self._bind(pdu)
        elif kind is P.QuerySm:
            self._query(pdu)
        elif kind in OPERATION_HANDLERS:  # cancel_sm, replace_sm, submit_multi, data_sm
            OPERATION_HANDLERS[kind](self, pdu)
        else:
            # a request an ESME may send but this SMSC does not serve (S3)
            self.send_response(P.GenericNack(
                sequence_number=pdu.sequence_number,
                command_status=CommandStatus.ESME_RINVCMDID))

    def _bind(self, request: Any) -> None:
        # The time our verifier takes is not the peer's: the bind timer waits (S5). The
        # limiter bounds it (auth.max_wait) and the verifier's queue is bounded.
        self.session.pause_bind_timer(self.clock.seconds())
        peer = self.transport.getPeer().host
        d = self.server.authenticator.authenticate(request.system_id, request.password, peer)
        self._bind_check = d
        d.addCallback(self._authenticated, request)
        d.addErrback(self._bind_failed, request)

    def _authenticated(self, account: Account, request: Any) -> Deferred | None:
        self._bind_check = None
        if self.closed:
            return None
        kind = _BIND_KIND[type(request)]
        d = self.server.ledger.claim(account, kind)
        d.addCallback(self._counted, account, kind, request)
        return d

    def _counted(self, bind_id: int, account: Account, kind: BindKind, request: Any) -> None:
        if self.closed:
            self.server.ledger.release(bind_id)
            return
        self.bind_id = bind_id
        self.session.accept_bind(request, self.clock.seconds())
        self.kind = kind
        self.account = account.system_id
        self._apply_account(account)
        self.server.binds.add(self)
        self._flush()
        log.info("{peer} bound as {kind} for {account}", peer=self._peer(),
                 kind=self.kind.value, account=self.account, event="smpp.bind")
        if self.kind.can_receive:
            self.server.delivery.wake(self.account)

    def _bind_failed(self, failure, request: Any) -> None:
        self._bind_check = None
        if self.closed:
            return
        if failure.check(BindRejected):
            status = failure.value.status
            log.info("{peer}: bind refused: {why}", peer=self._peer(), why=str(failure.value),
                     status=f"{status:#x}", event="smpp.bind_refused")
        else:
            status = CommandStatus.ESME_RBINDFAIL
            log.failure("bind from {peer} failed", failure, peer=self._peer(),
                        event="smpp.bind_error")
        if self.server.metrics is not None:
            self.server.metrics.bind_failed(status)
        self.session.reject_bind(request, status, self.clock.seconds())
        self._flush()

    def _apply_account(self, account: Account) -> None:
        self.account_settings = account
        if self.admission is None:
            self.admission = Admission(self.clock, account.throughput,
                                       self.server.settings.max_pending_submits)
        else:
            self.admission.set_rate(account.throughput)
        self.session.set_window_size(account.window)

    def refresh_account(self, account: Account | None) -> None:
        """Settings changed by the admin: apply them to this live session."""
        if account is None or not account.enabled:
            self.start_unbind()
        elif not self.closed:
            self._apply_account(account)

    def _handle(self, events: list) -> None:
        super()._handle(events)
        if self._read_submits:
            self._submit_read()
        if self._answers_read:
            # the windows freed by one read's deliver_sm_resp are refilled once, not per answer
            self._answers_read = False
            self.server.delivery.wake(self.account)

    def _submit(self, pdu: P.SubmitSm) -> None:
        started = perf_counter()  # for the submit latency metric: read to answer written
        seq = pdu.sequence_number
        status = self.admission.admit()
        if status:
            self._answer_submit(seq, status)
            return
        try:
            request = submit_request_from(pdu)
        except SubmitRejected as rejected:
            self._answer_submit(seq, rejected.status)
            return
        if request.replace_if_present:
            if self._read_submits:
                self._submit_read()
            d = self.server.router.submit_replacing(self.account_settings, request)
            self.admission.track(d)
            d.addCallbacks(self._submitted, self._submit_failed, callbackArgs=(seq, started),
                           errbackArgs=(seq,))
            return
        # the submits of one read go to the router together, once the read is handled
        self._read_submits.append((seq, started, request))
        self.admission.hold()

    def _submit_read(self) -> None:
        submits, self._read_submits = self._read_submits, []
        d = self.server.router.submit_each(self.account_settings, [s[2] for s in submits])
        self.admission.release_with(d, len(submits))
        d.addCallbacks(self._each_submitted, self._each_failed, callbackArgs=(submits,),
                       errbackArgs=(submits,))

    def _each_submitted(self, results: list[Message | Exception],
                        submits: list[tuple[int, float, Any]]) -> None:
        answers = []
        metrics = self.server.metrics
        for result, (seq, started, _) in zip(results, submits, strict=True):
            if isinstance(result, Message):
                answers.append(P.SubmitSmResp(sequence_number=seq, message_id=result.id))
                if metrics is not None:
                    metrics.smpp_submitted(self.account, started)
                continue
            status = self._refusal_status(result)
            answers.append(P.SubmitSmResp(sequence_number=seq, command_status=status))
            if metrics is not None:
                metrics.submit_refused("smpp", status)
        self.send_responses(answers)

    def _each_failed(self, failure, submits: list[tuple[int, float, Any]]) -> None:
        log.failure("submits from {account} failed", failure, account=self.account)
        for seq, _, _ in submits:
            self._answer_submit(seq, CommandStatus.ESME_RSYSERR)

    def _refusal_status(self, error: Exception) -> int:
        if isinstance(error, SubmitRejected):
            return error.status
        log.failure("submit from {account} failed", Failure(error), account=self.account)
        return CommandStatus.ESME_RSYSERR

    def _submitted(self, message: Message, seq: int, started: float) -> None:
        self.send_response(P.SubmitSmResp(sequence_number=seq, message_id=message.id))
        if self.server.metrics is not None:
            self.server.metrics.smpp_submitted(self.account, started)

    def _submit_failed(self, failure, seq: int) -> None:
        if failure.check(SubmitRejected):
            self._answer_submit(seq, failure.value.status)
        else:
            log.failure("submit from {account} failed", failure, account=self.account)
            self._answer_submit(seq, CommandStatus.ESME_RSYSERR)

    def _answer_submit(self, seq: int, status: int) -> None:
        self.send_response(P.SubmitSmResp(sequence_number=seq, command_status=status))
        if self.server.metrics is not None:
            self.server.metrics.submit_refused("smpp", status)

    def _query(self, pdu: P.QuerySm) -> None:
        seq = pdu.sequence_number

        def found(message: Message) -> None:
            self.send_response(P.QuerySmResp(
                sequence_number=seq,
                message_id=message.id,
                final_date=format_final_date(message.done_at) if message.done_at else "",
                message_state=int(message.state) if message.state.value else 1,
                error_code=min(message.error_code, 255),
            ))

        def failed(failure) -> None:
            status = CommandStatus.ESME_RQUERYFAIL
            if failure.check(SubmitRejected):
                status = failure.value.status
            else:
                log.failure("query_sm failed", failure)
            self.send_response(P.QuerySmResp(sequence_number=seq, command_status=status))

        self.server.router.query(self.account_settings, pdu.message_id).addCallbacks(found, failed)

    # --- responses and endings ---------------------------------------------------------------
    def response_received(self, event: ResponseReceived) -> None:
        context = event.context
        if type(context) is _Pushed:
            context.answers.answered(context.item, event.response.command_status)
            self._answers_read = True

    def writable_again(self) -> None:
        if self.kind.can_receive and self.account:
            self.server.delivery.wake(self.account)

    def request_timed_out(self, event: RequestTimedOut) -> None:
        context = event.context
        if type(context) is _Pushed:  # no deliver_sm_resp in time
            context.answers.not_answered(context.item)

    def session_closed(self, unanswered: list[tuple[Any, Any]]) -> None:
        if self._bind_check is not None:  # gone while waiting for its turn: withdraw it
            self._bind_check.cancel()
        self.server.connection_closed(self)
        if self.account:
            self.server.binds.remove(self)
            log.info("{peer}: {kind} bind of {account} closed", peer=self._peer(),
                     kind=self.kind.value, account=self.account, event="smpp.unbind")
        if self.bind_id is not None:
            self.server.ledger.release(self.bind_id)
            self.bind_id = None
        for _, context in unanswered:
            if type(context) is _Pushed:  # closed before its deliver_sm_resp
                context.answers.not_answered(context.item)
        if self.account and self.kind.can_receive:
            self.server.delivery.wake(self.account)


class SmscServer(Factory):
    """Factory for customer connections; knows every live one for shutdown and refresh."""

    def __init__(
        self,
        *,
        settings: SmscSettings,
        clock: IReactorTime,
        authenticator: Authenticator,
        router: Router,
        binds: BindRegistry,
        ledger: BindLedger,
        delivery: Delivery,
        metrics: Any = None,
    ) -> None:
        self.settings = settings
        # ops/metrics.GatewayMetrics, or None when metrics are off
        self.metrics = metrics
        self.clock = clock
        self.authenticator = authenticator
        self.router = router
        self.binds = binds
        self.ledger = ledger
        self.delivery = delivery
        self.connections: set[SmscProtocol] = set()

    def buildProtocol(self, addr) -> SmscProtocol:
        protocol = SmscProtocol(self)
        protocol.factory = self
        self.connections.add(protocol)
        return protocol

    def connection_closed(self, protocol: SmscProtocol) -> None:
        self.connections.discard(protocol)

    def bound_accounts(self) -> set[str]:
        return {protocol.account for protocol in self.connections if protocol.account}

    def refresh_accounts(self, accounts: dict[str, Account | None]) -> None:
        for protocol in list(self.connections):
            if protocol.account in accounts:
                protocol.refresh_account(accounts[protocol.account])

    def unbind_all(self, timeout: float) -> Deferred:
        """S14: unbind every session, fire when all are closed (aborting laggards)."""
        waits = []
        for protocol in list(self.connections):
            if protocol.account:
                protocol.start_unbind()
            else:
                protocol.lose_connection()
            waits.append(protocol.when_closed)
            self.clock.callLater(timeout, _abort_if_open, protocol)
        return DeferredList(waits) if waits else succeed(None)


def _abort_if_open(protocol: SmscProtocol) -> None:
    if not protocol.closed:
        protocol.transport.abortConnection()


def smsc_session_config(**overrides: Any) -> SessionConfig:
    return replace(SessionConfig(role=Role.SMSC), **overrides)
