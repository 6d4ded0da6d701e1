"""Upstream chain benchmark: customers -> gateway A -> SMPP connector -> gateway B
(simulator) -> receipts back through A to the customer, with A's ids.

    python bench/upstream_chain.py [--messages 10000] [--window 100] [--upstream-window 100]
                                   [--upstream-binds 1] [--timeout 300] [--keep]

Starts two gateways from this checkout (fresh temporary data directories, free ports),
gives B an account for A, configures A's connector and a catch-all route with A's CLI
(before A starts: it loads them from its store), waits until A's connector is bound, then
drives A with the load generator of bench/smpp_e2e.py (one transceiver, `--window`
outstanding submits, every receipt matched against A's ids). Prints the same table and one
JSON line (`{"bench": "upstream_chain"`); the end-to-end rate counts from the first
submit to A until the last receipt from A. Gateway CPU is A's and B's together (the
chain's cost per message; "CPU per node" gives A / B), peak RSS their sum.

Not a test: numbers depend on the (shared) machine; compare runs made close together.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smpp_e2e as e2e  # noqa: E402

UPSTREAM_ACCOUNT = "achain"
UPSTREAM_PASSWORD = "chainpw"


def cli(gateway: e2e.GatewayProcess, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(gateway.data_dir), *args],
        cwd=e2e.REPO, env=gateway.env, check=True, capture_output=True, text=True).stdout


def wait_bound(a: e2e.GatewayProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = json.loads(cli(a, "connector", "list", "--json"))
        if views and (views[0]["health"] or {}).get("up"):
            return
        time.sleep(0.5)
    raise e2e.BenchError(f"A's connector did not bind within {timeout:g} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=100, help="customer's window on A")
    parser.add_argument("--upstream-window", type=int, default=100,
                        help="A's connector: outstanding submit_sm per bind")
    parser.add_argument("--upstream-binds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    args.binds = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="upstream_chain-"))
    b = e2e.GatewayProcess(workdir / "b", e2e.free_port(), args.upstream_window,
                           args.upstream_binds, balance=e2e.BALANCE)
    a = e2e.GatewayProcess(workdir / "a", e2e.free_port(), args.window, 1,
                           balance=e2e.BALANCE)
    try:
        a.create_account()
        cli(b, "account", "add", UPSTREAM_ACCOUNT, "--password", UPSTREAM_PASSWORD,
            "--balance", str(e2e.BALANCE), "--throughput", "0",
            "--max-binds", str(args.upstream_binds), "--window", str(args.upstream_window))
        cli(a, "connector", "add", "b", "--host", "127.0.0.1", "--port", str(b.port),
            "--system-id", UPSTREAM_ACCOUNT, "--password", UPSTREAM_PASSWORD,
            "--window", str(args.upstream_window), "--binds", str(args.upstream_binds))
        cli(a, "route", "add", "", "--connector", "b")
        b.start()
        a.start()
        wait_bound(a)
        rss = e2e.NodesSampler([a.proc.pid, b.proc.pid])  # CPU of A and B: the chain's
        cpu0 = time.process_time()
        results = e2e.run_load([("127.0.0.1", a.port)], e2e.SYSTEM_ID, e2e.PASSWORD,
                               messages=args.messages, window=args.window, binds=1,
                               timeout=args.timeout, rss=rss)
        rss.sample(float("inf"))
        summary = e2e.summarise(results, args, rss, time.process_time() - cpu0)
        summary["bench"] = "upstream_chain"
        summary["upstream_window"] = args.upstream_window
        summary["upstream_binds"] = args.upstream_binds
    except (e2e.BenchError, OSError, subprocess.CalledProcessError) as e:
        print(f"upstream_chain: {e}", file=sys.stderr)
        for name, gateway in (("A", a), ("B", b)):
            print(f"--- gateway {name}\n{gateway.log_tail()}", file=sys.stderr)
        return 1
    finally:
        for gateway in (a, b):
            gateway.stop()
        if args.keep:
            print(f"data and logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    e2e.print_table(summary)
    print(json.dumps(summary))
    return 0 if results.matched == results.accepted == results.total else 1


if __name__ == "__main__":
    sys.exit(main())
