"""One keep-alive connection to a webhook receiver: a request at a time written to it, its
response parsed by httptools (llhttp) and answered as twisted.web's IResponse would be
(`code`, `deliverBody`), then the connection handed back to its pool or closed.

An Exchange is one request and what it waits on: the connection being made for it, or
the connection whose response it waits for; cancelling its Deferred aborts either."""
from __future__ import annotations

from typing import Any, Protocol as Interface

import httptools
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed, ResponseNeverReceived
from twisted.web.http import PotentialDataLoss

from gateway.http.webhook_request import Target

__all__ = ["BadResponse", "Connection", "Exchange", "Owner", "Response"]

MAX_HEAD = 64 * 1024  # response bytes before its headers end: past this it is no receiver
MAX_HELD = 1024 * 1024  # body bytes held for a deliverBody not called yet


class BadResponse(Exception):
    """The receiver's bytes are not an HTTP/1.x response (or its head never ends)."""


class Exchange:
    """One request: its target, its bytes, the Deferred its response fires."""

    def __init__(self, target: Target, data: bytes) -> None:
        self.target = target
        self.data = data
        self.result: Deferred[Response] = Deferred(self._cancel)
        self.connection: Connection | None = None
        self.connecting: Deferred[Any] | None = None
        self.retried = False

    def _cancel(self, _: Deferred[Any]) -> None:
        if self.connection is not None:
            self.connection.drop()
        elif self.connecting is not None:
            self.connecting.cancel()


class Owner(Interface):
    """The pool a connection belongs to."""

    def release(self, connection: Connection) -> None: ...
    def lost(self, connection: Connection) -> None: ...
    def connect(self, exchange: Exchange) -> None: ...


class Response:
    """What of IResponse the sender (and readBody) use: the status, its phrase and the
    body, delivered (chunks that came before `deliverBody` are held, up to MAX_HELD)."""

    def __init__(self, code: int, phrase: bytes, connection: Connection) -> None:
        self.code = code
        self.phrase = phrase
        self._connection: Connection | None = connection  # None once the body ended
        self._protocol: Protocol | None = None
        self._held: list[bytes] = []
        self._held_size = 0
        self._ended: Failure | None = None

    def deliverBody(self, protocol: Protocol) -> None:
        self._protocol = protocol
        protocol.makeConnection(_BodyTransport(self))
        held, self._held = self._held, []
        for chunk in held:
            protocol.dataReceived(chunk)
        if self._ended is not None:
            protocol.connectionLost(self._ended)

    def stop(self) -> None:
        """The body protocol wants no more: drop the connection if it is still this
        response's."""
        if self._connection is not None:
            self._connection.drop()

    def data(self, chunk: bytes) -> None:
        if self._protocol is not None:
            self._protocol.dataReceived(chunk)
            return
        self._held_size += len(chunk)
        if self._held_size > MAX_HELD:
            self.stop()
        else:
            self._held.append(chunk)

    def end(self, how: Failure) -> None:
        self._connection = None
        if self._protocol is None:
            self._ended = how
        else:
            self._protocol.connectionLost(how)


class _BodyTransport:
    """A body protocol's transport: stopProducing (or abortConnection, as readBody calls
    it) drops the connection."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def stopProducing(self) -> None:
        self._response.stop()

    def abortConnection(self) -> None:
        self._response.stop()

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


class Connection(Protocol):
    """A connection to one receiver; `request` writes an exchange's bytes to it."""

    def __init__(self, owner: Owner, key: tuple[bytes, bytes, int]) -> None:
        self.key = key
        self.reused = False  # it has answered before: a close may be the idle race
        self.idle_since = 0.0  # when it last went back to its pool
        self._owner = owner
        self._parser = httptools.HttpResponseParser(self)
        self._exchange: Exchange | None = None
        self._response: Response | None = None
        self._unanswered: Response | None = None  # its head parsed, its Deferred not fired
        self._phrase = b""
        self._head_size = 0
        self._got_bytes = False
        self._until_close = True  # no length and no chunks: the body ends at the close
        self._keep_alive = False
        self._complete = False
        self._unasked = False  # bytes began another response, which nothing asked for
        self._lost = False
        self._lost_waiters: list[Deferred[None]] = []

    # --- the pool's calls -------------------------------------------------------------------
    def request(self, exchange: Exchange) -> None:
        self._exchange = exchange
        exchange.connection = self
        exchange.connecting = None
        self._response = None
        self._head_size = 0
        self._got_bytes = False
        self._until_close = True
        self._complete = False
        self.transport.write(exchange.data)

    def drop(self) -> None:
        """Abort the connection: a cancelled request, a body nobody wants."""
        if not self._lost and self.transport is not None:
            self.transport.abortConnection()

    def close(self) -> Deferred[None]:
        """Close an idle connection; fires once it is closed."""
        d: Deferred[None] = Deferred()
        if self._lost:
            d.callback(None)
            return d
        self._lost_waiters.append(d)
        self.transport.loseConnection()
        return d

    # --- the transport's calls ----------------------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        exchange = self._exchange
        if exchange is None:
            self.drop()  # bytes while idle: this connection's state is unknown
            return
        self._got_bytes = True
        try:
            if self._response is None:
                self._head_size += len(data)
            self._parser.feed_data(data)
            if self._response is None and self._head_size > MAX_HEAD:
                raise BadResponse(f"the response's head is over {MAX_HEAD} bytes")
        except BadResponse as exc:
            self._broken(Failure(exc))
        except httptools.HttpParserError as exc:
            self._broken(Failure(BadResponse(f"malformed HTTP response: {exc}")))
        else:
            if self._complete:
                if self._unasked:  # bytes after the response: its state is unknown
                    self._keep_alive = False
                self._finish()
        # Answered after the whole chunk is parsed: a response that came in one read (the
        # usual one) is then whole, and its body is handed over at once, with no Deferred
        # waiting on the body's end.
        response, self._unanswered = self._unanswered, None
        if response is not None and not exchange.result.called:
            exchange.result.callback(response)

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:
        self._lost = True
        self._owner.lost(self)
        exchange, self._exchange = self._exchange, None
        response, self._response = self._response, None
        if response is not None:
            response.end(Failure(PotentialDataLoss()) if self._until_close
                         else Failure(ResponseFailed([reason])))
        elif exchange is not None and not exchange.result.called:
            if (self.reused and not self._got_bytes and not exchange.retried
                    and reason.check(ConnectionDone, ConnectionLost)):
                exchange.retried = True  # the receiver closed it idle as it was taken
                exchange.connection = None
                self._owner.connect(exchange)
            elif self._got_bytes:
                exchange.result.errback(ResponseFailed([reason]))
            else:
                exchange.result.errback(ResponseNeverReceived([reason]))
        waiters, self._lost_waiters = self._lost_waiters, []
        for d in waiters:
            d.callback(None)

    # --- httptools' callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._complete:
            self._unasked = True

    def on_status(self, phrase: bytes) -> None:
        self._phrase = phrase

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._until_close = False

    def on_headers_complete(self) -> None:
        code = self._parser.get_status_code()
        if code < 200 or self._unasked or self._exchange is None:
            return  # 1xx: informational, the response proper follows
        self._keep_alive = self._parser.should_keep_alive()
        self._response = self._unanswered = Response(code, self._phrase, self)

    def on_body(self, chunk: bytes) -> None:
        if self._response is not None and not self._unasked:
            self._response.data(chunk)

    def on_message_complete(self) -> None:
        if self._response is not None and not self._unasked:
            self._complete = True

    # --- endings ------------------------------------------------------------------------------
    def _finish(self) -> None:
        """The whole response arrived: the connection goes back (or closes) before the
        body's end is told, so that what that sets off may take this connection."""
        response, self._response = self._response, None
        self._exchange = None
        self._complete = False
        if self._keep_alive and not self._lost:
            self.reused = True
            self._owner.release(self)
        else:
            self.transport.loseConnection()
        if response is not None:
            response.end(Failure(ResponseDone()))

    def _broken(self, failure: Failure) -> None:
        exchange, self._exchange = self._exchange, None
        response, self._response = self._response, None
        if response is not None:
            response.end(Failure(ResponseFailed([failure])))
        elif exchange is not None and not exchange.result.called:
            exchange.result.errback(failure)
        self.drop()
