"""HTTP API benchmark: POST /api/v1/messages over keep-alive connections, one recipient per
request and batches of many, against the real gateway as a subprocess.

    python bench/http_api.py [--single 5000] [--batches 100] [--batch-size 100]
                             [--clients 8] [--bearer] [--keep] [--no-null]

It starts the gateway from this checkout on free ports with a fresh temporary data
directory, creates the `bench` account with the admin CLI (and an API key with --bearer),
then runs two phases, each with `--clients` concurrent keep-alive connections:

    single  --single requests, one recipient each
    batch   --batches requests, --batch-size recipients each

Each client is a thread with a plain socket sending a pre-built request and reading the
answer (status line, headers, Content-Length body): the load generator stays lean. Every
answer must be 202. A phase ends only when every message it sent has been forwarded to
the connector (the simulator) and its receipt recorded: the script watches the store
(read-only SQLite: no message of the phase left SCHEDULED or ENROUTE) after the last
answer. Reported per phase: messages per second (messages / time from the first request
to the last receipt recorded), the accept rate (messages / time to the last 202),
requests per second, p50/p99 request latency, and the gateway's CPU time per message
(psutil user + system time over the whole phase, receipts included / messages).
HTTP Basic is checked with scrypt once per connection's credentials and then cached (see
gateway/http/auth.py); --bearer uses an API key instead.

After the gateway, unless --no-null, the same phases drive bench/null_http.py twice in the
same invocation: a null API on Klein and twisted.web, as the gateway's (202 and an id per
recipient, nothing stored or checked), then one on a bare twisted.web Resource. Each
gateway phase then reports `null_ratio`, its rate divided by the Klein null API's: how
much of the cost per request is the gateway's own, and how much the HTTP stack's.

Not a test: numbers depend on the machine; on a shared machine they vary from run to run.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYSTEM_ID = "bench"
PASSWORD = "bench123"

from gateway_process import BenchError, NullServer, cpu_seconds, free_port  # noqa: E402


class Gateway:
    """The gateway from this checkout on free ports and a fresh data directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.http_port = free_port()
        self.env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", "--data-dir", str(self.data_dir), *args],
            cwd=REPO, env=self.env, check=True, capture_output=True, text=True).stdout

    def start(self, timeout: float = 30.0) -> None:
        command = [sys.executable, "-m", "twisted", "--log-format=text",
                   f"--log-file={self.workdir / 'gateway.log'}", "smsgw",
                   "--data-dir", str(self.data_dir), "--smpp-port", "0",
                   "--http-port", str(self.http_port)]
        self.proc = subprocess.Popen(command, cwd=REPO, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the gateway exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"the gateway did not listen on {self.http_port} in {timeout:g} s")

    def unfinished(self) -> tuple[int, int]:
        """(messages stored, messages not yet final) as the store holds them now."""
        with sqlite3.connect(f"file:{self.data_dir / 'smsgw.db'}?mode=ro", uri=True,
                             timeout=10) as db:
            total, = db.execute("SELECT count(*) FROM messages").fetchone()
            open_, = db.execute("SELECT count(*) FROM messages WHERE state <= 1").fetchone()
        return total, open_

    def wait_final(self, expected_total: int, timeout: float = 120.0) -> None:
        """Until the store holds `expected_total` messages, every one final."""
        deadline = time.monotonic() + timeout
        while True:
            total, open_ = self.unfinished()
            if total >= expected_total and open_ == 0:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{open_} of {total} messages not final after {timeout:g} s "
                                 f"({expected_total} expected)")
            time.sleep(0.01)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def build_request(port: int, authorization: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes]:
    """(status, body) of one response on a keep-alive socket; `buffer` keeps the rest."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the gateway closed the connection")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the gateway closed the connection mid-answer")
        rest += chunk
    buffer[:] = rest[length:]
    return status, rest[:length]


def run_phase(port: int, request: bytes, count: int, clients: int) -> tuple[float, list[float]]:
    """Send `request` `count` times over `clients` connections; (wall seconds, latencies)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def client(share: int) -> None:
        mine = []
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = bytearray()
                for _ in range(share):
                    started = time.perf_counter()
                    sock.sendall(request)
                    status, body = read_response(sock, buffer)
                    mine.append(time.perf_counter() - started)
                    if status != 202:
                        raise BenchError(f"answer {status}: {body[:200]!r}")
        except Exception as e:  # reported after the phase
            with lock:
                errors.append(repr(e))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares if share]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise BenchError(f"{len(errors)} clients failed, first: {errors[0]}")
    return wall, sorted(latencies)


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


def phase_summary(name: str, wall: float, accept_wall: float, latencies: list[float],
                  per_request: int, cpu: float) -> dict:
    messages = len(latencies) * per_request
    return {"phase": name, "requests": len(latencies), "recipients_per_request": per_request,
            "messages": messages, "seconds": round(wall, 3),
            "messages_per_s": round(messages / wall),
            "accepted_per_s": round(messages / accept_wall), "requests_per_s": round(
                len(latencies) / wall), "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "gateway_cpu_us_per_message": round(cpu / messages * 1e6)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=5000, help="one-recipient requests")
    parser.add_argument("--batches", type=int, default=100, help="batch requests")
    parser.add_argument("--batch-size", type=int, default=100, help="recipients per batch")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--bearer", action="store_true", help="authenticate with an API key")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--no-null", action="store_true",
                        help="skip the runs against bench/null_http.py (and the ratios)")
    return parser.parse_args(argv)


def phase_requests(port: int, authorization: str, args: argparse.Namespace) -> list[tuple]:
    """(name, request, requests to send, recipients per request) of each phase."""
    recipients = [f"49170{i:07d}" for i in range(args.batch_size)]
    return [("single", build_request(port, authorization, {"to": "4917000001", "text": "Hello"}),
             args.single, 1),
            ("batch", build_request(port, authorization, {"to": recipients, "text": "Hello all"}),
             args.batches, args.batch_size)]


def run_gateway(args: argparse.Namespace) -> list[dict]:
    """The phases against the gateway, each until its last receipt is recorded."""
    workdir = Path(tempfile.mkdtemp(prefix="smsgw-http-bench-"))
    gateway = Gateway(workdir)
    try:
        gateway.cli("account", "add", SYSTEM_ID, "--password", PASSWORD,
                    "--balance", "100000000", "--throughput", "0")
        if args.bearer:
            authorization = "Bearer " + gateway.cli("apikey", "issue", SYSTEM_ID).splitlines()[1]
        else:
            authorization = "Basic " + base64.b64encode(
                f"{SYSTEM_ID}:{PASSWORD}".encode()).decode()
        gateway.start()
        port = gateway.http_port
        warmup = build_request(port, authorization, {"to": "4917000000", "text": "warm up"})
        run_phase(port, warmup, args.clients * 5, args.clients)
        stored = args.clients * 5
        gateway.wait_final(stored)
        results = []
        for name, request, count, per_request in phase_requests(port, authorization, args):
            cpu = gateway.cpu_seconds()
            started = time.perf_counter()
            accept_wall, latencies = run_phase(port, request, count, args.clients)
            stored += count * per_request
            gateway.wait_final(stored)  # forwarded to the simulator, receipt recorded
            wall = time.perf_counter() - started
            results.append(phase_summary(name, wall, accept_wall, latencies, per_request,
                                         gateway.cpu_seconds() - cpu))
        return results
    finally:
        gateway.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run_null(args: argparse.Namespace, stack: str) -> list[dict]:
    """The same phases against bench/null_http.py on `stack`: answered is done."""
    null = NullServer(f"the null API ({stack})", "null_http.py", "--stack", stack)
    null.start()
    try:
        authorization = "Basic " + base64.b64encode(f"{SYSTEM_ID}:{PASSWORD}".encode()).decode()
        warmup = build_request(null.port, authorization, {"to": "4917000000", "text": "warm up"})
        run_phase(null.port, warmup, args.clients * 5, args.clients)
        results = []
        for name, request, count, per_request in phase_requests(null.port, authorization, args):
            cpu = null.cpu_seconds()
            wall, latencies = run_phase(null.port, request, count, args.clients)
            results.append(phase_summary(f"{name} null {stack}", wall, wall, latencies,
                                         per_request, null.cpu_seconds() - cpu))
        return results
    finally:
        null.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_gateway(args)
    nulls = [] if args.no_null else run_null(args, "klein") + run_null(args, "web")
    for gateway_phase, null_phase in zip(results, nulls[:len(results)]):
        gateway_phase["null_klein_messages_per_s"] = null_phase["messages_per_s"]
        gateway_phase["null_ratio"] = round(
            gateway_phase["messages_per_s"] / null_phase["messages_per_s"], 3)
    print(f"{'phase':<18}{'msg/s':>9}{'accept/s':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'µs CPU/msg':>12}{'/ null':>8}")
    for r in results + nulls:
        print(f"{r['phase']:<18}{r['messages_per_s']:>9}{r['accepted_per_s']:>10}"
              f"{r['requests_per_s']:>9}{r['p50_ms']:>9}{r['p99_ms']:>9}"
              f"{r['gateway_cpu_us_per_message']:>12}{r.get('null_ratio', ''):>8}")
    print(json.dumps({"bench": "http_api", "clients": args.clients,
                      "auth": "bearer" if args.bearer else "basic", "phases": results,
                      "null_phases": nulls}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
