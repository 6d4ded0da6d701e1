"""Reactor-thread CPU per HTTP send: twisted.web, Klein and the gateway without sockets,
threads or disk.

    python bench/http_cost.py [--requests 3000] [--batch-size 100] [--repeat 3]

The real Site (make_site: the connection guard, ApiFirst, Klein, PublicApi) and the real
objects from service.wire (Basic auth with a remembered password, router, simulator) over
one keep-alive connection on a StringTransport and a ReactorClock, with reactor_cost.py's
store double, which answers every operation when the loop says "commit". One cycle: one
POST /api/v1/messages with `--batch-size` recipients, commit (the accept; the 202 is
written), one simulator delay, commit (each message made final). Prints the microseconds
of reactor-thread work per request and per message, best of `--repeat`, for single sends
(one recipient) and for batches.

Complements http_api.py when tuning the HTTP path: no load generator on the same cores, no
GIL hand-offs and no SQLite, so a change of a few percent shows. Not a test.
"""
from __future__ import annotations

import argparse
import base64
import gc
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))  # run from a checkout without installing it

from klein import Klein  # noqa: E402
from reactor_clock import ReactorClock  # noqa: E402
from reactor_cost import CommitStore  # noqa: E402
from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.defer import Deferred, succeed  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.core.idempotency import OnceOutcome  # noqa: E402
from gateway.core.passwords import hash_password  # noqa: E402
from gateway.core.verifier import InlineVerifier  # noqa: E402
from gateway.http.api import PublicApi  # noqa: E402
from gateway.http.site import make_site  # noqa: E402
from gateway.model import Account  # noqa: E402
from gateway.ops.metrics import GatewayMetrics  # noqa: E402
from gateway.service import http_access_log, http_limits, wire  # noqa: E402

PASSWORD = "secret12"
BALANCE = Decimal(10**9)


class HttpCommitStore(CommitStore):
    """CommitStore with what the HTTP API asks of the store as well."""

    def __init__(self, account: Account) -> None:
        super().__init__()
        self._account = account

    def get_account(self, system_id: str) -> Deferred[Account | None]:
        return succeed(self._account if system_id == self._account.system_id else None)

    def accept_once(self, account, key, fingerprint, messages, cost, record, now):
        return self._later(OnceOutcome(accepted=True, balance=BALANCE))


def api_connection(parts: Any, store: HttpCommitStore, config: Any,
                   clock: Any) -> tuple[Any, StringTransport]:
    """The public API's real Site over `parts` (no admin routes: every request is a send)
    and one keep-alive connection to it from 127.0.0.1 on a StringTransport."""
    api = PublicApi(router=parts.router, store=store, clock=clock,  # type: ignore[arg-type]
                    authenticator=parts.http_auth, admissions=parts.admissions,
                    metrics=None)
    no_admin = SimpleNamespace(app=Klein())
    site = make_site(api, no_admin, config.http.max_body_size, limits=http_limits(config.http),
                     reactor=clock, access_log=http_access_log(config.http))
    peer = IPv4Address("TCP", "127.0.0.1", 40000)
    protocol = site.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer,
                                hostAddress=IPv4Address("TCP", "127.0.0.1", 8080))
    protocol.makeConnection(transport)
    return protocol, transport


def send_request(payload: dict[str, Any]) -> bytes:
    """POST /api/v1/messages of `payload` as the `bench` account (HTTP Basic)."""
    authorization = base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
    body = json.dumps(payload).encode()
    return (f"POST /api/v1/messages HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Basic {authorization}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def run(requests: int, batch_size: int) -> float:
    """Microseconds of reactor-thread work per request."""
    clock = ReactorClock()
    clock.advance(1_800_000_000)
    # simulated time passes by one simulator delay per request: keep it short, so that a
    # run stays within the minute the password is remembered for (as on a real clock)
    config = load_config(None, {"simulator.delay": 0.001})
    account = Account(system_id="bench", password_hash=hash_password(PASSWORD),
                      balance=BALANCE, throughput=0)
    store = HttpCommitStore(account)
    parts = wire(config, store, None, clock, InlineVerifier(),
                 metrics=GatewayMetrics(process=False))
    protocol, transport = api_connection(parts, store, config, clock)
    request = send_request({"to": [f"49176{n:07d}" for n in range(batch_size)]
                            if batch_size > 1 else "491760000000", "text": "Hello"})

    def cycle() -> None:
        protocol.dataReceived(request)
        store.commit()  # the accept: the 202 goes out
        clock.advance(config.simulator.delay)
        store.commit()  # the messages made final

    cycle()  # the first login runs scrypt and is remembered: not what is measured
    if not transport.value().startswith(b"HTTP/1.1 202"):
        raise SystemExit(f"the gateway did not accept the send: {transport.value()[:300]!r}")
    transport.clear()
    gc.collect()
    spent = 0.0
    answered = 0
    for _ in range(requests):
        started = time.perf_counter()
        cycle()
        spent += time.perf_counter() - started
        answered += transport.value().count(b"HTTP/1.1 202")
        transport.clear()
    if answered != requests:  # a store double out of step measures nothing
        raise SystemExit(f"{answered} answers for {requests} requests")
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="batch requests")
    parser.add_argument("--singles", type=int, default=20_000, help="one-recipient requests")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase", choices=("single", "batch", "both"), default="both",
                        help="run one kind only (for an instruction count under callgrind)")
    args = parser.parse_args()
    singles, batches = [], []
    for _ in range(args.repeat):  # interleaved: a load change hits both alike
        if args.phase != "batch":
            singles.append(run(args.singles, 1))
        if args.phase != "single":
            batches.append(run(args.requests, args.batch_size) / args.batch_size)
    if singles:
        print("single sends, reactor-thread µs per request: "
              + ", ".join(f"{us:.1f}" for us in singles) + f" (best {min(singles):.1f})")
    if batches:
        print(f"batches of {args.batch_size}, reactor-thread µs per message: "
              + ", ".join(f"{us:.2f}" for us in batches) + f" (best {min(batches):.2f})")


if __name__ == "__main__":
    main()
