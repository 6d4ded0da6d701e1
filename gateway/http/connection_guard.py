"""Slow and greedy HTTP peers: deadlines for the request head and body, an idle limit for
kept-alive connections, and caps on open connections per client address and in total.

Theory of operation. Twisted's HTTPChannel has one idle timer, reset by every byte, so a
peer sending a header byte a second holds a connection forever ("slowloris"); a few
hundred such peers hold every file descriptor. GuardedChannel adds one deadline per
phase of a request, never reset by data:

    head   from the connection's start (or the first byte of the next request on a
           kept-alive connection) until the blank line ending the headers: header_timeout
    body   from the end of the head until the last body byte: body_timeout
    busy   the request is being answered: no deadline (the gateway is the slow one)
    idle   between requests on a kept-alive connection: idle_timeout from the end of
           the last answer (Twisted's own idle timer is off: this limit replaces it)

A deadline that passes answers 408 (JSON) and closes the connection; nothing is
processed. The idle limit also closes a connection that is silent for idle_timeout in the
middle of a head or body, as Twisted's timer did.

All of them share one timer per connection, moved later lazily: it is set to go off at or
before what is due, and when it goes off early it sets itself again for what is due then.
A kept-alive connection's requests (four phases each) then cost no timer at all until the
first deadline it was set for comes. Before, each request set and cancelled the head and
the body deadline and Twisted's idle timer: three callLater and three cancels. Each
deadline still holds to the moment: the timer is only ever early, never late.

GuardedSite counts open connections per peer address and in total; a connection past
either cap gets a 503 (JSON) and is closed at once, before any byte of it is read, so one
address cannot take the connections every other client needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.http import HTTPChannel

from gateway.http.web import CappedSite, raw_json_error

__all__ = ["ConnectionLimits", "GuardedChannel", "GuardedSite"]

log = Logger()


@dataclass(frozen=True, kw_only=True)
class ConnectionLimits:
    """What a client may hold of the HTTP listener ([http] in the config)."""

    header_timeout: float = 10.0  # s for the whole request head (request line + headers)
    body_timeout: float = 30.0  # s for the whole body, from the end of the head
    idle_timeout: float = 60.0  # s a kept-alive connection may wait for its next request
    max_connections: int = 2048  # open at once, all clients together
    max_connections_per_ip: int = 128  # open at once from one client address


class GuardedChannel(HTTPChannel):
    """An HTTPChannel whose request head and body must arrive within their deadlines, and
    which may wait idle_timeout for its next request (the site turns Twisted's own idle
    timer off: this one replaces it)."""

    site: GuardedSite
    peer_host = ""
    _phase = "head"
    _phase_due: float | None = None  # when the head or body must be whole
    _heard = 0.0  # when the peer last sent a byte (or the last request was answered)
    _timer: IDelayedCall | None = None  # goes off at or before the first thing due

    _host: Any = None
    _secure: bool | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._heard = self.site.reactor.seconds()
        self._expect("head", self._heard)

    # Twisted asks these per request (Request.__init__ and Klein's URL parts, several
    # times): a getsockname() call and a zope adaptation each. A connection's local
    # address and whether it is TLS do not change while it is open: work them out once.
    def getHost(self) -> Any:  # noqa: N802 (Twisted's name)
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def isSecure(self) -> bool:  # noqa: N802 (Twisted's name)
        if self._secure is None:
            self._secure = bool(super().isSecure())
        return self._secure

    def dataReceived(self, data: bytes) -> None:
        self._heard = now = self.site.reactor.seconds()
        if self._phase == "idle":  # the first byte of the next request on this connection
            self._expect("head", now)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        super().allHeadersReceived()
        if self.length != 0 and self._phase == "head":  # a body follows (None: chunked)
            self._expect("body", self.site.reactor.seconds())

    def allContentReceived(self) -> None:
        self._phase = "busy"  # the gateway is the slow one: nothing is due
        self._phase_due = None
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        # before the base class: it replays pipelined bytes through dataReceived
        if self._phase != "closed":  # a connection going away waits for nothing more
            self._heard = now = self.site.reactor.seconds()
            self._expect("idle", now)
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:
        self._close()
        super().connectionLost(reason)
        self.site.connection_closed(self)

    def _respondToBadRequestAndDisconnect(self) -> None:  # noqa: N802 (Twisted's name)
        # Twisted's own answer to bytes it cannot parse (a bad request line, header or
        # chunk, a Content-Length that is no number, a head above 16 KB) is a bare 400:
        # the same, in the JSON every other answer has
        self._close()
        self.transport.write(raw_json_error(
            400, "Bad Request", "bad_request", "not a valid HTTP/1.1 request (request line, "
            "headers up to 16 KB, length or chunked encoding)"))
        self.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: N802 (Twisted's name)
        self._respondToBadRequestAndDisconnect()  # a header line above 16 KB: no answer else

    def _expect(self, phase: str, now: float) -> None:
        """`phase` begins at `now`: its deadline (head, body) or the idle limit is due."""
        self._phase = phase
        limits = self.site.limits
        if phase == "head":
            self._phase_due = now + limits.header_timeout
        elif phase == "body":
            self._phase_due = now + limits.body_timeout
        else:
            self._phase_due = None
        self._due_by(self._first_due())

    def _first_due(self) -> float:
        idle_due = self._heard + self.site.limits.idle_timeout
        phase_due = self._phase_due
        return idle_due if phase_due is None or idle_due < phase_due else phase_due

    def _due_by(self, due: float) -> None:
        timer = self._timer
        if timer is not None:
            if timer.getTime() <= due:
                return  # it goes off first and sets itself again for what is due then
            timer.cancel()
        self._timer = self.callLater(max(0.0, due - self.site.reactor.seconds()),
                                     self._timer_went_off)

    def _timer_went_off(self) -> None:
        self._timer = None
        if self._phase in ("busy", "closed") or self.transport is None:
            return  # nothing is due until the next phase begins (it sets the timer)
        now = self.site.reactor.seconds()
        phase_due = self._phase_due
        if phase_due is not None and now >= phase_due:
            self._too_slow()
        elif now >= self._heard + self.site.limits.idle_timeout:
            self._close()
            self.timeoutConnection()  # Twisted's idle close, as its own timer did it
        else:
            self._due_by(self._first_due())

    def _close(self) -> None:
        self._phase = "closed"
        self._phase_due = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        phase = self._phase
        seconds = (self.site.limits.header_timeout if phase == "head"
                   else self.site.limits.body_timeout)
        log.debug("HTTP peer {peer} too slow: no whole request {phase} in {seconds:g} s",
                  peer=self.peer_host, phase=phase, seconds=seconds, event="http.too_slow")
        self.site.timed_out += 1
        self._close()
        self.transport.write(raw_json_error(
            408, "Request Timeout", "request_timeout",
            f"the request {phase} did not arrive within {seconds:g} s"))
        # a peer that reads nothing either: abort once abortTimeout has passed
        self._abortingCall = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()


class _Refused(Protocol):
    """The whole life of a connection past a cap: a 503 and the close."""

    def __init__(self, message: str) -> None:
        self._message = message

    def connectionMade(self) -> None:
        self.transport.write(raw_json_error(503, "Service Unavailable",
                                            "too_many_connections", self._message))
        self.transport.loseConnection()


class GuardedSite(CappedSite):
    """The APIs' Site with the request deadlines and the connection caps of `limits`."""

    protocol = GuardedChannel

    def __init__(self, resource: Any, *, max_body: int, limits: ConnectionLimits,
                 **kwargs: Any) -> None:
        # timeout=None: Twisted's idle timer is off, GuardedChannel's one timer keeps the limit
        super().__init__(resource, max_body=max_body, timeout=None, **kwargs)
        self.limits = limits
        self._open_by_host: dict[str, int] = {}
        self._open = 0
        self.refused = 0  # connections refused for a cap, since start
        self.timed_out = 0  # connections closed for a deadline, since start

    @property
    def open_connections(self) -> int:
        return self._open

    def buildProtocol(self, addr: Any) -> Protocol | None:
        host = getattr(addr, "host", "") or ""
        limits = self.limits
        if self._open >= limits.max_connections:
            return self._refuse(host, f"the gateway has {limits.max_connections} HTTP "
                                      "connections open; retry shortly")
        if self._open_by_host.get(host, 0) >= limits.max_connections_per_ip:
            return self._refuse(host, f"{limits.max_connections_per_ip} connections from "
                                      f"{host} are open; use fewer (keep-alive) connections")
        channel = super().buildProtocol(addr)
        if channel is None:
            return None
        channel.peer_host = host
        self._open += 1
        self._open_by_host[host] = self._open_by_host.get(host, 0) + 1
        return channel

    def connection_closed(self, channel: GuardedChannel) -> None:
        """A channel `buildProtocol` counted is gone."""
        self._open -= 1
        left = self._open_by_host.get(channel.peer_host, 0) - 1
        if left > 0:
            self._open_by_host[channel.peer_host] = left
        else:
            self._open_by_host.pop(channel.peer_host, None)  # no entry kept per past peer

    def _refuse(self, host: str, message: str) -> Protocol:
        self.refused += 1
        log.debug("HTTP connection from {peer} refused: {why}", peer=host, why=message,
                  event="http.refused")
        return _Refused(message)
