"""Gateway memory after a burst of failed logins (issue 14 item 7: RSS went from 65 MB to
252 MB and stayed there).

    python bench/auth_burst_rss.py          # --addresses 100 --per-address 4 --bursts 2
    python bench/auth_burst_rss.py --tree /path/to/other/checkout

A fresh gateway on loopback with --accounts accounts per burst. Each burst sends, all at once,
--per-address wrong passwords from each of --addresses loopback source addresses
(127.0.1.1, 127.0.1.2, ...; new ones for each burst), half as HTTP Basic requests and
half as SMPP binds, spread over the accounts: each address's first three are free
attempts and the fourth waits its turn (0.5 s), so every one costs an scrypt check
(16 MB while it runs). Reported: the gateway's RSS before, its peak during
each burst (sampled every 0.1 s), and 5 s after each burst's last answer; the answers by
kind; and the gateway's thread count. One JSON line starts with {"bench": "auth_burst_rss".

Numbers vary with the machine and its load; compare runs made close together.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from gateway_process import REPO, BenchError, Gateway, bind_frame, connect, mb, raise_fd_limit

PASSWORD = "right123"
SETTLE = 5.0


async def http_attempt(port: int, source: str, system_id: str, password: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    credentials = base64.b64encode(f"{system_id}:{password}".encode()).decode()
    writer.write(f"GET /api/v1/balance HTTP/1.1\r\nHost: gw\r\nAuthorization: Basic "
                 f"{credentials}\r\nConnection: close\r\n\r\n".encode())
    status_line = await reader.readline()
    writer.close()
    return "HTTP " + status_line.split(b" ")[1].decode()


async def smpp_attempt(port: int, source: str, system_id: str, password: str) -> str:
    client = await connect(port, source)
    try:
        _, status, _ = await client.request(bind_frame(system_id, password))
        return f"SMPP 0x{status:02X}"
    finally:
        client.close()


async def burst(gw: Gateway, args, round_: int) -> dict:
    attempts = []
    for a in range(args.addresses):
        n = round_ * args.addresses + a  # each burst from new addresses: all clean
        source = f"127.0.{1 + n // 250}.{1 + n % 250}"
        for k in range(args.per_address):
            account = f"burst{round_ * args.accounts + (a * args.per_address + k) % args.accounts}"
            guess = f"w{round_}-{a}-{k}"
            kind = http_attempt if k % 2 == 0 else smpp_attempt
            port = gw.http_port if kind is http_attempt else gw.smpp_port
            attempts.append(kind(port, source, account, guess))
    peak = [gw.rss()]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], gw.rss())
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    answers = await asyncio.gather(*attempts, return_exceptions=True)
    elapsed = time.perf_counter() - started
    sampler.cancel()
    await asyncio.sleep(SETTLE)
    return {"attempts": len(attempts), "seconds": round(elapsed, 2),
            "answers": dict(Counter(a if isinstance(a, str) else type(a).__name__
                                    for a in answers)),
            "rss_peak": peak[0], "rss_after": gw.rss(), "threads_after": gw.threads()}


async def run(gw: Gateway, args) -> dict:
    await asyncio.sleep(SETTLE)  # the accounts' creation ran scrypt too: let that settle
    result = {"bench": "auth_burst_rss", "tree": str(args.tree), "rss_before": gw.rss(),
              "threads_before": gw.threads(), "bursts": []}
    for round_ in range(args.bursts):
        result["bursts"].append(await burst(gw, args, round_))
    result["vm_hwm"] = gw.high_water_mark()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=100)
    parser.add_argument("--per-address", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smsgw-burst-"))
    try:
        raise_fd_limit(args.addresses * args.per_address + 1000)
        gw = Gateway(workdir, tree=args.tree)
        gw.start()
        try:
            for i in range(args.accounts * args.bursts):  # fresh ones for each burst too
                gw.add_account(f"burst{i}", PASSWORD)
            result = asyncio.run(run(gw, args))
        finally:
            gw.stop()
    except BenchError as e:
        print(f"auth_burst_rss: {e}", file=sys.stderr)
        return 1
    print(f"gateway RSS before: {mb(result['rss_before'])} "
          f"({result['threads_before']} threads)")
    for n, b in enumerate(result["bursts"], 1):
        print(f"burst {n}: {b['attempts']} wrong passwords in {b['seconds']} s {b['answers']}; "
              f"RSS peak {mb(b['rss_peak'])}, {SETTLE:g} s after {mb(b['rss_after'])} "
              f"({b['threads_after']} threads)")
    print(f"VmHWM {mb(result['vm_hwm'])}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
