"""The HTTP listener against slow and greedy peers (http/connection_guard.py), on a
task.Clock and StringTransports: the request head and the body must arrive within their
deadlines whatever the peer trickles (408 JSON, then closed), a kept-alive connection may
wait for its next request until the idle timeout, and connections past the per-address or
total cap get a 503 JSON and are closed while other addresses are served."""
from __future__ import annotations

import json

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from gateway.http.connection_guard import ConnectionLimits, GuardedSite

LIMITS = ConnectionLimits(header_timeout=10, body_timeout=20, idle_timeout=60,
                          max_connections=5, max_connections_per_ip=2)
REQUEST = b"GET /ping HTTP/1.1\r\nHost: gw\r\n\r\n"


class _Pong(Resource):
    isLeaf = True

    def render(self, request):
        request.setHeader(b"content-type", b"application/json")
        request.content.seek(0)
        return b'{"pong":%d}' % len(request.content.read())


class Peer:
    """One connection to the site, its bytes in a StringTransport."""

    def __init__(self, site: GuardedSite, host: str = "10.0.0.1", port: int = 40000) -> None:
        self.channel = site.buildProtocol(IPv4Address("TCP", host, port))
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, port))
        self.channel.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.channel.dataReceived(data)

    def answer(self) -> tuple[int, dict]:
        head, _, body = self.transport.value().partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)

    def close(self) -> None:
        self.channel.connectionLost(None)

    @property
    def closing(self) -> bool:
        return self.transport.disconnecting


def _site(clock: Clock, limits: ConnectionLimits = LIMITS) -> GuardedSite:
    return GuardedSite(_Pong(), max_body=4096, limits=limits, reactor=clock)


def test_a_head_trickled_a_byte_a_second_is_answered_408_and_closed_at_the_deadline():
    clock = Clock()
    site = _site(clock)
    peer = Peer(site)
    for octet in REQUEST[:-4]:  # never the blank line
        peer.send(bytes([octet]))
        clock.advance(0.3)  # the idle timer alone, reset by every byte, never fires
    clock.advance(9.9 - clock.seconds())
    assert peer.transport.value() == b"" and not peer.closing
    clock.advance(0.2)
    status, body = peer.answer()
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert "head did not arrive within 10 s" in body["error"]["message"]
    assert peer.closing and site.timed_out == 1


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout():
    clock = Clock()
    peer = Peer(_site(clock))
    clock.advance(9.9)
    assert not peer.closing
    clock.advance(0.2)
    assert peer.answer()[0] == 408 and peer.closing


def test_a_body_slower_than_the_body_timeout_is_408_and_never_processed():
    clock = Clock()
    peer = Peer(_site(clock))
    peer.send(b"POST /ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n")
    clock.advance(15)  # past the header timeout: the head was whole in time
    assert not peer.closing
    for _ in range(4):
        peer.send(b"x")  # a byte a second resets no deadline
        clock.advance(1)
    assert not peer.closing
    clock.advance(1.1)
    status, body = peer.answer()
    assert status == 408 and "body did not arrive within 20 s" in body["error"]["message"]
    assert b"pong" not in peer.transport.value()


def test_requests_in_time_are_served_and_no_deadline_fires_later():
    clock = Clock()
    peer = Peer(_site(clock))
    peer.send(b"POST /ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc")
    assert peer.answer() == (200, {"pong": 3})
    peer.transport.clear()
    clock.advance(59)  # kept alive, waiting for the next request: only the idle timer runs
    assert not peer.closing and peer.transport.value() == b""
    peer.send(REQUEST)  # the next request starts a new head deadline, met at once
    assert peer.answer() == (200, {"pong": 0})
    peer.transport.clear()
    clock.advance(61)  # then idle for longer than idle_timeout
    assert peer.closing and peer.transport.value() == b""


def test_the_next_request_on_a_kept_alive_connection_gets_its_own_head_deadline():
    clock = Clock()
    peer = Peer(_site(clock))
    peer.send(REQUEST)
    peer.transport.clear()
    clock.advance(30)
    peer.send(b"GET /ping HTTP/1.1\r\n")  # a head begun, never finished
    clock.advance(9.9)
    assert not peer.closing
    clock.advance(0.2)
    assert peer.answer()[0] == 408 and peer.closing


def test_connections_past_the_per_address_cap_are_refused_while_others_are_served():
    clock = Clock()
    site = _site(clock)
    first, second = Peer(site, port=1), Peer(site, port=2)
    third = Peer(site, port=3)
    status, body = third.answer()
    assert status == 503 and body["error"]["code"] == "too_many_connections"
    assert "2 connections from 10.0.0.1" in body["error"]["message"] and third.closing
    other = Peer(site, host="10.0.0.2")
    other.send(REQUEST)
    assert other.answer() == (200, {"pong": 0})
    first.close()  # a place is free again for that address
    fourth = Peer(site, port=4)
    fourth.send(REQUEST)
    assert fourth.answer() == (200, {"pong": 0})
    assert site.refused == 1 and site.open_connections == 3
    for peer in (second, other, fourth):
        peer.close()
    assert site.open_connections == 0 and site._open_by_host == {}


def test_connections_past_the_total_cap_are_refused():
    clock = Clock()
    site = _site(clock, ConnectionLimits(max_connections=3, max_connections_per_ip=3))
    peers = [Peer(site, host=f"10.0.1.{n}") for n in range(3)]
    refused = Peer(site, host="10.0.2.1")
    status, body = refused.answer()
    assert status == 503 and "3 HTTP connections open" in body["error"]["message"]
    peers[0].close()
    Peer(site, host="10.0.2.1").send(REQUEST)
    assert site.open_connections == 3


def test_a_timed_out_connection_frees_its_place_under_the_cap():
    clock = Clock()
    site = _site(clock)
    slow = [Peer(site, port=n) for n in (1, 2)]
    clock.advance(11)
    assert all(p.closing for p in slow)
    for p in slow:
        p.close()  # the transport reports the close
    fresh = Peer(site, port=3)
    fresh.send(REQUEST)
    assert fresh.answer() == (200, {"pong": 0})


def test_bytes_that_are_not_http_get_a_json_400_and_the_close():
    for garbage in (b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"):
        peer = Peer(_site(Clock()))
        peer.send(garbage)
        status, body = peer.answer()
        assert (status, body["error"]["code"]) == (400, "bad_request") and peer.closing


def test_the_local_address_and_tls_state_are_asked_of_the_transport_once_per_connection():
    clock = Clock()
    peer = Peer(_site(clock))
    asked = []
    local = peer.transport.getHost()

    def get_host():
        asked.append("host")
        return local

    peer.transport.getHost = get_host
    for _ in range(3):
        peer.transport.clear()
        peer.send(REQUEST)
        assert peer.answer() == (200, {"pong": 0})
    assert asked == ["host"]
    assert peer.channel.getHost() is local and peer.channel.isSecure() is False


def test_kept_alive_requests_in_time_set_no_timer_of_their_own():
    clock = Clock()
    set_at = []
    call_later = clock.callLater

    def counting_call_later(delay, *args, **kwargs):
        set_at.append(clock.seconds())
        return call_later(delay, *args, **kwargs)

    clock.callLater = counting_call_later
    peer = Peer(_site(clock))
    for _ in range(100):
        peer.send(b"POST /ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc")
        assert peer.answer() == (200, {"pong": 3})
        peer.transport.clear()
        clock.advance(0.01)
    assert set_at == [0.0]  # the connection's one timer, set when it opened
    assert len(clock.getDelayedCalls()) == 1


def test_a_deadline_sooner_than_the_timer_moves_the_timer_sooner():
    clock = Clock()
    peer = Peer(_site(clock))  # header 10 s, body 20 s
    clock.advance(5)
    peer.send(b"POST /ping HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\n")  # body due 25
    clock.advance(5)  # the timer set for the first head goes off: set again for 25
    peer.send(b"abc")
    assert peer.answer() == (200, {"pong": 3})
    peer.transport.clear()
    clock.advance(1)
    peer.send(b"GET /ping HTTP/1.1\r\n")  # at 11: this head is due at 21, before 25
    clock.advance(9.9)
    assert not peer.closing
    clock.advance(0.2)
    status, body = peer.answer()
    assert status == 408 and "head did not arrive within 10 s" in body["error"]["message"]


def test_a_peer_silent_mid_head_for_the_idle_timeout_is_closed_as_twisted_did():
    clock = Clock()
    limits = ConnectionLimits(header_timeout=30, body_timeout=30, idle_timeout=5)
    peer = Peer(_site(clock, limits))
    for _ in range(4):  # bytes now and then: each one is heard, so not idle
        peer.send(b"G")
        clock.advance(4)
    assert not peer.closing
    clock.advance(1.1)  # 5 s since the last byte, long before the head's 30 s
    assert peer.closing and peer.transport.value() == b""  # the idle close: no 408


def test_a_closed_connection_leaves_no_timer_behind():
    clock = Clock()
    site = _site(clock)
    peer = Peer(site)
    peer.send(REQUEST)
    peer.close()
    assert clock.getDelayedCalls() == [] and site.open_connections == 0
