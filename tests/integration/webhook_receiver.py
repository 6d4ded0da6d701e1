"""A real HTTP webhook receiver on a loopback port for the integration tests: it verifies
each request's signature the way the README tells customers to, records what it answered,
and can be made to fail: answer 5xx, hang without answering, or be down (its port closed,
so connections are refused), and come back on the same port."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT = 30.0  # s a hanging answer waits at most (the gateway gives up long before)


@dataclass
class Delivery:
    """One request the receiver got, and what it answered (None: it hung up)."""

    event_id: str
    timestamp: str
    signature: str
    body: bytes
    signature_ok: bool
    status: int | None

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """mode: 'ok' (200), 'fail' (503), 'hang' (no answer until released)."""

    secret: str
    mode: str = "ok"
    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/smsgw"

    def start(self) -> Receiver:
        """Listen (on the same port as before, after a stop)."""
        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the port: the gateway's connections are refused until start()."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: str) -> None:
        assert mode in ("ok", "fail", "hang")
        if mode != "hang":
            self._release.set()
        else:
            self._release.clear()
        self.mode = mode

    def accepted(self) -> list[Delivery]:
        """The requests answered 2xx, in arrival order."""
        with self._lock:
            return [d for d in self.deliveries if d.status is not None and d.status < 300]

    def attempts(self) -> int:
        with self._lock:
            return len(self.deliveries)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)


def verify(secret: str, timestamp: str, signature: str, body: bytes,
           tolerance: float = 300.0) -> bool:
    """The README's verification: HMAC-SHA256 over "<timestamp>." + body, fresh timestamp."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
    return fresh and hmac.compare_digest(expected, signature)


def _handler(receiver: Receiver) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            timestamp = self.headers.get("x-smsgw-timestamp", "")
            signature = self.headers.get("x-smsgw-signature", "")
            mode = receiver.mode
            status = {"ok": 200, "fail": 503}.get(mode)
            receiver._record(Delivery(
                event_id=self.headers.get("x-smsgw-event-id", ""), timestamp=timestamp,
                signature=signature, body=body, status=status,
                signature_ok=verify(receiver.secret, timestamp, signature, body)))
            if status is None:  # hang: never answer, then drop the connection
                receiver._release.wait(HANG_LIMIT)
                self.close_connection = True
                return
            answer = b'{"ok": true}' if status == 200 else b"down for maintenance"
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler
