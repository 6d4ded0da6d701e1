"""The HTTP client webhooks go out through: twisted.web's Agent over a persistent
connection pool, with what treq added per request taken out of the hot path.

A profile of bench/webhooks.py (bench/profiles/webhooks.md) put about half the sender's
CPU in treq's per-request layers: a CookieAgent and a ContentDecoderAgent built for every
request, the URL parsed into a hyperlink URL and back (IDNA checks of the host each
time), and a new endpoint (IDNA again) per request. Webhooks need none of that: no
cookies, the response body is discarded unread, and the few receiver URLs repeat. So
this client

- turns each URL into its request target once (a non-ASCII host through IDNA, by
  hyperlink, as treq did; then checked and parsed as Agent.request does it, with its
  pool key, endpoint and Host header) and keeps that, bounded: a request hands it
  straight to Agent's request step, no URL parsing per webhook;
- keeps one endpoint per (scheme, host, port), TLS checked as treq/Agent do it
  (BrowserLikePolicyForHTTPS: the certificate must match the host);
- sends the body from memory at once (no FileBodyProducer and its cooperator task).

Redirects are not followed (Agent never does) and the response is unbuffered: the
caller reads (discards) it, as WebhookSender does. It offers the one method the sender
uses of treq's HTTPClient, so tests may inject StubTreq instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hyperlink import URL
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import (
    URI, Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, _ensureValidURI,
    _HTTP11ClientFactory)
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer, IResponse
from zope.interface import implementer

__all__ = ["WebhookClient"]

MAX_REMEMBERED = 10_000  # URLs and endpoints kept: receivers repeat, memory stays bounded


@implementer(IBodyProducer)
class _Bytes:
    """A request body already in memory: written at once."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._data)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Endpoints:
    """Agent's endpoint factory: one endpoint per (scheme, host, port), made once."""

    def __init__(self, reactor: Any, tls: BrowserLikePolicyForHTTPS) -> None:
        self._reactor = reactor
        self._tls = tls
        self._made: dict[tuple[bytes, bytes, int], IStreamClientEndpoint] = {}

    def endpointForURI(self, uri: Any) -> IStreamClientEndpoint:
        key = (uri.scheme, uri.host, uri.port)
        endpoint = self._made.get(key)
        if endpoint is None:
            endpoint = self._make(uri)
            if len(self._made) >= MAX_REMEMBERED:
                self._made.clear()
            self._made[key] = endpoint
        return endpoint

    def _make(self, uri: Any) -> IStreamClientEndpoint:
        if uri.scheme not in (b"http", b"https"):
            raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")
        host = uri.host.decode("ascii")  # the URI bytes hold the IDNA form already
        tcp = HostnameEndpoint(self._reactor, host, uri.port)
        if uri.scheme == b"http":
            return tcp
        return wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), tcp)


@dataclass(frozen=True, slots=True)
class _Target:
    """What Agent.request works out from a URL, worked out once: the parsed URI, its pool
    key, endpoint, request path and Host header value."""

    uri: URI
    key: tuple[bytes, bytes, int]
    endpoint: IStreamClientEndpoint
    path: bytes
    host: bytes


class _QuietClientFactory(_HTTP11ClientFactory):
    noisy = False  # not a log line per connection


class WebhookClient:
    """POSTs over persistent connections: `per_host` kept open per receiver (as many as
    requests may be in flight: a receiver taking them all keeps them all open)."""

    def __init__(self, reactor: Any, per_host: int,
                 tls: BrowserLikePolicyForHTTPS | None = None) -> None:
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = per_host
        self.pool.cachedConnectionTimeout = 60
        self.pool._factory = _QuietClientFactory
        self._endpoints = _Endpoints(reactor, tls or BrowserLikePolicyForHTTPS())
        self._agent = Agent.usingEndpointFactory(reactor, self._endpoints, pool=self.pool)
        self._targets: dict[str, _Target] = {}

    def post(self, url: str, data: bytes, headers: dict[str, str] | None = None,
             **_treq_options: Any) -> Deferred[IResponse]:
        """POST `data` to `url`; fires with the unbuffered response (redirects are never
        followed). treq's keyword options (allow_redirects, unbuffered) are accepted for
        the sender's sake and are what this client does anyway."""
        target = self._targets.get(url)
        if target is None:
            try:
                target = self._target(url)
            except Exception:  # noqa: BLE001 (a bad URL or scheme: this request fails,
                return fail()  # as Agent.request fails it)
            if len(self._targets) >= MAX_REMEMBERED:
                self._targets.clear()
            self._targets[url] = target
        raw = Headers({name.encode("latin-1"): [value.encode("latin-1")]
                       for name, value in (headers or {}).items()})
        if not raw.hasHeader(b"Host"):
            raw.addRawHeader(b"Host", target.host)
        # Agent.request minus what _target did once: the same step with the same arguments
        return self._agent._requestWithEndpoint(
            target.key, target.endpoint, b"POST", target.uri, raw, _Bytes(data), target.path)

    def _target(self, url: str) -> _Target:
        if url.isascii():
            raw = url.encode("ascii")
        else:  # an IRI: the host through IDNA, the rest percent-encoded
            raw = URL.from_text(url).to_uri().to_text().encode("ascii")
        uri = URI.fromBytes(_ensureValidURI(raw.strip()))
        endpoint = self._endpoints.endpointForURI(uri)
        return _Target(uri=uri, key=(uri.scheme, uri.host, uri.port), endpoint=endpoint,
                       path=uri.originForm,
                       host=self._agent._computeHostValue(uri.scheme, uri.host, uri.port))
