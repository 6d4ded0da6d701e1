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
    idle   between requests on a kept-alive connection: Twisted's idle timer
           (idle_timeout), reset by data as before

A deadline that passes answers 408 (JSON) and closes the connection; nothing is
processed. GuardedSite counts open connections per peer address and in total; a
connection past either cap gets a 503 (JSON) and is closed at once, before any byte of
it is read, so one address cannot take the connections every other client needs.
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
    """An HTTPChannel whose request head and body must arrive within their deadlines."""

    site: GuardedSite
    peer_host = ""
    _phase = "head"
    _deadline: IDelayedCall | None = None

    _host: Any = None
    _secure: bool | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._expect("head")

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
        if self._phase == "idle":  # the first byte of the next request on this connection
            self._expect("head")
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        super().allHeadersReceived()
        if self.length != 0 and self._phase == "head":  # a body follows (None: chunked)
            self._expect("body")

    def allContentReceived(self) -> None:
        self._expect("busy")
        super().allContentReceived()

    def requestDone(self, request: Any) -> None:
        # before the base class: it replays pipelined bytes through dataReceived
        self._expect("idle")
        super().requestDone(request)

    def connectionLost(self, reason: Any) -> None:
        self._expect("closed")
        super().connectionLost(reason)
        self.site.connection_closed(self)

    def _respondToBadRequestAndDisconnect(self) -> None:  # noqa: N802 (Twisted's name)
        # Twisted's own answer to bytes it cannot parse (a bad request line, header or
        # chunk, a Content-Length that is no number, a head above 16 KB) is a bare 400:
        # the same, in the JSON every other answer has
        self._expect("closed")
        self.transport.write(raw_json_error(
            400, "Bad Request", "bad_request", "not a valid HTTP/1.1 request (request line, "
            "headers up to 16 KB, length or chunked encoding)"))
        self.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: N802 (Twisted's name)
        self._respondToBadRequestAndDisconnect()  # a header line above 16 KB: no answer else

    def _expect(self, phase: str) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self._phase = phase
        limits = self.site.limits
        seconds = {"head": limits.header_timeout, "body": limits.body_timeout}.get(phase)
        if seconds is not None:
            self._deadline = self.callLater(seconds, self._too_slow, phase, seconds)

    def _too_slow(self, phase: str, seconds: float) -> None:
        self._deadline = None
        if self._phase != phase or self.transport is None:
            return
        log.debug("HTTP peer {peer} too slow: no whole request {phase} in {seconds:g} s",
                  peer=self.peer_host, phase=phase, seconds=seconds, event="http.too_slow")
        self.site.timed_out += 1
        self._phase = "closed"
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
        super().__init__(resource, max_body=max_body, timeout=limits.idle_timeout, **kwargs)
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
