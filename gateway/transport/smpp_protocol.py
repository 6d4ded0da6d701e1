"""Twisted Protocol ↔ sans-I/O Session: bytes in, events out, one timer re-armed from
the session's next deadline. Role-specific behaviour lives in subclasses.

Backpressure: the protocol registers itself with its transport as a streaming producer
(IPushProducer). When the transport's write buffer passes its high-water mark (the peer
is not reading what we write) Twisted calls `pauseProducing`: the protocol then reports
itself `paused`, so nothing more is pushed to it (SmscProtocol.has_room), and a bound
session stops reading the peer's requests (each would add an answer to the buffer),
until the buffer has drained and `resumeProducing` comes. Memory per connection stays
bounded by the window plus one buffer's worth, whatever the peer does."""
from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from gateway.smpp.events import (
    BindTimedOut,
    CloseConnection,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from gateway.smpp.session import Session, SessionConfig

log = Logger()

# How long a closing connection may take to flush before it is aborted: a peer
# that stops reading must not keep the socket (and its buffer) forever.
CLOSE_GRACE = 5.0


@implementer(IPushProducer)
class SmppProtocol(Protocol):
    """Drives a Session; subclasses implement request_received / response_received."""

    def __init__(self, session_config: SessionConfig, clock: IReactorTime) -> None:
        self.session_config = session_config
        self.clock = clock
        self.session: Session | None = None
        self.closed = False
        self._closing = False
        self._timer: IDelayedCall | None = None
        self._abort_timer: IDelayedCall | None = None
        self.when_closed: Deferred[None] = Deferred()
        self.paused = False  # the transport's write buffer is over its high-water mark
        self._producing = False  # registered with the transport as its producer
        self._reads_paused = False  # pauseProducing stopped reading the peer
        self._holding = False  # hold_writes: send_request leaves its PDU in the session

    # --- hooks for subclasses ----------------------------------------------------------------
    def request_received(self, pdu: Any) -> None:
        raise NotImplementedError

    def response_received(self, event: ResponseReceived) -> None:
        """A response to a request we sent; `event.context` is what send_request was given."""

    def request_timed_out(self, event: RequestTimedOut) -> None:
        """A request we sent got no response in time (the connection is closing)."""

    def session_unbound(self, by_peer: bool) -> None:
        """The session ended by unbind (ours or theirs)."""

    def session_closed(self, unanswered: list[tuple[Any, Any]]) -> None:
        """The connection is gone; `unanswered` are our requests that got no response."""

    def writable_again(self) -> None:
        """The peer read what was buffered for it: it may be sent more (see `paused`)."""

    # --- IPushProducer: the transport's flow control ----------------------------------------
    def pauseProducing(self) -> None:
        """The write buffer is full: stop taking new requests to send and, once bound,
        stop reading the peer (its requests would only add answers to the buffer).

        Before the bind no reading is paused: the pause may be the TLS layer holding our
        first writes (the ESME's bind) until its handshake is done, and the handshake
        needs reads; an unbound peer can only get error answers until bind_timeout."""
        if self.paused or self._closing or self.closed:
            return
        self.paused = True
        if self.session is not None and self.session.is_bound:
            self._reads_paused = True
            log.info("{peer}: not reading; write buffer full, pausing the session",
                     peer=self._peer())
            self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        if not self.paused:
            return
        self.paused = False
        if self._closing or self.closed:
            return
        if self._reads_paused:
            self._reads_paused = False
            log.info("{peer}: write buffer drained, resuming the session", peer=self._peer())
            self.transport.resumeProducing()
        self.writable_again()

    def stopProducing(self) -> None:
        """The connection is going away; connectionLost does the cleanup."""

    # --- sending -----------------------------------------------------------------------------
    def send_request(self, pdu: Any, context: Any = None) -> int:
        """Send a request (may raise WindowFull or SessionUsageError)."""
        assert self.session is not None
        now = self.clock.seconds()
        sequence = self.session.send_request(pdu, now, context)
        if self._holding:
            return sequence  # release_writes writes it and arms its deadline
        # Its deadline (now + response_timeout) is no earlier than any outstanding one, and
        # sending moves no other deadline earlier: the timer needs arming only when it is
        # missing or set later than that deadline (the bind or enquire_link timer can be,
        # when response_timeout is the shorter one).
        timer = self._timer
        settled = (timer is not None and timer.active()
                   and timer.getTime() <= now + self.session_config.response_timeout)
        self._flush(rearm=not settled)
        return sequence

    def hold_writes(self) -> None:
        """Let the following send_requests encode without writing, until release_writes:
        a burst of deliver_sm goes out in one transport write, not one write each."""
        self._holding = True

    def release_writes(self) -> None:
        """Write what the sends since hold_writes encoded, and arm their deadline."""
        if not self._holding:
            return
        self._holding = False
        self._flush()  # one _rearm for the burst: it moves the timer only to an earlier deadline

    def send_response(self, pdu: Any) -> None:
        if self.closed or self.session is None:
            return
        # Answering while bound sets no deadline (only a bind's answer changes the state).
        settled = self.session.is_bound and self._timer_armed()
        events = self.session.send_response(pdu)
        if events:  # the last answer a peer that unbound was waiting for
            self._handle(events)
            settled = False
        self._flush(rearm=not settled)

    def send_responses(self, pdus: list[Any]) -> None:
        """`send_response` of each, written together (the answers to one read's submits)."""
        if self.closed or self.session is None:
            return
        settled = self.session.is_bound and self._timer_armed()
        send = self.session.send_response
        for pdu in pdus:
            events = send(pdu)
            if events:
                self._handle(events)
                settled = False
                if self.closed or self.session is None:
                    return
        self._flush(rearm=not settled)

    def lose_connection(self) -> None:
        """Close once what is buffered is written (a registered producer would hold the
        close back while paused, so it lets go first)."""
        if self.transport is None:
            return
        if self._producing:
            self._producing = False
            self.transport.unregisterProducer()
        self.transport.loseConnection()

    def start_unbind(self) -> None:
        if self.closed or self.session is None or self._closing:
            return
        self.session.start_unbind(self.clock.seconds())
        self._flush()

    # --- Twisted hooks -----------------------------------------------------------------------
    def connectionMade(self) -> None:
        self.session = Session(self.session_config, self.clock.seconds())
        self.transport.registerProducer(self, True)
        self._producing = True
        self._rearm()

    def dataReceived(self, data: bytes) -> None:
        if self._closing or self.session is None:
            return
        self._handle(self.session.receive_data(data, self.clock.seconds()))
        self._flush()

    def connectionLost(self, reason: Failure = None) -> None:
        self.closed = True
        for timer in (self._timer, self._abort_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._timer = self._abort_timer = None
        unanswered = self.session.connection_lost() if self.session is not None else []
        try:
            self.session_closed(unanswered)
        finally:
            self.when_closed.callback(None)

    # --- internals ---------------------------------------------------------------------------
    def _handle(self, events: list) -> None:
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                self.request_received(event.pdu)
            elif kind is ResponseReceived:
                self.response_received(event)
            elif kind is CloseConnection:
                self._close(event.reason)
            elif kind is Unbound:
                self.session_unbound(event.by_peer)
            elif kind is ProtocolViolation:
                log.debug("{peer}: {detail} (answered {status:#x})", peer=self._peer(),
                          detail=event.detail, status=event.command_status)
            elif kind is RequestTimedOut:
                log.info("{peer}: no response to {request}", peer=self._peer(),
                         request=type(event.request).__name__)
                self.request_timed_out(event)
            elif kind is BindTimedOut:
                log.info("{peer}: did not bind in time", peer=self._peer())

    def _flush(self, rearm: bool = True) -> None:
        if self.session is None or self.transport is None:
            return
        data = self.session.data_to_send()
        if data and not self.closed:
            self.transport.write(data)
        if rearm and not self._closing:
            self._rearm()

    def _timer_armed(self) -> bool:
        timer = self._timer
        return timer is not None and timer.active()

    def _close(self, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        log.debug("{peer}: closing: {reason}", peer=self._peer(), reason=reason)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        data = self.session.data_to_send() if self.session else b""
        if data:
            self.transport.write(data)
        self.lose_connection()
        self._abort_timer = self.clock.callLater(CLOSE_GRACE, self.transport.abortConnection)

    def _rearm(self) -> None:
        # Re-arm only when the deadline moves earlier; a timer that fires early just
        # re-reads the deadline. That keeps one DelayedCall.reset off the per-PDU path.
        deadline = self.session.next_deadline() if self.session else None
        timer = self._timer
        if deadline is None:
            return
        if timer is not None and timer.active():
            if deadline >= timer.getTime():
                return
            timer.reset(max(deadline - self.clock.seconds(), 0))
            return
        self._timer = self.clock.callLater(max(deadline - self.clock.seconds(), 0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closing or self.session is None:
            return
        self._handle(self.session.handle_timer(self.clock.seconds()))
        self._flush()

    def _peer(self) -> str:
        try:
            peer = self.transport.getPeer()
            return f"{peer.host}:{peer.port}"
        except Exception:
            return "?"
