"""ESME side of SMPP: one upstream bind kept up by a ClientService with backoff.

`UpstreamProtocol` drives the same sans-I/O Session as the server side, in the ESME
role: it binds on connect, reports bind up/down to its owner, hands deliver_sm/data_sm to
the owner and answers them only when the owner's Deferred fires (durable before
acknowledged), and turns submit answers, timeouts and lost connections into the outcome
of each submit's Deferred. `UpstreamBind` owns the ClientService; the connector
(connectors/smpp.py) owns the binds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import ssl
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from gateway.core.connector_settings import ConnectorSettings
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.smpp.events import RequestTimedOut, ResponseReceived
from gateway.smpp.session import Role, SessionConfig
from gateway.transport.smpp_protocol import SmppProtocol

log = Logger()

BIND_REQUEST = {
    "transmitter": P.BindTransmitter,
    "receiver": P.BindReceiver,
    "transceiver": P.BindTransceiver,
}
_BIND = object()  # context of our bind request


class SubmitOutcomeUnknown(Exception):
    """A request left (or may have left) and its answer never came: timeout or lost link."""


class BindOwner(Protocol):
    """What a bind reports to (the connector)."""

    def bind_up(self, bind: UpstreamBind) -> None: ...

    def bind_down(self, bind: UpstreamBind) -> None: ...

    def inbound(self, pdu: Any) -> Deferred[int]:
        """A deliver_sm/data_sm from upstream; fires with the status to answer it with."""

    def reading(self) -> None:
        """What `inbound` gets until `read_done` came in one read: it may go on together."""

    def read_done(self) -> None: ...


class UpstreamProtocol(SmppProtocol):
    def __init__(self, bind: UpstreamBind) -> None:
        super().__init__(bind.session_config, bind.clock)
        self.bind = bind
        self.bound = False

    def _handle(self, events: list) -> None:
        owner = self.bind.owner
        owner.reading()
        try:
            super()._handle(events)
        finally:
            owner.read_done()

    def connectionMade(self) -> None:
        super().connectionMade()
        s = self.bind.settings
        request = BIND_REQUEST[self.bind.kind](
            system_id=s.system_id, password=s.password, system_type=s.system_type,
            interface_version=0x34)
        self.send_request(request, context=_BIND)

    # --- to the owner ----------------------------------------------------------------------
    def submit(self, pdu: Any) -> Deferred:
        """Send `pdu`; the Deferred fires with the response PDU or fails with
        SubmitOutcomeUnknown (WindowFull/SessionUsageError raise at once: nothing left)."""
        d: Deferred = Deferred()
        self.send_request(pdu, context=d)
        # SmppProtocol.send_request re-arms only a missing timer, assuming no deadline moves
        # earlier; with a response_timeout shorter than the enquire_link interval (usual
        # upstream) this submit's deadline may be the earliest: re-arm (cheap if not). While
        # writes are held, release_writes re-arms once for the whole run.
        if not self._holding:
            self._rearm()
        return d

    @property
    def outstanding(self) -> int:
        return self.session.outstanding if self.session is not None else 0

    # --- SmppProtocol hooks ----------------------------------------------------------------
    def response_received(self, event: ResponseReceived) -> None:
        context = event.context
        if context is _BIND:
            status = event.response.command_status
            if status == CommandStatus.ESME_ROK and self.session.is_bound:
                self.bound = True
                self.bind.failures = 0
                self.bind.protocol_bound(self)
            else:
                self.bind.failures += 1
                delay = min(self.bind.settings.reconnect_max, 2.0 ** self.bind.failures)
                log.warn("upstream {name}: bind refused with {status:#x}; retrying in {delay}s",
                         name=self.bind.settings.name, status=status, delay=delay,
                         event="connector.bind_refused")
                self.bind.last_error = f"bind refused: {status:#x}"
                # closing at once would make ClientService reconnect without backoff (the TCP
                # connect succeeded); wait, then close
                self.clock.callLater(delay, self.lose_connection)
            return
        if isinstance(context, Deferred) and not context.called:
            context.callback(event.response)

    def request_timed_out(self, event: RequestTimedOut) -> None:
        context = event.context
        if isinstance(context, Deferred) and not context.called:
            context.errback(SubmitOutcomeUnknown("no response in time"))

    def request_received(self, pdu: Any) -> None:
        kind = type(pdu)
        if kind is P.DeliverSm or kind is P.DataSm:
            response_class = P.DeliverSmResp if kind is P.DeliverSm else P.DataSmResp
            seq = pdu.sequence_number

            def answer(status: int) -> None:
                self.send_response(response_class(sequence_number=seq, command_status=status))

            def failed(failure) -> None:
                log.failure("upstream {name}: handling {kind} failed", failure,
                            name=self.bind.settings.name, kind=kind.__name__)
                answer(CommandStatus.ESME_RSYSERR)

            self.bind.owner.inbound(pdu).addCallbacks(answer, failed)
        elif kind is P.Outbind or kind is P.AlertNotification:
            return  # no answer exists for these
        else:
            self.send_response(P.GenericNack(sequence_number=pdu.sequence_number,
                                             command_status=CommandStatus.ESME_RINVCMDID))

    def session_closed(self, unanswered: list[tuple[Any, Any]]) -> None:
        for _, context in unanswered:
            if isinstance(context, Deferred) and not context.called:
                context.errback(SubmitOutcomeUnknown("connection lost before the answer"))
        was_bound, self.bound = self.bound, False
        self.bind.protocol_lost(self, was_bound)


class _UpstreamFactory(Factory):
    def __init__(self, bind: UpstreamBind) -> None:
        self.bind = bind

    def buildProtocol(self, addr) -> UpstreamProtocol:
        protocol = UpstreamProtocol(self.bind)
        protocol.factory = self
        return protocol


def client_endpoint(reactor: Any, settings: ConnectorSettings) -> IStreamClientEndpoint:
    """Plain TCP, or TLS 1.2+ verifying the chain and the host name (service_identity)
    against `ca_file` (or the platform's trust store), or TLS without verification when
    `tls_verify` is off (an explicit opt-out)."""
    endpoint = HostnameEndpoint(reactor, settings.host, settings.port, timeout=10)
    if not settings.tls:
        return endpoint
    if settings.tls_verify:
        if settings.ca_file:
            pem = Path(settings.ca_file).read_bytes()
            blocks = [b + b"-----END CERTIFICATE-----\n"
                      for b in pem.split(b"-----END CERTIFICATE-----") if b"BEGIN" in b]
            trust = ssl.trustRootFromCertificates(
                [ssl.Certificate.loadPEM(b) for b in blocks])
        else:
            trust = ssl.platformTrust()
        options = ssl.optionsForClientTLS(
            settings.server_name or settings.host, trustRoot=trust,
            extraCertificateOptions={"raiseMinimumTo": ssl.TLSVersion.TLSv1_2})
    else:
        options = ssl.CertificateOptions(verify=False, raiseMinimumTo=ssl.TLSVersion.TLSv1_2)
    return wrapClientTLS(options, endpoint)


@dataclass
class BindHealth:
    kind: str
    state: str
    in_flight: int
    window: int
    last_error: str


class UpstreamBind:
    """One upstream session of `kind`, reconnected with backoff while started."""

    def __init__(self, *, settings: ConnectorSettings, kind: str, owner: BindOwner,
                 clock: IReactorTime, endpoint: IStreamClientEndpoint) -> None:
        self.settings = settings
        self.kind = kind
        self.owner = owner
        self.clock = clock
        self.failures = 0
        self.last_error = ""
        self.protocol: UpstreamProtocol | None = None  # bound protocol, or None
        self.reserved = 0  # submits being prepared for this bind (durable mark in flight)
        self.session_config = SessionConfig(
            role=Role.ESME, bind_timeout=0, response_timeout=settings.response_timeout,
            enquire_link_interval=settings.enquire_link, window=settings.window)
        self._service = ClientService(
            endpoint, _UpstreamFactory(self),
            retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=settings.reconnect_max),
            clock=clock)

    @property
    def can_submit(self) -> bool:
        return self.kind != "receiver"

    @property
    def is_up(self) -> bool:
        return self.protocol is not None

    def has_room(self) -> bool:
        p = self.protocol
        return p is not None and p.outstanding + self.reserved < self.settings.window

    def start(self) -> None:
        self._service.startService()

    def stop(self) -> Deferred:
        """Unbind (if bound) and stop reconnecting; fires when the connection is gone."""
        protocol = self.protocol
        if protocol is not None:
            protocol.start_unbind()
        return self._service.stopService()

    def protocol_bound(self, protocol: UpstreamProtocol) -> None:
        self.protocol = protocol
        self.last_error = ""
        log.info("upstream {name}: bound as {kind}", name=self.settings.name, kind=self.kind,
                 event="connector.up")
        self.owner.bind_up(self)

    def protocol_lost(self, protocol: UpstreamProtocol, was_bound: bool) -> None:
        if self.protocol is protocol:
            self.protocol = None
        if was_bound:
            log.info("upstream {name}: {kind} bind lost", name=self.settings.name,
                     kind=self.kind, event="connector.down")
            self.owner.bind_down(self)

    def health(self) -> BindHealth:
        p = self.protocol
        state = "bound" if p is not None else ("connecting" if self._service.running
                                               else "stopped")
        return BindHealth(kind=self.kind, state=state,
                          in_flight=(p.outstanding if p else 0) + self.reserved,
                          window=self.settings.window, last_error=self.last_error)
