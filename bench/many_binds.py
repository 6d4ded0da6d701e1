"""10,000 bound sessions at once: the gateway's memory and its enquire_link answers while
it holds them, and a submit on one more bind meanwhile.

    python bench/many_binds.py       # --sessions 10000 --accounts 100 --hold 60 --interval 10

A fresh gateway (this checkout, or --tree) on loopback; --accounts accounts made through the
admin API, each with max_binds of its share plus one. The sessions bind as transceivers,
--ramp at a time, then for --hold seconds every session sends an enquire_link every
--interval seconds (spread evenly: sessions/interval per second) and times the answer.
Then one more bind sends a submit_sm, which must be answered ESME_ROK. The script raises
its open-file limit (the gateway inherits it); the hard limit must allow sessions + 1000.

Reported: gateway RSS before the binds, once all are bound, its peak (sampled every
0.5 s) and at the end; enquire_link round trips p50/p99/max and how many went
unanswered; the fresh submit's answer and latency. Goals (issue 12): RSS < 1 GB,
enquire_link p99 < 100 ms. One JSON line starts with {"bench": "many_binds".

The load generator shares the machine with the gateway (a round trip includes its own
event loop's delay): numbers vary with the machine and its load.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from gateway_process import (
    ENQUIRE_LINK_FRAME,
    REPO,
    BenchError,
    Gateway,
    SmppClient,
    bind_frame,
    connect,
    mb,
    percentile,
    raise_fd_limit,
)

from gateway.smpp import pdu as P
from gateway.smpp.codec import encode

PASSWORD = "many1234"
SUBMIT = encode(P.SubmitSm(source_addr_ton=1, source_addr_npi=1, source_addr="4915100000001",
                           dest_addr_ton=1, dest_addr_npi=1, destination_addr="4917600000002",
                           short_message=b"fresh bind, same gateway"))


async def bind_all(gw: Gateway, sessions: int, accounts: int, ramp: int) -> list[SmppClient]:
    bound: list[SmppClient] = []
    refused = 0

    async def one(i: int) -> None:
        nonlocal refused
        client = await connect(gw.smpp_port, first=bind_frame(f"many{i % accounts}", PASSWORD))
        _, status, _ = await client.first_answer
        if status:
            refused += 1
            client.close()
        else:
            bound.append(client)

    for first in range(0, sessions, ramp):
        await asyncio.gather(*(one(i) for i in range(first, min(first + ramp, sessions))))
    if refused:
        raise BenchError(f"{refused} binds refused")
    return bound


async def hold(gw: Gateway, clients: list[SmppClient], seconds: float,
               interval: float) -> tuple[list[float], int, int]:
    """Enquire_link traffic for `seconds`; (round trips, unanswered, peak RSS)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    unanswered = 0
    peak = gw.rss()
    slices = 100  # the sessions are split into slices, one slice due every interval/100
    start = loop.time()
    next_rss = start
    tick = 0
    pending: list[asyncio.Future] = []

    def answered(sent: float):
        def done(future: asyncio.Future) -> None:
            nonlocal unanswered
            if future.cancelled() or future.exception() is not None:
                unanswered += 1
            else:
                latencies.append(loop.time() - sent)
        return done

    while loop.time() - start < seconds:
        due = start + tick * interval / slices
        await asyncio.sleep(max(0.0, due - loop.time()))
        now = loop.time()
        for client in clients[tick % slices::slices]:
            future = client.request(ENQUIRE_LINK_FRAME)
            future.add_done_callback(answered(now))
            pending.append(future)
        tick += 1
        if now >= next_rss:
            peak = max(peak, gw.rss())
            next_rss = now + 0.5
    waiting = [f for f in pending if not f.done()]
    if waiting:
        await asyncio.wait(waiting, timeout=10)
        for future in waiting:
            if not future.done():
                future.cancel()
    await asyncio.sleep(0)
    return latencies, unanswered, peak


async def fresh_submit(gw: Gateway) -> tuple[int, float]:
    client = await connect(gw.smpp_port)
    try:
        _, status, _ = await client.request(bind_frame("many0", PASSWORD))
        if status:
            raise BenchError(f"the fresh bind was refused with 0x{status:X}")
        sent = time.perf_counter()
        _, status, _ = await asyncio.wait_for(client.request(SUBMIT), 10)
        return status, time.perf_counter() - sent
    finally:
        client.close()


async def run(gw: Gateway, args) -> dict:
    rss_before = gw.rss()
    started = time.perf_counter()
    clients = await bind_all(gw, args.sessions, args.accounts, args.ramp)
    bind_time = time.perf_counter() - started
    await asyncio.sleep(1)
    rss_bound = gw.rss()
    latencies, unanswered, peak = await hold(gw, clients, args.hold, args.interval)
    submit_status, submit_latency = await fresh_submit(gw)
    rss_end = gw.rss()
    for client in clients:
        client.close()
    await asyncio.sleep(1)
    return {
        "bench": "many_binds", "sessions": len(clients), "accounts": args.accounts,
        "bind_s": round(bind_time, 2), "hold_s": args.hold, "interval_s": args.interval,
        "enquire_links": len(latencies), "unanswered": unanswered,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "rss_before": rss_before, "rss_bound": rss_bound, "rss_peak": max(peak, rss_end),
        "rss_end": rss_end, "vm_hwm": gw.high_water_mark(), "gateway_threads": gw.threads(),
        "fresh_submit_status": submit_status,
        "fresh_submit_ms": round(submit_latency * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--ramp", type=int, default=1000, help="binds started at once")
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to run")
    args = parser.parse_args()
    per_account = -(-args.sessions // args.accounts) + 1
    workdir = Path(tempfile.mkdtemp(prefix="smsgw-many-"))
    try:
        raise_fd_limit(args.sessions + 1000)
        if per_account > 1000:
            raise BenchError("at most 999 sessions per account (the admin API's max_binds)")
        gw = Gateway(workdir, tree=args.tree)
        gw.start()
        try:
            for i in range(args.accounts):
                gw.add_account(f"many{i}", PASSWORD, max_binds=per_account)
            result = asyncio.run(run(gw, args))
        finally:
            gw.stop()
    except BenchError as e:
        print(f"many_binds: {e}", file=sys.stderr)
        return 1
    print(f"{result['sessions']} sessions of {args.accounts} accounts bound in "
          f"{result['bind_s']} s; enquire_link every {args.interval:g} s for {args.hold:g} s: "
          f"{result['enquire_links']} answered, {result['unanswered']} not, p50 "
          f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
          f"gateway RSS {mb(result['rss_before'])} before the binds, "
          f"{mb(result['rss_bound'])} bound, peak {mb(result['rss_peak'])}; "
          f"fresh bind's submit_sm answered 0x{result['fresh_submit_status']:X} in "
          f"{result['fresh_submit_ms']} ms")
    print(json.dumps(result))
    return 0 if result["fresh_submit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
