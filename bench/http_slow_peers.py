"""Slowloris against the HTTP listener, as issue 14 probed it: N connections from one
address (127.0.0.1) each sending a request header a byte every `--interval` seconds,
never ending the head, while a client from another address (127.0.0.2) asks GET /health
twice a second. Reports what each slow connection got (408, 503, nothing) and when, and
the normal client's slowest answer (times from the start of the run). Runs the gateway of
this checkout with its default [http] limits.

    python bench/http_slow_peers.py --connections 200

Not a test (tests/integration/test_http_slow_peers.py is the test).
"""
from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from gateway_process import REPO, Gateway, raise_fd_limit

HEAD = b"GET /health HTTP/1.1\r\nHost: gw\r\nX-Pad: " + b"a" * 200


def slow_peer(sock: socket.socket, interval: float, started: float, give_up: float,
              outcome: dict[int, tuple[str, float]], index: int) -> None:
    sock.settimeout(interval)
    for octet in HEAD:
        if time.monotonic() - started > give_up:
            break
        try:
            sock.sendall(bytes([octet]))
            data = sock.recv(4096)
            status = data.split(b" ", 2)[1].decode() if data else "closed"
            outcome[index] = (status, time.monotonic() - started)
            return
        except TimeoutError:
            continue
        except OSError as e:
            outcome[index] = (type(e).__name__, time.monotonic() - started)
            return
    outcome[index] = ("still open", time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0, help="s between bytes")
    parser.add_argument("--give-up", type=float, default=40.0, help="s to watch at most")
    parser.add_argument("--tree", type=Path, default=REPO,
                        help="the source tree to run (e.g. an export of an older commit)")
    args = parser.parse_args()
    raise_fd_limit(args.connections + 256)
    gateway = Gateway(Path(tempfile.mkdtemp(prefix="smsgw-slow-")), tree=args.tree)
    gateway.start()
    try:
        started = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", gateway.http_port), timeout=5)
                 for _ in range(args.connections)]
        outcome: dict[int, tuple[str, float]] = {}
        threads = [threading.Thread(target=slow_peer, daemon=True, args=(
            sock, args.interval, started, args.give_up, outcome, i))
            for i, sock in enumerate(socks)]
        for thread in threads:
            thread.start()
        answers = []
        while any(t.is_alive() for t in threads):
            with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=5,
                                          source_address=("127.0.0.2", 0)) as normal:
                sent = time.monotonic()
                normal.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
                status = normal.recv(4096).split(b" ", 2)[1].decode()
                answers.append((status, time.monotonic() - sent))
            time.sleep(0.5)
        for sock in socks:
            sock.close()
        print(f"{args.connections} slow connections, a byte every {args.interval:g} s:")
        for status, count in sorted(Counter(s for s, _ in outcome.values()).items()):
            times = [t for s, t in outcome.values() if s == status]
            print(f"  {status}: {count} at {min(times):.1f}-{max(times):.1f} s")
        print(f"normal client (another address): {len(answers)} requests, "
              f"{dict(Counter(s for s, _ in answers))}, slowest "
              f"{max(t for _, t in answers) * 1000:.1f} ms")
    finally:
        gateway.stop()


if __name__ == "__main__":
    main()
