"""Slow and greedy HTTP peers against the real gateway over loopback sockets: connections
trickling a request head a byte at a time ("slowloris") are answered 408 and closed at the
header deadline while a client from another address is served at once, and connections
past the per-address cap are refused with a 503 while other addresses still get in.
Client addresses differ by binding the client sockets to 127.0.0.x (all of 127/8 is
loopback on Linux)."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.integration

GATEWAY_CONFIG = {"http": {"header_timeout": 2.0, "body_timeout": 2.0,
                           "max_connections_per_ip": 20}}
SLOW = 20
HEALTH = b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n"


def _connect(gateway, source: str) -> socket.socket:
    sock = socket.create_connection((gateway.host, gateway.http_port), timeout=10,
                                    source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(status, body) of one response with a content-length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return int(head.split(b" ", 2)[1]), body


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_slowloris_connections_are_dropped_at_the_deadline_while_others_are_served(gateway):
    slow = [_connect(gateway, "127.0.0.1") for _ in range(SLOW)]
    answers: dict[int, bytes] = {}
    stop = threading.Event()

    def trickle(index: int, sock: socket.socket) -> None:
        head = b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Pad: " + b"a" * 100
        sock.settimeout(0.25)
        for octet in head:  # a byte every 0.25 s: never the end of the head
            if stop.is_set():
                break
            try:
                sock.sendall(bytes([octet]))
                answers[index] = sock.recv(4096)
                break  # answered (and closed) before the head could end
            except TimeoutError:
                continue
            except OSError:
                break

    threads = [threading.Thread(target=trickle, args=(i, s), daemon=True)
               for i, s in enumerate(slow)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        served = []
        with _connect(gateway, "127.0.0.2") as normal:
            while time.monotonic() - started < 3.0:
                sent = time.monotonic()
                normal.sendall(HEALTH)
                status, _ = _read_response(normal)
                served.append((status, time.monotonic() - sent))
                time.sleep(0.1)
        for thread in threads:
            thread.join(5)
        dropped_after = time.monotonic() - started
    finally:
        stop.set()
        for sock in slow:
            sock.close()
    assert served and all(status == 200 for status, _ in served)
    assert max(took for _, took in served) < 1.0, served
    assert len(answers) == SLOW, f"only {len(answers)} of {SLOW} slow peers were answered"
    for answer in answers.values():
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body)["error"]["code"] == "request_timeout"
    assert dropped_after < 6.0, f"the slow peers were dropped only after {dropped_after:.1f} s"


def test_connections_past_the_per_address_cap_are_refused_and_others_get_in(gateway):
    kept: list[socket.socket] = []
    try:
        for _ in range(20):  # kept-alive connections, each with an answered request
            sock = _connect(gateway, "127.0.0.3")
            sock.sendall(HEALTH)
            assert _read_response(sock)[0] == 200
            kept.append(sock)
        with _connect(gateway, "127.0.0.3") as extra:
            answer = _read_all(extra)  # answered and closed before it sends anything
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        error = json.loads(body)["error"]
        assert error["code"] == "too_many_connections" and "127.0.0.3" in error["message"]
        with _connect(gateway, "127.0.0.4") as other:  # another address is not affected
            other.sendall(HEALTH)
            assert _read_response(other)[0] == 200
        kept.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the freed place is soon taken again (the close is seen)
            with _connect(gateway, "127.0.0.3") as again:
                again.sendall(HEALTH)
                try:
                    status, _ = _read_response(again)
                except (ConnectionError, OSError):
                    status = 0
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == 200
    finally:
        for sock in kept:
            sock.close()
