"""Store throughput: N messages, each accept (1 message) + finish (with a receipt) + ack.

    python bench/store_bench.py [--messages 20000] [--in-flight 2000] [--work-us 0]
                                [--legs smpp|webhook|both] [--path FILE | --database URL]

`--legs` picks the receipt's fan-out legs: an SMPP item (acked with ack_outbox), a
webhook item (acked with webhooks_delivered), or both (two acks per message).

Drives a store (SQLite, or PostgreSQL with `--database postgresql://...`) from the reactor
with `--in-flight` message pipelines running at once and prints store operations/s,
messages/s, commits and the mean batch size.
Not a test: the numbers depend on the machine and its disk.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's gateway, not an installed one

from twisted.internet import defer, reactor  # noqa: E402

from gateway.model import (  # noqa: E402
    Account,
    Address,
    Channel,
    DeliveryKind,
    Message,
    MessageState,
    NewOutboxItem,
)
from gateway.storage import open_store  # noqa: E402
from gateway.storage.batched import BatchedStore  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from fresh_schema import fresh_schema  # noqa: E402

PRICE = Decimal("0.0125")
ACCOUNT = "bench"


def message(n: int) -> Message:
    return Message(
        id=f"{n:016d}", account=ACCOUNT, source=Address(ton=5, addr="BENCH"),
        destination=Address(ton=1, npi=1, addr=f"35988{n % 10_000_000:07d}"),
        body=b"Hello from the store benchmark, message number %d" % n,
        registered_delivery=1, price=PRICE, submitted_at=time.time(), connector="sim",
    )


def receipt(m: Message) -> NewOutboxItem:
    return NewOutboxItem(
        account=m.account, kind=DeliveryKind.RECEIPT, source=m.destination,
        destination=m.source, body=b"id:%s sub:001 dlvrd:001 stat:DELIVRD" % m.id.encode(),
        esm_class=0x04, message_id=m.id, message_state=int(MessageState.DELIVERED),
        created_at=time.time(),
    )


def webhook(m: Message) -> NewOutboxItem:
    event_id = f"evt_{m.id}"
    return NewOutboxItem(
        account=m.account, kind=DeliveryKind.RECEIPT, source=Address(), destination=Address(),
        body=b"", message_id=m.id, message_state=int(MessageState.DELIVERED),
        created_at=time.time(), channel=Channel.WEBHOOK, url="https://bench.example/hook",
        event_id=event_id,
        payload=json.dumps({"event_id": event_id, "type": "message.receipt",
                            "data": {"message_id": m.id, "state": "DELIVERED"}}),
    )


LEGS = {"smpp": (receipt,), "webhook": (webhook,), "both": (receipt, webhook)}


def burn(us: float) -> None:
    """Spend `us` microseconds of Python CPU, as the gateway's own work per message would."""
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def one(store: BatchedStore, n: int, latencies: list[float], work_us: float,
              legs: str) -> None:
    if work_us:
        burn(work_us)
    m = message(n)
    t0 = time.perf_counter()
    if not await store.accept(ACCOUNT, [m], PRICE):
        raise RuntimeError("balance exhausted")
    latencies.append(time.perf_counter() - t0)
    items = await store.finish(m.id, MessageState.DELIVERED, 0, time.time(),
                               [leg(m) for leg in LEGS[legs]])
    for item in items:  # each leg is acked on its own, as the fan-out does
        if item.channel is Channel.SMPP:
            await store.ack_outbox([item.id])
        else:
            await store.webhooks_delivered([item.id])


async def run(store: BatchedStore, total: int, in_flight: int, work_us: float,
              legs: str) -> None:
    numbers = iter(range(1, total + 1))
    latencies: list[float] = []

    async def worker() -> None:
        for n in numbers:
            await one(store, n, latencies, work_us, legs)

    commits0, t0, cpu0 = store.commits, time.perf_counter(), time.process_time()
    await defer.gatherResults(
        [defer.ensureDeferred(worker()) for _ in range(in_flight)], consumeErrors=True
    )
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    commits = store.commits - commits0
    ops = (2 + len(LEGS[legs])) * total
    latencies.sort()
    print(f"messages        {total}  (in flight {in_flight}, reactor work {work_us:g} us each,"
          f" legs {legs})")
    print(f"elapsed         {elapsed:.2f} s")
    print(f"store ops/s     {ops / elapsed:,.0f}")
    print(f"messages/s      {total / elapsed:,.0f}")
    print(f"commits         {commits}  (mean batch {ops / max(commits, 1):.0f} ops)")
    print(f"process CPU     {cpu:.2f} s  ({cpu / total * 1e6:.0f} us per message, both threads)")
    print(f"accept latency  median {statistics.median(latencies) * 1000:.1f} ms,"
          f" p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=2_000)
    parser.add_argument("--path", help="store file (default: a fresh temporary file)")
    parser.add_argument("--database", default="",
                        help="postgresql://USER@HOST:PORT/DBNAME instead of a SQLite file")
    parser.add_argument("--work-us", type=float, default=0.0,
                        help="Python CPU the reactor burns per message, standing in for"
                             " SMPP decoding and routing (default 0)")
    parser.add_argument("--legs", choices=sorted(LEGS), default="smpp",
                        help="the receipt's fan-out legs (default smpp)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval() in seconds (default: Python's 0.005)")
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    tmp = None
    path = args.path
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="store_bench")
        path = os.path.join(tmp.name, "bench.db")
    database, drop = args.database, None
    if database:
        database, drop = fresh_schema(database, "store_bench")
    store = open_store(database, Path(path), reactor)

    async def go() -> None:
        try:
            if await store.get_account(ACCOUNT) is None:
                await store.add_account(Account(system_id=ACCOUNT, password_hash="-"))
            await store.topup(ACCOUNT, PRICE * args.messages)
            await run(store, args.messages, args.in_flight, args.work_us, args.legs)
        finally:
            await store.close()
            reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(go()).addErrback(print))
    reactor.run()
    if tmp is not None:
        tmp.cleanup()
    if drop is not None:
        drop()


if __name__ == "__main__":
    main()
