"""Reactor-thread CPU per message: the core and SMPP transport without sockets, threads or disk.

    python bench/reactor_cost.py [--messages 30000] [--window 100] [--repeat 3]
                                 [--metrics on|off|both]

The real objects from service.wire (router, delivery, simulator, SMSC protocol) over a
StringTransport and a task.Clock, with a store that answers every operation, in queue order,
when the loop says "commit" (as the group-commit writer does after each batch). One cycle:
`--window` submit_sm plus the previous cycle's deliver_sm_resps in one dataReceived, commit,
one simulator delay, commit. Prints the microseconds of reactor-thread work per message
(submit_sm, submit_sm_resp, receipt, deliver_sm_resp).

Complements smpp_e2e.py when tuning the hot path: no GIL hand-offs, no SQLite, no load
generator on the same cores, so changes of a few percent show. --metrics both runs with
the Prometheus metrics off and on in turn and prints the cost per message. Not a test.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing it

from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.defer import Deferred, succeed  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from gateway.config import load_config  # noqa: E402
from gateway.core.verifier import InlineVerifier  # noqa: E402
from gateway.model import Account, Channel, OutboxItem  # noqa: E402
from gateway.ops.metrics import GatewayMetrics  # noqa: E402
from gateway.service import wire  # noqa: E402
from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import encode  # noqa: E402
from gateway.smpp.constants import CommandId  # noqa: E402
from gateway.smpp.framing import Framer  # noqa: E402
from gateway.storage.records import smpp_item_as_stored, webhook_item_as_stored  # noqa: E402

_DELIVER_SM = int(CommandId.DELIVER_SM)


class CommitStore:
    """The Store operations the hot path uses; results wait for `commit()`."""

    def __init__(self) -> None:
        self._pending: list[tuple[Deferred, object]] = []
        self._next_outbox_id = 1

    def _later(self, value: object) -> Deferred:
        d: Deferred = Deferred()
        self._pending.append((d, value))
        return d

    def accept(self, account, messages, cost):
        return self._later(True)

    def accept_each(self, account, messages):
        return self._later([(True, True) for _ in messages])

    def _outbox_items(self, outbox) -> list[OutboxItem]:
        # one item per fan-out leg, numbered and built as the stores build it (records.py).
        # A real store does this on its writer thread, so it should cost the reactor little
        # here (dataclasses.fields() per item was some 3 % of an SMPP message's count).
        items = []
        for new in outbox:
            as_stored = (smpp_item_as_stored if new.channel is Channel.SMPP
                         else webhook_item_as_stored)
            items.append(as_stored(new, self._next_outbox_id))
            self._next_outbox_id += 1
        return items

    def finish(self, message_id, state, error_code, done_at, outbox):
        return self._later(self._outbox_items(outbox))

    def finish_each(self, calls):
        return self._later([(True, self._outbox_items(call[4])) for call in calls])

    def ack_outbox(self, item_ids):
        return self._later(None)

    def claim_outbox(self, account, owner, limit):
        return succeed([])

    def release_outbox(self, item_ids):
        return succeed(None)

    def add_bind(self, owner, bind_id, account, kind, max_binds, now):
        return succeed(True)

    def remove_bind(self, owner, bind_id):
        return succeed(None)

    def expire_outbox(self, created_before):
        return succeed(0)

    def commit(self) -> None:
        pending, self._pending = self._pending, []
        for d, value in pending:
            d.callback(value)


class Authenticated:
    """Every bind succeeds as `account` (password hashing is not what is measured)."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def authenticate(self, system_id, password, peer):
        return succeed(self.account)


def run(messages: int, window: int, metrics: bool = True) -> float:
    """Microseconds of reactor-thread work per message."""
    clock = Clock()
    clock.advance(1_800_000_000)
    config = load_config(None, {})
    store = CommitStore()
    parts = wire(config, store, None, clock, InlineVerifier(),
                 metrics=GatewayMetrics(process=False) if metrics else None)
    parts.smsc.authenticator = Authenticated(Account(
        system_id="bench", password_hash="-", balance=Decimal(10**9), throughput=0,
        window=window, max_binds=1))
    protocol = parts.smsc.buildProtocol(None)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    protocol.dataReceived(encode(P.BindTransceiver(sequence_number=1, system_id="bench")))
    transport.clear()
    cycles = messages // window
    submits = [encode(P.SubmitSm(
        sequence_number=n + 2, source_addr_ton=1, source_addr_npi=1,
        source_addr="4915100000000", dest_addr_ton=1, dest_addr_npi=1,
        destination_addr=f"49176{n % 10_000_000:07d}", registered_delivery=1,
        short_message=b"smsgw benchmark message %d" % n)) for n in range(cycles * window)]
    framer = Framer()
    answers = b""
    spent = 0.0
    delivered = 0
    gc.collect()
    for cycle in range(cycles):
        chunk = answers + b"".join(submits[cycle * window:(cycle + 1) * window])
        started = time.perf_counter()
        protocol.dataReceived(chunk)
        store.commit()  # the submits
        clock.advance(config.simulator.delay)
        store.commit()  # the receipts (and acks), which sends the deliver_sm
        spent += time.perf_counter() - started
        receipts = [frame for frame in framer.feed(transport.value())
                    if int.from_bytes(frame[4:8], "big") == _DELIVER_SM]
        delivered += len(receipts)
        answers = b"".join(
            encode(P.DeliverSmResp(sequence_number=int.from_bytes(frame[12:16], "big")))
            for frame in receipts)
        transport.clear()
    if delivered != cycles * window:  # a store double out of step measures nothing
        raise SystemExit(f"{delivered} receipts for {cycles * window} messages")
    return spent / (cycles * window) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--metrics", choices=("on", "off", "both"), default="on")
    args = parser.parse_args()
    modes = ["off", "on"] if args.metrics == "both" else [args.metrics]
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.repeat):
        for mode in modes:  # interleaved: a load change hits both alike
            results[mode].append(run(args.messages, args.window, metrics=mode == "on"))
    for mode in modes:
        print(f"reactor-thread work per message, metrics {mode}: "
              + ", ".join(f"{us:.1f}" for us in results[mode])
              + f" us (best {min(results[mode]):.1f})")
    if len(modes) == 2:
        off, on = min(results["off"]), min(results["on"])
        print(f"metrics cost: {on - off:+.2f} us per message ({(on - off) / off * 100:+.1f} %)")


if __name__ == "__main__":
    main()
