"""The HTTP client webhooks go out through: twisted.web's Agent over a persistent
connection pool, with what treq added per request taken out of the hot path.

A profile of bench/webhooks.py (bench/profiles/webhooks.md) put about half the sender's
CPU in treq's per-request layers: a CookieAgent and a ContentDecoderAgent built for every
request, the URL parsed into a hyperlink URL and back (IDNA checks of the host each
time), and a new endpoint (IDNA again) per request. Webhooks need none of that: no
cookies, the response body is discarded unread, and the few receiver URLs repeat. So
this client

- turns each URL into its request bytes once (a non-ASCII host through IDNA, by
  hyperlink, as treq did) and keeps that, bounded;
- keeps one endpoint per (scheme, host, port), TLS checked as treq/Agent do it
  (BrowserLikePolicyForHTTPS: the certificate must match the host);
- sends the body from memory at once (no FileBodyProducer and its cooperator task).

Redirects are not followed (Agent never does) and the response is unbuffered: the
caller reads (discards) it, as WebhookSender does. It offers the one method the sender
uses of treq's HTTPClient, so tests may inject StubTreq instead.
"""
from __future__ import annotations

from typing import Any

from hyperlink import URL
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import (
    Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, _HTTP11ClientFactory)
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
        self._agent = Agent.usingEndpointFactory(
            reactor, _Endpoints(reactor, tls or BrowserLikePolicyForHTTPS()), pool=self.pool)
        self._uris: dict[str, bytes] = {}

    def post(self, url: str, data: bytes, headers: dict[str, str] | None = None,
             **_treq_options: Any) -> Deferred[IResponse]:
        """POST `data` to `url`; fires with the unbuffered response (redirects are never
        followed). treq's keyword options (allow_redirects, unbuffered) are accepted for
        the sender's sake and are what this client does anyway."""
        raw = Headers({name.encode("latin-1"): [value.encode("latin-1")]
                       for name, value in (headers or {}).items()})
        return self._agent.request(b"POST", self._uri(url), raw, _Bytes(data))

    def _uri(self, url: str) -> bytes:
        uri = self._uris.get(url)
        if uri is None:
            if url.isascii():
                uri = url.encode("ascii")
            else:  # an IRI: the host through IDNA, the rest percent-encoded
                uri = URL.from_text(url).to_uri().to_text().encode("ascii")
            if len(self._uris) >= MAX_REMEMBERED:
                self._uris.clear()
            self._uris[url] = uri
        return uri
