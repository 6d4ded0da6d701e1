"""Reactor-thread CPU per webhook: the HTTP accept, the simulator's receipt and its signed
webhook POST, without sockets, threads or disk.

    python bench/webhook_cost.py [--messages 20000] [--batch-size 50] [--repeat 3]

The real Site, router, simulator, WebhookSender and WebhookClient from service.wire, with
http_cost.py's store double (every operation answered when the loop says "commit"). The
clock is `InstantReactor`: the reactor's own timed calls on a time that moves only when
told, and client connections made at once on StringTransports, so the webhook client runs
its real endpoint, pool and HTTP/1.1 parsing. One cycle: one POST /api/v1/messages of
`--batch-size` recipients with `dlr`, commit (the 202), one simulator delay, commit (the
receipts: each becomes a webhook POST), a 200 for each POST, commit (the webhooks recorded
as delivered). Prints the microseconds of reactor-thread work per webhook, best of
`--repeat`. Every POST's signature is checked, outside the timed work.

Complements webhooks.py (the gateway as a process, a receiver beside it): no load
generator on the same cores and no SQLite, so a change of a few percent shows, and
bench/count_instructions.py can count it. Not a test.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))  # run from a checkout without installing it

from http_cost import (  # noqa: E402
    BALANCE,
    PASSWORD,
    HttpCommitStore,
    api_connection,
    send_request,
)
from reactor_clock import ReactorClock  # noqa: E402
from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.defer import succeed  # noqa: E402
from twisted.internet.interfaces import IReactorTCP  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from zope.interface import implementer  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.core.passwords import hash_password  # noqa: E402
from gateway.core.verifier import InlineVerifier  # noqa: E402
from gateway.http.webhook_client import WebhookClient  # noqa: E402
from gateway.model import Account  # noqa: E402
from gateway.ops.metrics import GatewayMetrics  # noqa: E402
from gateway.service import wire  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
HOOK = "http://127.0.0.1:9000/hook"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_SIGNED = re.compile(rb"X-Smsgw-Timestamp: (\d+)\r\n.*X-Smsgw-Signature: ([^\r]+)\r\n",
                     re.DOTALL)


class WebhookCommitStore(HttpCommitStore):
    """HttpCommitStore with the webhook outbox's operations as well; every WEBHOOK item
    is claimed by this node when written, so the poll finds nothing due."""

    def claim_webhooks(self, owner, now, limit, exclude_urls=()):
        return succeed([])

    def webhooks_delivered(self, item_ids):
        return self._later(None)

    def release_webhooks(self, item_ids):
        raise SystemExit("an item was released: the sender had no free slot for it")

    def webhook_failed(self, item_id, attempts, next_attempt_at, error, dead_at):
        raise SystemExit(f"webhook {item_id} failed: {error}")


class _Resolver:
    """Every host name is itself: the bench's URL holds an IP address."""

    def resolveHostName(self, receiver, hostName, portNumber=0, addressTypes=None,
                        transportSemantics="TCP"):
        receiver.resolutionBegan(SimpleNamespace(cancel=lambda: None))
        receiver.addressResolved(IPv4Address("TCP", hostName, portNumber))
        receiver.resolutionComplete()


@implementer(IReactorTCP)
class InstantReactor(ReactorClock):
    """ReactorClock (the reactor's own timed calls), and TCP connections made at once, each
    on a StringTransport. A webhook in flight holds two timers (its timeout, its
    connection's idle timer), which is why the clock is not task.Clock."""

    def __init__(self) -> None:
        super().__init__()
        self.installNameResolver(_Resolver())
        self.connections: list[tuple[Any, StringTransport]] = []

    def connectTCP(self, host, port, factory, timeout=30, bindAddress=None):
        address = IPv4Address("TCP", host, port)
        protocol = factory.buildProtocol(address)
        transport = StringTransport(peerAddress=address,
                                    hostAddress=IPv4Address("TCP", "127.0.0.1", 50000))
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return SimpleNamespace(stopConnecting=lambda: None, disconnect=lambda: None)

    def listenTCP(self, port, factory, backlog=50, interface=""):
        raise NotImplementedError("the bench only connects")

    def connectSSL(self, *args, **kwargs):
        raise NotImplementedError("the bench's receiver is plain HTTP")

    def listenSSL(self, *args, **kwargs):
        raise NotImplementedError("the bench only connects")


def check_signature(request: bytes) -> None:
    head, _, body = request.partition(b"\r\n\r\n")
    found = _SIGNED.search(head + b"\r\n")
    if found is None:
        raise SystemExit(f"an unsigned webhook: {head[:300]!r}")
    timestamp, signature = found.group(1), found.group(2).decode()
    expected = hmac.new(SECRET.encode(), timestamp + b"." + body, hashlib.sha256).hexdigest()
    if not signature.endswith(expected):
        raise SystemExit(f"a bad signature: {signature}")


def run(messages: int, batch_size: int) -> float:
    """Microseconds of reactor-thread work per webhook."""
    reactor = InstantReactor()
    reactor.advance(1_800_000_000)
    # simulated time passes by one simulator delay per cycle: keep it short, so that a
    # run stays within the minute the password is remembered for (as on a real clock)
    config = load_config(None, {"simulator.delay": 0.001, "webhooks.concurrency": batch_size})
    account = Account(system_id="bench", password_hash=hash_password(PASSWORD),
                      balance=BALANCE, throughput=0, webhook_url=HOOK, webhook_secret=SECRET)
    store = WebhookCommitStore(account)
    client = WebhookClient(reactor, config.webhooks.concurrency)
    parts = wire(config, store, None, reactor, InlineVerifier(), webhook_http=client,
                 metrics=GatewayMetrics(process=False))
    parts.webhooks.start()
    protocol, transport = api_connection(parts, store, config, reactor)
    request = send_request({"to": [f"49176{n:07d}" for n in range(batch_size)],
                            "text": "webhook bench", "dlr": True})
    posts: list[Any] = []  # the receiver's side: each connection with a POST waiting

    def send_and_receipt() -> None:
        protocol.dataReceived(request)
        store.commit()  # the accept: the 202 goes out
        reactor.advance(config.simulator.delay)
        store.commit()  # the receipts: each one's webhook is POSTed

    def answer() -> None:
        for client_side in posts:
            client_side.dataReceived(OK)
        store.commit()  # the webhooks recorded as delivered

    def waiting_posts() -> list[Any]:
        waiting = []
        for client_side, wire_out in reactor.connections:
            sent = wire_out.value()
            if sent:
                check_signature(sent)
                wire_out.clear()
                waiting.append(client_side)
        return waiting

    def cycle() -> float:
        started = time.perf_counter()
        send_and_receipt()
        spent = time.perf_counter() - started
        if not transport.value().startswith(b"HTTP/1.1 202"):
            raise SystemExit(f"the gateway did not accept the send: {transport.value()[:300]!r}")
        transport.clear()
        posts[:] = waiting_posts()
        if len(posts) != batch_size:  # a store double out of step measures nothing
            raise SystemExit(f"{len(posts)} webhooks for {batch_size} messages")
        started = time.perf_counter()
        answer()
        return spent + time.perf_counter() - started

    cycle()  # the first login runs scrypt and the connections are opened: not measured
    gc.collect()
    cycles = max(1, messages // batch_size)
    spent = sum(cycle() for _ in range(cycles))
    delivered = parts.webhooks.stats()["delivered"]
    if delivered != (cycles + 1) * batch_size:
        raise SystemExit(f"{delivered} webhooks delivered for {(cycles + 1) * batch_size}")
    return spent / (cycles * batch_size) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=50,
                        help="recipients per send, and the webhooks in flight at once")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = [run(args.messages, args.batch_size) for _ in range(args.repeat)]
    print("reactor-thread work per webhook: " + ", ".join(f"{us:.1f}" for us in results)
          + f" us (best {min(results):.1f})")


if __name__ == "__main__":
    main()
