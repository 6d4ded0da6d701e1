"""Bind storm: what a restart of a busy gateway brings. N connections of one account
connect and bind at the same moment, against a freshly started gateway (nothing
remembered yet), and stay bound until all have an answer.

    python bench/bind_storm.py                   # --binds 1000 10000 --accounts 1
    python bench/bind_storm.py --tree /path/to/other/checkout   # compare another version

Each size runs against its own fresh gateway (a fresh data directory, the account made
with the CLI before the start, max_binds = N, throughput unlimited). Reported per size: how
many bound, the time until the last one was bound (from the first connect), binds/s,
bind latency p50/p99, refusals by status, and the gateway's RSS peak (sampled every
0.1 s) and high-water mark. The goals (issue 12): 1,000 all bound within 10 s, 10,000
within 60 s. One JSON line per size starts with {"bench": "bind_storm".

The load generator runs in this process (asyncio, one connection per bind) on the same
machine as the gateway: numbers vary with the machine and its load.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from gateway_process import (
    REPO,
    BenchError,
    Gateway,
    bind_frame,
    connect,
    mb,
    percentile,
    raise_fd_limit,
)

PASSWORD = "storm123"


async def storm(gw: Gateway, binds: int, accounts: int, timeout: float) -> dict:
    frames = [bind_frame(f"storm{i % accounts}", PASSWORD) for i in range(binds)]
    start = time.perf_counter()
    latencies: list[float] = []
    statuses: Counter = Counter()
    clients = []
    idle = gw.rss()
    peak = [idle]

    async def one(frame: bytes) -> None:
        try:
            client = await connect(gw.smpp_port, first=frame)  # bind at once, as ESMEs do
        except OSError as e:
            statuses[f"connect: {e.strerror or e}"] += 1
            return
        clients.append(client)
        try:
            _, status, _ = await client.first_answer
        except ConnectionError:
            statuses["closed"] += 1
            return
        statuses[f"0x{status:02X}"] += 1
        if status == 0:
            latencies.append(time.perf_counter() - start)

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], gw.rss())
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.wait_for(asyncio.gather(*(one(f) for f in frames)), timeout)
    except TimeoutError:
        statuses["no answer within --timeout"] += binds - sum(statuses.values())
    finally:
        sampler.cancel()
    elapsed = max(latencies) if latencies else float("nan")
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)
    return {
        "bench": "bind_storm", "binds": binds, "accounts": accounts, "bound": len(latencies),
        "all_bound_s": round(elapsed, 3) if len(latencies) == binds else None,
        "last_bound_s": round(elapsed, 3),
        "binds_per_s": round(len(latencies) / elapsed, 1) if latencies else 0,
        "p50_s": round(percentile(latencies, 50), 3),
        "p99_s": round(percentile(latencies, 99), 3),
        "answers": dict(statuses), "rss_idle": idle, "rss_peak": peak[0],
        "vm_hwm": gw.high_water_mark(),
    }


def run_one(binds: int, accounts: int, tree: Path, timeout: float, keep: bool) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="smsgw-storm-"))
    gw = Gateway(workdir, {"smpp": {"enquire_link_interval": 0}}, tree=tree)
    per_account = -(-binds // accounts)
    for i in range(accounts):  # with the CLI, before the start: no password is remembered
        gw.cli("account", "add", f"storm{i}", "--password", PASSWORD, "--balance", "1000",
               "--throughput", "0", "--max-binds", str(per_account))
    gw.start()
    try:
        return asyncio.run(storm(gw, binds, accounts, timeout))
    finally:
        gw.stop()
        if keep:
            print(f"kept {workdir}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binds", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to run")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    try:
        raise_fd_limit(max(args.binds) + 1000)
        for binds in args.binds:
            result = run_one(binds, args.accounts, args.tree, args.timeout, args.keep)
            print(f"{binds} binds of {args.accounts} account(s): {result['bound']} bound, "
                  f"last after {result['last_bound_s']} s ({result['binds_per_s']}/s), "
                  f"p50 {result['p50_s']} s, p99 {result['p99_s']} s; answers "
                  f"{result['answers']}; gateway RSS idle {mb(result['rss_idle'])}, "
                  f"peak {mb(result['rss_peak'])}, "
                  f"VmHWM {mb(result['vm_hwm'])}")
            print(json.dumps(result))
    except BenchError as e:
        print(f"bind_storm: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
