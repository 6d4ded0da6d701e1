"""Soak: the gateway under steady SMPP and HTTP load for a long time, receipts over SMPP and
over signed webhooks, with RSS, open file descriptors and p99 latencies every minute.

    python bench/soak.py                        # 30 minutes at half the measured maximum
    python bench/soak.py --minutes 5 --smpp-rate 2000 --http-rate 300

It starts the gateway from this checkout on free ports and a fresh data directory, with
two accounts: `soak-smpp` submits over one transceiver bind (window 100) and takes its
receipts there; `soak-http` POSTs single messages with `dlr` and takes its receipts as
webhooks on a receiver in this process (bench/webhooks.py's: checks every signature).
Unless the rates are given it first measures the maximum of each path alone for
--calibrate seconds and then runs at half of each, both at once.

Every minute: gateway RSS and open fds, SMPP submit p99 and HTTP request p99 over that
minute, messages sent, receipts and webhooks received, errors. At the end it waits for
every receipt and webhook, and judges the goal: the rates held (at least 90 % of them on
average), RSS and fds within 10 % of their post-warm-up range (after --warmup minutes),
no error, nothing missing. Exit status 0 when the goal is met. Not a test: numbers depend
on the machine.
"""
from __future__ import annotations

import argparse
import base64
import json
import selectors
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import psutil  # noqa: E402
import smpp_e2e  # noqa: E402
from gateway_process import DataDirGateway as Gateway  # noqa: E402
from http_api import build_request, read_response  # noqa: E402
from webhooks import SECRET, Receiver  # noqa: E402

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import encode  # noqa: E402
from gateway.smpp.framing import Framer  # noqa: E402

REPO = BENCH.parent
PASSWORD = "soakpw12"
WINDOW = 100


class SoakError(Exception):
    pass


@dataclass
class Minute:
    """What the load generators saw since the last report (reset every minute)."""

    smpp_latencies: list[float] = field(default_factory=list)
    http_latencies: list[float] = field(default_factory=list)
    smpp_sent: int = 0
    http_sent: int = 0
    receipts: int = 0


@dataclass
class Totals:
    lock: threading.Lock = field(default_factory=threading.Lock)
    minute: Minute = field(default_factory=Minute)
    smpp_accepted: int = 0
    http_accepted: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # accepted over SMPP, receipt not yet
    early: set[str] = field(default_factory=set)  # receipts before their submit_sm_resp
    duplicate_receipts: int = 0
    http_ids: set[str] = field(default_factory=set)  # accepted over HTTP

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def take_minute(self) -> Minute:
        with self.lock:
            minute, self.minute = self.minute, Minute()
            return minute


def paced(rate: float, started: float, sent: int, now: float) -> int:
    """How many more may be sent now to keep `rate` per second since `started`."""
    return int(rate * (now - started)) - sent if rate > 0 else 1 << 30


class SmppLoad(threading.Thread):
    """One transceiver: submits at `rate` (window 100), answers every deliver_sm."""

    def __init__(self, gw: Gateway, totals: Totals, rate: float, stop: threading.Event) -> None:
        super().__init__(daemon=True, name="smpp-load")
        self.gw, self.totals, self.rate, self.stop_event = gw, totals, rate, stop
        self.template = encode(P.SubmitSm(
            source_addr_ton=1, source_addr_npi=1, source_addr="4915100000000", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4917612345678", registered_delivery=1,
            short_message=b"soak message"))
        self.sent_at: dict[int, float] = {}
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by the main thread
            self.failure = e

    def _run(self) -> None:
        sock = smpp_e2e.bind_transceiver("127.0.0.1", self.gw.smpp_port, "soak-smpp",
                                         PASSWORD, 10.0)
        framer, out, pending, sequence, sent = Framer(), [], b"", 1, 0
        started = time.perf_counter()
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        while not self.stop_event.is_set() or self.sent_at:
            now = time.perf_counter()
            if not self.stop_event.is_set():
                room = min(WINDOW - len(self.sent_at), paced(self.rate, started, sent, now))
                for _ in range(max(room, 0)):
                    out.append(smpp_e2e.with_sequence(self.template, sequence))
                    self.sent_at[sequence] = now
                    sequence += 1
                    sent += 1
                if room > 0:
                    with self.totals.lock:
                        self.totals.minute.smpp_sent += room
            if out:
                pending += b"".join(out)
                out.clear()
            if pending:
                try:
                    pending = pending[sock.send(pending):]
                except BlockingIOError:
                    pass
            if selector.select(0.005):
                data = sock.recv(1 << 18)
                if not data:
                    raise SoakError("the gateway closed the SMPP bind")
                for frame in framer.feed(data):
                    self._frame(frame, out, time.perf_counter())
        self._drain(sock, framer, selector)

    def _frame(self, frame: bytes, out: list[bytes], now: float) -> None:
        command_id = int.from_bytes(frame[4:8], "big")
        status = int.from_bytes(frame[8:12], "big")
        seq = int.from_bytes(frame[12:16], "big")
        totals = self.totals
        if command_id == 0x80000004:  # submit_sm_resp
            latency = now - self.sent_at.pop(seq)
            with totals.lock:
                totals.minute.smpp_latencies.append(latency)
                if status:
                    totals.errors[f"submit_sm_resp {status:#x}"] = \
                        totals.errors.get(f"submit_sm_resp {status:#x}", 0) + 1
                    return
                totals.smpp_accepted += 1
                message_id = frame[16:frame.index(b"\0", 16)].decode("ascii")
                if message_id in totals.early:
                    totals.early.discard(message_id)
                else:
                    totals.waiting.add(message_id)
        elif command_id == 0x00000005:  # deliver_sm
            out.append(smpp_e2e.deliver_sm_resp(seq))
            message_id = smpp_e2e.receipted_message_id(frame)
            with totals.lock:
                totals.minute.receipts += 1
                if message_id in totals.waiting:
                    totals.waiting.discard(message_id)
                elif message_id in totals.early or message_id is None:
                    totals.duplicate_receipts += 1
                else:
                    totals.early.add(message_id)
        elif command_id == 0x00000015:  # enquire_link
            out.append(encode(P.EnquireLinkResp(sequence_number=seq)))

    def _drain(self, sock: socket.socket, framer: Framer, selector) -> None:
        """After the run: keep answering receipts until none is missing (or 120 s)."""
        deadline = time.monotonic() + 120
        out: list[bytes] = []
        while time.monotonic() < deadline:
            with self.totals.lock:
                if not self.totals.waiting:
                    break
            if selector.select(0.2):
                data = sock.recv(1 << 18)
                if not data:
                    break
                for frame in framer.feed(data):
                    self._frame(frame, out, time.perf_counter())
            if out:
                sock.setblocking(True)
                sock.sendall(b"".join(out))
                sock.setblocking(False)
                out.clear()
        sock.close()


class HttpLoad(threading.Thread):
    """Single-message POSTs with `dlr` at `rate` over `connections` keep-alive sockets,
    one request in flight on each."""

    def __init__(self, gw: Gateway, totals: Totals, rate: float, stop: threading.Event,
                 connections: int = 4) -> None:
        super().__init__(daemon=True, name="http-load")
        self.gw, self.totals, self.rate, self.stop_event = gw, totals, rate, stop
        self.connections = connections
        auth = "Basic " + base64.b64encode(f"soak-http:{PASSWORD}".encode()).decode()
        self.request = build_request(gw.http_port, auth, {
            "to": "4917612345678", "text": "soak over http", "dlr": True})
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:
            self.failure = e

    def _run(self) -> None:
        workers = [threading.Thread(target=self._connection, daemon=True)
                   for _ in range(self.connections)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _connection(self) -> None:
        """One keep-alive connection paced at its share of the rate."""
        try:
            sock = socket.create_connection(("127.0.0.1", self.gw.http_port), 30)
            buffer = bytearray()
            rate = self.rate / self.connections
            started, sent = time.perf_counter(), 0
            while not self.stop_event.is_set():
                if paced(rate, started, sent, time.perf_counter()) <= 0:
                    time.sleep(0.001)
                    continue
                begun = time.perf_counter()
                sock.sendall(self.request)
                status, body = read_response(sock, buffer)
                self._answered(status, body, time.perf_counter() - begun)
                sent += 1
            sock.close()
        except BaseException as e:
            self.failure = e

    def _answered(self, status: int, body: bytes, latency: float) -> None:
        totals = self.totals
        with totals.lock:
            totals.minute.http_sent += 1
            totals.minute.http_latencies.append(latency)
            if status != 202:
                totals.errors[f"HTTP {status}"] = totals.errors.get(f"HTTP {status}", 0) + 1
                return
            totals.http_accepted += 1
            totals.http_ids.add(json.loads(body)["messages"][0]["id"])


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else 0.0


def calibrate(gw: Gateway, seconds: float) -> tuple[float, float]:
    """The maximum rate of each path alone (flat out for `seconds`)."""
    rates = []
    for load_class in (SmppLoad, HttpLoad):
        totals, stop = Totals(), threading.Event()
        load = load_class(gw, totals, 0, stop)
        load.start()
        time.sleep(seconds)
        minute = totals.take_minute()
        stop.set()
        load.join(180)
        if load.failure:
            raise SoakError(f"calibration failed: {load.failure!r}")
        rates.append((minute.smpp_sent or minute.http_sent) / seconds)
    return rates[0], rates[1]


def run(args: argparse.Namespace, gw: Gateway, receiver: Receiver) -> dict:
    smpp_rate, http_rate = args.smpp_rate, args.http_rate
    if not (smpp_rate and http_rate):
        smpp_max, http_max = calibrate(gw, args.calibrate)
        smpp_rate = smpp_rate or round(smpp_max / 2)
        http_rate = http_rate or round(http_max / 2)
        print(f"calibration: SMPP {smpp_max:.0f} msg/s, HTTP {http_max:.0f} requests/s alone;"
              f" soaking at {smpp_rate} + {http_rate}", flush=True)
    receiver.arrived.clear()
    totals, stop = Totals(), threading.Event()
    loads = [SmppLoad(gw, totals, smpp_rate, stop), HttpLoad(gw, totals, http_rate, stop)]
    for load in loads:
        load.start()
    process = psutil.Process(gw.proc.pid)
    rows = []
    print("minute  RSS MB  fds  SMPP msg/s  SMPP p99 ms  HTTP req/s  HTTP p99 ms  "
          "receipts/s  webhooks  errors", flush=True)
    started = time.monotonic()
    webhooks_before = 0
    for minute_number in range(1, args.minutes + 1):
        while time.monotonic() < started + 60 * minute_number:
            time.sleep(0.5)
            if any(load.failure for load in loads) or gw.proc.poll() is not None:
                break
        m = totals.take_minute()
        webhooks = len(receiver.arrived)
        row = {"minute": minute_number, "rss_mb": round(process.memory_info().rss / 2**20, 1),
               "fds": process.num_fds(), "smpp_per_s": round(m.smpp_sent / 60),
               "smpp_p99_ms": round(p99(m.smpp_latencies), 1),
               "http_per_s": round(m.http_sent / 60),
               "http_p99_ms": round(p99(m.http_latencies), 1),
               "receipts_per_s": round(m.receipts / 60), "webhooks": webhooks - webhooks_before,
               "errors": sum(totals.errors.values())}
        webhooks_before = webhooks
        rows.append(row)
        print("  ".join(f"{v:>{w}}" for v, w in zip(row.values(),
                                                     (6, 6, 4, 10, 11, 10, 11, 10, 8, 6),
                                                     strict=True)), flush=True)
        if any(load.failure for load in loads) or gw.proc.poll() is not None:
            break
    stop.set()
    for load in loads:
        load.join(180)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not totals.http_ids <= receiver.arrived.keys():
        time.sleep(0.2)
    return judge(args, rows, totals, receiver, loads, smpp_rate, http_rate)


def judge(args, rows, totals: Totals, receiver: Receiver, loads, smpp_rate, http_rate) -> dict:
    settled = rows[args.warmup:] or rows
    spread = {key: (max(r[key] for r in settled) - min(r[key] for r in settled))
              / max(min(r[key] for r in settled), 1) for key in ("rss_mb", "fds")}
    missing_webhooks = len(totals.http_ids - receiver.arrived.keys())
    seconds = 60 * max(len(rows), 1)
    smpp_achieved = sum(r["smpp_per_s"] for r in rows) * 60 / seconds
    http_achieved = sum(r["http_per_s"] for r in rows) * 60 / seconds
    # a load generator (or a machine) that could not keep the rate did not soak at it
    rate_held = smpp_achieved >= 0.9 * smpp_rate and http_achieved >= 0.9 * http_rate
    summary = {
        "bench": "soak", "minutes": len(rows), "smpp_rate": smpp_rate, "http_rate": http_rate,
        "smpp_achieved_per_s": round(smpp_achieved), "http_achieved_per_s": round(http_achieved),
        "rate_held": rate_held,
        "smpp_accepted": totals.smpp_accepted, "http_accepted": totals.http_accepted,
        "missing_receipts": len(totals.waiting), "missing_webhooks": missing_webhooks,
        "duplicate_receipts": totals.duplicate_receipts,
        "duplicate_webhooks": receiver.duplicates, "bad_signatures": receiver.bad_signatures,
        "errors": totals.errors,
        "load_failures": [repr(load.failure) for load in loads if load.failure],
        "rss_spread_after_warmup": round(spread["rss_mb"], 3),
        "fds_spread_after_warmup": round(spread["fds"], 3),
    }
    summary["goal_met"] = (
        rate_held and spread["rss_mb"] <= 0.10 and spread["fds"] <= 0.10 and not totals.errors
        and not summary["load_failures"] and not summary["missing_receipts"]
        and not missing_webhooks and not receiver.bad_signatures
        and len(rows) == args.minutes)
    summary["per_minute"] = rows
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--smpp-rate", type=float, default=0, help="msg/s; 0: half the max")
    parser.add_argument("--http-rate", type=float, default=0, help="req/s; 0: half the max")
    parser.add_argument("--calibrate", type=float, default=20.0, help="s per path")
    parser.add_argument("--warmup", type=int, default=2, help="minutes left out of the spread")
    parser.add_argument("--json", help="also write the summary to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args(argv)
    receiver = Receiver()
    receiver.start()
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    gw = Gateway(workdir)
    try:
        gw.cli("account", "add", "soak-smpp", "--password", PASSWORD, "--balance", "100000000",
               "--throughput", "0", "--window", str(WINDOW))
        gw.cli("account", "add", "soak-http", "--password", PASSWORD, "--balance", "100000000",
               "--throughput", "0", "--webhook-url", f"http://127.0.0.1:{receiver.port}/hook",
               "--webhook-secret", SECRET)
        gw.start()
        summary = run(args, gw, receiver)
    finally:
        gw.stop()
        if args.keep:
            print(f"data and log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for key, value in summary.items():
        if key != "per_minute":
            print(f"{key:<26} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0 if summary["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
