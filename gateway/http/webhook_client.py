"""The HTTP client webhooks go out through: persistent HTTP/1.1 connections per receiver
(http/webhook_connection.py), each request one buffer (http/webhook_request.py), each
response parsed by httptools (llhttp, in C).

Why not twisted.web's Agent (bench/profiles/webhooks.md): in the webhook bench the
sender's reactor thread was the bottleneck, and Agent's per-request machinery (a Request
and its body producer, Headers objects, a parser in Python, a Response with its
transport proxy, the pool's retrying wrapper) was about a third of it. Webhooks need
little of that: one method (POST), a body already in memory, no cookies, no redirects,
the response body discarded. So this client

- turns each URL into its request target once (a non-ASCII host through IDNA, by
  hyperlink; then checked and parsed as Agent.request does it) and keeps that, bounded;
- keeps one endpoint per (scheme, host, port), TLS checked as treq/Agent do it
  (BrowserLikePolicyForHTTPS: the certificate must match the host);
- keeps idle connections per (scheme, host, port), at most `per_host`, newest used
  first, each closed after IDLE_TIMEOUT unused (one timer, for the longest idle, rather
  than one set and cancelled per request); a response that is not keep-alive
  (HTTP/1.0, `Connection: close`, a body read until the close) closes its connection;
- retries a request once, on a new connection, when a reused connection closes before
  any byte of its response: the receiver closed it, idle, as it was taken (the race
  every keep-alive client has). Agent retries only idempotent methods; a webhook is
  de-duplicated by its event id, so a second copy is harmless, while a failure would
  cost the URL a backoff;
- answers as IResponse does, for the part the sender uses: `code`, and
  `deliverBody(protocol)`, which streams the body and ends it with ResponseDone
  (PotentialDataLoss for a body read until the close) or ResponseFailed.

Errors are Agent's: the endpoint's own when connecting (refused, DNS, TLS, timeout);
ResponseNeverReceived / ResponseFailed wrapping the reason when the connection drops;
BadResponse (ours) when the bytes are not an HTTP/1.x response. Cancelling the Deferred
(the sender's timeout) aborts the connection. Redirects are never followed.
"""
from __future__ import annotations

from typing import Any

from hyperlink import URL
from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.web.client import URI, BrowserLikePolicyForHTTPS, _ensureValidURI
from twisted.web.error import SchemeNotSupported

from gateway.http.webhook_connection import BadResponse, Connection, Exchange, Response
from gateway.http.webhook_request import Target, host_value, request_bytes

__all__ = ["BadResponse", "WebhookClient"]

MAX_REMEMBERED = 10_000  # URLs and endpoints kept: receivers repeat, memory stays bounded
IDLE_TIMEOUT = 60.0  # seconds an unused connection is kept open

_Key = tuple[bytes, bytes, int]  # (scheme, host, port)


class _Endpoints:
    """One endpoint per (scheme, host, port), made once."""

    def __init__(self, reactor: Any, tls: BrowserLikePolicyForHTTPS) -> None:
        self._reactor = reactor
        self._tls = tls
        self._made: dict[_Key, IStreamClientEndpoint] = {}

    def endpoint_for(self, uri: URI) -> IStreamClientEndpoint:
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._made.get(key)
        if endpoint is None:
            endpoint = self._make(uri)
            if len(self._made) >= MAX_REMEMBERED:
                self._made.clear()
            self._made[key] = endpoint
        return endpoint

    def _make(self, uri: URI) -> IStreamClientEndpoint:
        if uri.scheme not in (b"http", b"https"):
            raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")
        host = uri.host.decode("ascii")  # the URI bytes hold the IDNA form already
        tcp = HostnameEndpoint(self._reactor, host, uri.port)
        if uri.scheme == b"http":
            return tcp
        return wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), tcp)


class _ConnectionFactory(Factory):
    noisy = False  # not a log line per connection

    def __init__(self, pool: _Pool, key: _Key) -> None:
        self._pool = pool
        self._key = key

    def buildProtocol(self, addr: Any) -> Connection:
        return Connection(self._pool, self._key)


class _Pool:
    """Idle connections per (scheme, host, port), the newest used first."""

    def __init__(self, clock: IReactorTime, per_host: int) -> None:
        self._clock = clock
        self._per_host = per_host
        self._idle: dict[_Key, list[Connection]] = {}
        self._expiry: IDelayedCall | None = None  # when the longest idle is due to close

    def send(self, target: Target, data: bytes) -> Deferred[Response]:
        exchange = Exchange(target, data)
        idle = self._idle.get(target.key)
        if idle:
            connection = idle.pop()
            connection.request(exchange)
        else:
            self.connect(exchange)
        return exchange.result

    def connect(self, exchange: Exchange) -> None:
        """A new connection for `exchange`."""
        target = exchange.target
        connecting = target.endpoint.connect(_ConnectionFactory(self, target.key))
        exchange.connecting = connecting

        def connected(connection: Connection) -> None:
            if exchange.result.called:  # cancelled while connecting
                connection.drop()
            else:
                connection.request(exchange)

        def failed(failure: Any) -> None:
            exchange.connecting = None
            if not exchange.result.called:
                exchange.result.errback(failure)

        connecting.addCallbacks(connected, failed)

    def release(self, connection: Connection) -> None:
        """`connection` answered and may serve another request."""
        idle = self._idle.setdefault(connection.key, [])
        if len(idle) >= self._per_host:
            connection.transport.loseConnection()
            return
        connection.idle_since = self._clock.seconds()
        idle.append(connection)
        if self._expiry is None:
            self._expiry = self._clock.callLater(IDLE_TIMEOUT, self._expire_due)

    def lost(self, connection: Connection) -> None:
        self._unidle(connection)

    def _unidle(self, connection: Connection) -> None:
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)
            if not idle:
                del self._idle[connection.key]

    def close(self) -> Deferred[None]:
        """Close every idle connection; fires once they are closed."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        closing = [c.close() for idle in list(self._idle.values()) for c in list(idle)]
        d = DeferredList(closing)
        d.addCallback(lambda _: None)
        return d

    def _expire_due(self) -> None:
        """Close the connections idle for IDLE_TIMEOUT, then wait for the next one due."""
        self._expiry = None
        now = self._clock.seconds()
        due = [c for idle in self._idle.values() for c in idle
               if c.idle_since + IDLE_TIMEOUT <= now]
        for connection in due:
            self._unidle(connection)  # not handed out while its close is under way
            connection.close()
        oldest = min((c.idle_since for idle in self._idle.values() for c in idle),
                     default=None)
        if oldest is not None and self._expiry is None:
            self._expiry = self._clock.callLater(oldest + IDLE_TIMEOUT - now, self._expire_due)


class WebhookClient:
    """POSTs over persistent connections, up to `per_host` kept idle per receiver (as
    many as requests may be in flight: a receiver taking them all keeps them all)."""

    def __init__(self, reactor: Any, per_host: int,
                 tls: BrowserLikePolicyForHTTPS | None = None,
                 clock: IReactorTime | None = None) -> None:
        self._pool = _Pool(clock or reactor, per_host)  # the clock: idle connections' timers
        self._endpoints = _Endpoints(reactor, tls or BrowserLikePolicyForHTTPS())
        self._targets: dict[str, Target] = {}

    def post(self, url: str, data: bytes, headers: dict[str, str] | None = None,
             **_treq_options: Any) -> Deferred[Response]:
        """POST `data` to `url`; fires with the response once its headers are in (its
        body follows through deliverBody). treq's keyword options (allow_redirects,
        unbuffered) are accepted for the sender's sake and are what it does anyway."""
        try:
            target = self._targets.get(url)
            if target is None:
                target = self._target(url)
                if len(self._targets) >= MAX_REMEMBERED:
                    self._targets.clear()
                self._targets[url] = target
            request = request_bytes(target, data, headers)
        except Exception:  # noqa: BLE001 (a bad URL, scheme or header: this request
            return fail()  # fails, as Agent.request fails it)
        return self._pool.send(target, request)

    def close(self) -> Deferred[None]:
        """Close the idle connections (those in flight close as they finish)."""
        return self._pool.close()

    def _target(self, url: str) -> Target:
        if url.isascii():
            raw = url.encode("ascii")
        else:  # an IRI: the host through IDNA, the rest percent-encoded
            raw = URL.from_text(url).to_uri().to_text().encode("ascii")
        uri = URI.fromBytes(_ensureValidURI(raw.strip()))
        return Target(uri=uri, key=(uri.scheme, uri.host, uri.port),
                      endpoint=self._endpoints.endpoint_for(uri),
                      path=uri.originForm.decode("latin-1"),
                      host=host_value(uri.scheme, uri.host, uri.port))
