"""The webhook HTTP client (http/webhook_client.py) against a real twisted.web server on
loopback: what arrives (method, path, query, headers, body), connections reused, URLs
with a non-ASCII host, an unsupported scheme, a refused connection; and against a raw
loopback server that answers as receivers do, well and badly: chunked, closing and
HTTP/1.0 bodies, 1xx, bytes that are not HTTP, an endless head, a request cancelled,
the keep-alive race (retried once), bodies cut short, idle connections capped and
expired, bytes while idle, forged headers."""
from __future__ import annotations

import socket

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, ensureDeferred, gatherResults
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import Clock, deferLater
from twisted.web.client import (
    PartialDownloadError, ResponseFailed, ResponseNeverReceived, readBody)
from twisted.web.error import SchemeNotSupported
from twisted.web.resource import Resource
from twisted.web.server import Site

from gateway.http.webhook_client import IDLE_TIMEOUT, BadResponse, WebhookClient
from gateway.http.webhook_connection import MAX_HEAD


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
    pytest_twisted.blockon(client.close())
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
    assert target.host == "xn--bcher-kva.example"
    assert client._target("http://plain.example/x").uri.toBytes() == b"http://plain.example/x"


def test_a_urls_target_is_worked_out_as_agent_does_it_and_shares_the_endpoint():
    client = WebhookClient(reactor, per_host=1)
    a = client._target("https://hooks.example:8443/a?x=1")
    b = client._target("https://hooks.example:8443/b")
    assert a.key == (b"https", b"hooks.example", 8443)
    assert a.path == "/a?x=1" and a.host == "hooks.example:8443"
    assert a.endpoint is b.endpoint  # one endpoint per (scheme, host, port)
    assert client._target("http://[::1]/h").host == "[::1]"


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


# --- responses as receivers send them, from a raw loopback server ---------------------------
class RawReceiver(Protocol):
    """Reads whole requests (head + Content-Length body) and answers each with what the
    test's `answer(conn, n)` returns: bytes to write, or None to close without a word."""

    def connectionMade(self):
        self.factory.connections.append(self)
        self.index = len(self.factory.connections) - 1
        self.buffer = b""
        self.served = 0
        self.closed = Deferred()

    def dataReceived(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, rest = self.buffer.split(b"\r\n\r\n", 1)
            length = int(dict(line.lower().split(b": ", 1)
                              for line in head.split(b"\r\n")[1:])[b"content-length"])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.factory.requests.append((self.index, head, rest[:length]))
            answer = self.factory.answer(self.index, self.served)
            self.served += 1
            if answer is None:
                self.transport.loseConnection()
                return
            self.transport.write(answer)

    def connectionLost(self, reason):
        self.closed.callback(None)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def raw():
    factory = ServerFactory.forProtocol(RawReceiver)
    factory.connections, factory.requests = [], []
    factory.answer = lambda conn, n: OK
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    clock = Clock()
    client = WebhookClient(reactor, per_host=2, clock=clock)
    factory.url = f"http://127.0.0.1:{port.getHost().port}/hook"
    yield factory, client, clock
    pytest_twisted.blockon(client.close())
    for connection in factory.connections:
        connection.transport.abortConnection()
    pytest_twisted.blockon(port.stopListening())


async def post(factory, client, body=b"{}", **kw):
    response = await client.post(factory.url, data=body, **kw)
    return response.code, await readBody(response)


async def turn():
    """One reactor turn or two: what the loopback peer does next has happened."""
    for _ in range(3):
        await deferLater(reactor, 0.01, lambda: None)


async def closed_soon(connection, wait=5.0):
    """Whether the receiver's side of `connection` sees it closed within `wait` seconds."""
    for _ in range(int(wait / 0.01)):
        if connection.closed.called:
            return True
        await deferLater(reactor, 0.01, lambda: None)
    return connection.closed.called


@pytest_twisted.ensureDeferred
async def test_a_chunked_body_is_read_to_its_end_and_the_connection_kept(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked"
                                      b"\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert await post(factory, client) == (202, b"abcde")
    assert await post(factory, client) == (202, b"abcde")
    assert [conn for conn, _, _ in factory.requests] == [0, 0]


@pytest_twisted.ensureDeferred
async def test_connection_close_and_http_1_0_bodies_end_the_connection(raw):
    factory, client, _ = raw
    answers = [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
               b"HTTP/1.0 200 OK\r\n\r\nuntil the close"]

    def close_after(conn, n):  # an HTTP/1.0 receiver closes to end its body
        answer = answers[conn] if conn < 2 else OK
        if conn == 1:
            reactor.callLater(0, factory.connections[1].transport.loseConnection)
        return answer

    factory.answer = close_after
    assert await post(factory, client) == (200, b"x")
    response = await client.post(factory.url, data=b"{}")
    with pytest.raises(PartialDownloadError) as ended:  # as Agent ends such a body
        await readBody(response)
    assert (response.code, ended.value.response) == (200, b"until the close")
    assert await post(factory, client) == (200, b"ok")
    assert [conn for conn, _, _ in factory.requests] == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_an_informational_response_is_skipped(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    assert await post(factory, client) == (200, b"ok")
    assert await post(factory, client) == (200, b"ok")
    assert len(factory.connections) == 1


@pytest_twisted.ensureDeferred
async def test_bytes_that_are_not_http_fail_as_a_bad_response(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: b"SMPP? \x00\x00\x00\x10\r\n\r\n" if conn == 0 else OK
    with pytest.raises(BadResponse, match="malformed HTTP response"):
        await client.post(factory.url, data=b"{}")
    await factory.connections[0].closed  # dropped: its state is unknown
    assert await post(factory, client) == (200, b"ok")


@pytest_twisted.ensureDeferred
async def test_a_head_that_never_ends_is_cut_off(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: (b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (MAX_HEAD + 10))
    with pytest.raises(BadResponse, match="head is over"):
        await client.post(factory.url, data=b"{}")
    await factory.connections[0].closed


@pytest_twisted.ensureDeferred
async def test_cancelling_a_request_aborts_its_connection(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: b""  # never answers
    d = client.post(factory.url, data=b"{}")
    while not factory.requests:
        await turn()
    d.cancel()
    with pytest.raises(CancelledError):
        await d
    await factory.connections[0].closed


@pytest_twisted.ensureDeferred
async def test_a_reused_connection_closed_as_it_is_taken_is_retried_once_afresh(raw):
    factory, client, _ = raw
    # the 2nd request on any connection finds it closed by the receiver, unanswered
    factory.answer = lambda conn, n: OK if n == 0 else None
    assert await post(factory, client) == (200, b"ok")
    assert await post(factory, client) == (200, b"ok")  # on connection 1, after the retry
    assert [conn for conn, _, _ in factory.requests] == [0, 0, 1]
    assert factory.requests[1][2] == factory.requests[2][2]  # the same request again


@pytest_twisted.ensureDeferred
async def test_a_new_connection_closed_unanswered_fails_without_a_retry(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: None
    with pytest.raises(ResponseNeverReceived):
        await client.post(factory.url, data=b"{}")
    assert len(factory.requests) == 1


@pytest_twisted.ensureDeferred
async def test_a_response_cut_short_fails_its_body(raw):
    factory, client, _ = raw

    def half(conn, n):
        reactor.callLater(0, factory.connections[conn].transport.loseConnection)
        return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"

    factory.answer = half
    response = await client.post(factory.url, data=b"{}")
    assert response.code == 200
    with pytest.raises(ResponseFailed):
        await readBody(response)


@pytest_twisted.ensureDeferred
async def test_a_response_that_came_in_one_read_is_handed_over_whole(raw):
    # answered once the read is parsed, not at the end of its head: the body is there
    # already, so reading it needs no Deferred to wait on
    factory, client, _ = raw
    response = await client.post(factory.url, data=b"{}")
    body = readBody(response)
    assert body.called
    assert (response.code, await body) == (200, b"ok")


@pytest_twisted.ensureDeferred
async def test_a_head_and_then_bytes_that_are_not_http_in_one_read_fail_the_body(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" if conn == 0 else OK)
    posted = client.post(factory.url, data=b"{}")
    posted.addTimeout(5, reactor)  # a response never handed over would hang here
    response = await posted
    assert response.code == 200
    with pytest.raises(ResponseFailed) as failed:
        await readBody(response)
    assert failed.value.reasons[0].check(BadResponse)
    await factory.connections[0].closed
    assert await post(factory, client) == (200, b"ok")


@pytest_twisted.ensureDeferred
async def test_idle_connections_are_capped_per_host_and_closed_after_the_idle_timeout(raw):
    factory, client, clock = raw  # per_host=2
    results = await gatherResults([ensureDeferred(post(factory, client)) for _ in range(3)])
    assert results == [(200, b"ok")] * 3 and len(factory.connections) == 3
    await turn()
    assert sum(1 for c in factory.connections if c.closed.called) == 1  # one over the cap
    clock.advance(IDLE_TIMEOUT + 1)
    for connection in factory.connections:
        await connection.closed


@pytest_twisted.ensureDeferred
async def test_an_idle_connection_closes_the_idle_timeout_after_its_own_last_use(raw):
    # one timer serves every idle connection: it must close only those due, then wait
    # for the next one's deadline
    factory, client, clock = raw  # per_host=2
    await gatherResults([ensureDeferred(post(factory, client)) for _ in range(2)])
    assert len(factory.connections) == 2
    clock.advance(30)
    assert await post(factory, client) == (200, b"ok")
    reused = factory.requests[-1][0]
    unused = 1 - reused
    clock.advance(IDLE_TIMEOUT - 30)
    assert await closed_soon(factory.connections[unused])
    assert not factory.connections[reused].closed.called
    clock.advance(29)
    assert not await closed_soon(factory.connections[reused], wait=0.1)
    clock.advance(1)
    assert await closed_soon(factory.connections[reused])
    assert await post(factory, client) == (200, b"ok")  # a new connection, as it should be
    assert len(factory.connections) == 3


@pytest_twisted.ensureDeferred
async def test_bytes_after_the_response_drop_the_connection(raw):
    factory, client, _ = raw
    factory.answer = lambda conn, n: OK + b"HTTP/1.1 200 OK\r\n" if conn == 0 else OK
    assert await post(factory, client) == (200, b"ok")
    await factory.connections[0].closed
    assert await post(factory, client) == (200, b"ok")
    assert [conn for conn, _, _ in factory.requests] == [0, 1]


@pytest_twisted.ensureDeferred
async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(raw):
    factory, client, _ = raw
    with pytest.raises(ValueError, match="line break"):
        await client.post(factory.url, data=b"{}",
                          headers={"X-Smsgw-Event-Id": "evt_1\r\nX-Forged: 1"})
    assert factory.requests == []


@pytest_twisted.ensureDeferred
async def test_the_request_head_carries_length_host_and_the_callers_headers(raw):
    factory, client, _ = raw
    await post(factory, client, body=b'{"a":1}',
               headers={"Content-Length": "999", "X-Smsgw-Event-Id": "evt_9"})
    (_, head, body), = factory.requests
    lines = head.split(b"\r\n")
    port = factory.url.split(":")[2].split("/")[0].encode()
    assert lines[0] == b"POST /hook HTTP/1.1"
    assert sorted(lines[1:]) == sorted([b"Content-Length: 7", b"X-Smsgw-Event-Id: evt_9",
                                        b"Host: 127.0.0.1:" + port])
    assert body == b'{"a":1}'
