"""The webhook HTTP client (http/webhook_client.py) against a real twisted.web server on
loopback: what arrives (method, path, query, headers, body), connections reused, URLs
with a non-ASCII host, an unsupported scheme, a refused connection."""
from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.error import ConnectionRefusedError
from twisted.web.client import readBody
from twisted.web.error import SchemeNotSupported
from twisted.web.resource import Resource
from twisted.web.server import Site

from gateway.http.webhook_client import WebhookClient


class Receiver(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[bytes, bytes, dict[bytes, list[bytes]], bytes, object]] = []

    def render(self, request):
        headers = {name.lower(): values
                   for name, values in request.requestHeaders.getAllRawHeaders()}
        self.requests.append((request.method, request.uri, headers, request.content.read(),
                              request.channel.transport.getPeer().port))
        request.setResponseCode(201)
        return b"thanks"


@pytest.fixture
def served():
    receiver = Receiver()
    port = reactor.listenTCP(0, Site(receiver), interface="127.0.0.1")
    client = WebhookClient(reactor, per_host=4)
    yield receiver, port.getHost().port, client
    pytest_twisted.blockon(client.pool.closeCachedConnections())
    pytest_twisted.blockon(port.stopListening())


@pytest_twisted.ensureDeferred
async def test_posts_the_body_and_headers_and_reuses_the_connection(served):
    receiver, port, client = served
    url = f"http://127.0.0.1:{port}/hook?x=1"
    for body in (b'{"n":1}', b'{"n":2}'):
        response = await client.post(url, data=body, allow_redirects=False, unbuffered=True,
                                     headers={"Content-Type": "application/json",
                                              "X-Smsgw-Event-Id": "evt_1"})
        assert response.code == 201
        assert await readBody(response) == b"thanks"
    (m1, uri1, h1, b1, peer1), (_, _, _, b2, peer2) = receiver.requests
    assert (m1, uri1, b1, b2) == (b"POST", b"/hook?x=1", b'{"n":1}', b'{"n":2}')
    assert h1[b"content-type"] == [b"application/json"]
    assert h1[b"x-smsgw-event-id"] == [b"evt_1"]
    assert h1[b"content-length"] == [b"7"]
    assert peer1 == peer2  # one persistent connection, kept between the two


def test_a_non_ascii_host_goes_through_idna():
    client = WebhookClient(reactor, per_host=1)
    target = client._target("http://bücher.example/h?q=ä")
    assert target.uri.toBytes() == b"http://xn--bcher-kva.example/h?q=%C3%A4"
    assert target.host == b"xn--bcher-kva.example"
    assert client._target("http://plain.example/x").uri.toBytes() == b"http://plain.example/x"


def test_a_urls_target_is_worked_out_as_agent_does_it_and_shares_the_endpoint():
    client = WebhookClient(reactor, per_host=1)
    a = client._target("https://hooks.example:8443/a?x=1")
    b = client._target("https://hooks.example:8443/b")
    assert a.key == (b"https", b"hooks.example", 8443)
    assert a.path == b"/a?x=1" and a.host == b"hooks.example:8443"
    assert a.endpoint is b.endpoint  # one endpoint per (scheme, host, port)
    assert client._target("http://[::1]/h").host == b"[::1]"


@pytest_twisted.ensureDeferred
async def test_an_unsupported_scheme_fails_as_such():
    client = WebhookClient(reactor, per_host=1)
    with pytest.raises(SchemeNotSupported):
        await client.post("ftp://127.0.0.1/hook", data=b"{}")


@pytest_twisted.ensureDeferred
async def test_a_refused_connection_fails_as_such():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = WebhookClient(reactor, per_host=1)
    with pytest.raises(ConnectionRefusedError):
        await client.post(f"http://127.0.0.1:{port}/hook", data=b"{}")
