"""Restart over a large backlog: a store holding a million undelivered receipts and a million
scheduled messages, then the gateway started on it.

    python bench/restart_backlog.py               # --receipts 1000000 --scheduled 1000000

It starts the gateway from this checkout once on a fresh data directory (so the store's
own schema is created), stops it, writes the backlog straight into the SQLite file in bulk
(through that schema: outbox rows for the receipts, SCHEDULED messages due in a day), then
starts the gateway again and reports: time to the first bind answered, time to the first
receipt delivered, receipts per second over the first seconds and the gateway's CPU per
receipt over them (psutil user + system, from the first receipt on), and gateway RSS
(peak over the run, and after the start of a gateway on an empty store, for comparison). Goals:
binds served in < 10 s, RSS bounded independent of the backlog. Not a test.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import psutil  # noqa: E402
from gateway_process import DataDirGateway as Gateway  # noqa: E402

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import decode, encode  # noqa: E402
from gateway.smpp.framing import Framer  # noqa: E402

ACCOUNT, PASSWORD = "backlog", "backlog1"
BATCH = 50_000


def bind_receiver(gw: Gateway, deadline: float) -> tuple[socket.socket, Framer, list]:
    """Connect (retrying until the port listens) and bind; the socket, its framer and any
    PDUs that came after the bind_resp."""
    while True:
        if gw.proc.poll() is not None:
            raise SystemExit(f"the gateway exited with {gw.proc.returncode}")
        try:
            sock = socket.create_connection(("127.0.0.1", gw.smpp_port), timeout=30)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the gateway did not listen in time") from None
            time.sleep(0.02)
    sock.sendall(encode(P.BindReceiver(sequence_number=1, system_id=ACCOUNT,
                                       password=PASSWORD)))
    framer = Framer()
    while True:
        data = sock.recv(1 << 16)
        if not data:
            raise SystemExit("the gateway closed the connection during the bind")
        pdus = [decode(frame) for frame in framer.feed(data)]
        if pdus:
            if pdus[0].command_status:
                raise SystemExit(f"bind refused: {pdus[0].command_status:#x}")
            return sock, framer, pdus[1:]


def fill(db: Path, receipts: int, scheduled: int) -> float:
    """Write the backlog in bulk; seconds it took."""
    started = time.monotonic()
    now = time.time()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = OFF")
    body = (b"id:%d sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
            b"stat:DELIVRD err:000 text:backlog")
    with conn:
        for start in range(0, receipts, BATCH):
            conn.executemany(
                "INSERT INTO outbox (account, kind, source_ton, source_npi, source_addr,"
                " destination_ton, destination_npi, destination_addr, body, esm_class,"
                " data_coding, message_id, message_state, network_error_code, created_at)"
                " VALUES (?, 'receipt', 1, 1, '4917000000', 1, 1, '4930123456', ?, 4, 0, ?,"
                " 2, NULL, ?)",
                ((ACCOUNT, body % n, str(n), now)
                 for n in range(start + 1, min(start + BATCH, receipts) + 1)))
        first_id = 10**12  # above any id the gateway made on the first start
        for start in range(0, scheduled, BATCH):
            conn.executemany(
                "INSERT INTO messages (id, account, source_ton, source_npi, source_addr,"
                " destination_ton, destination_npi, destination_addr, body, data_coding,"
                " esm_class, protocol_id, priority, registered_delivery, parts, price, state,"
                " error_code, submitted_at, done_at, scheduled_at, expires_at, connector)"
                " VALUES (?, ?, 1, 1, '4930123456', 1, 1, '4917000000', x'6869', 0, 0, 0, 0,"
                " 1, 1, 50000, 0, 0, ?, NULL, ?, NULL, 'simulator')",
                ((str(first_id + n), ACCOUNT, now, now + 86_400 + n % 3600)
                 for n in range(start, min(start + BATCH, scheduled))))
        if scheduled:
            conn.execute("UPDATE meta SET last_message_id = ? WHERE id = 1",
                         (str(first_id + scheduled - 1),))
    conn.close()
    return time.monotonic() - started


class RssPeak(threading.Thread):
    def __init__(self, gw: Gateway) -> None:
        super().__init__(daemon=True)
        self.gw, self.peak, self.stop_event = gw, 0, threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.05):
            try:
                self.peak = max(self.peak, self.gw.rss())
            except psutil.Error:
                return


def measure(gw: Gateway, read_seconds: float) -> dict:
    started = time.monotonic()
    gw.launch()
    sampler = RssPeak(gw)
    sampler.start()
    sock, framer, early = bind_receiver(gw, started + 120)
    bound = time.monotonic() - started
    first_receipt = None
    count = 0
    cpu_at_first = 0.0
    sock.settimeout(0.5)
    read_until = time.monotonic() + 60
    pending = list(early)
    while time.monotonic() < read_until:
        for pdu in pending:
            if isinstance(pdu, P.DeliverSm):
                if first_receipt is None:
                    first_receipt = time.monotonic() - started
                    read_until = time.monotonic() + read_seconds
                    cpu_at_first = gw.cpu_seconds()
                count += 1
                sock.sendall(encode(P.DeliverSmResp(sequence_number=pdu.sequence_number)))
            elif isinstance(pdu, P.EnquireLink):
                sock.sendall(encode(P.EnquireLinkResp(sequence_number=pdu.sequence_number)))
        try:
            data = sock.recv(1 << 18)
        except TimeoutError:
            pending = []
            continue
        if not data:
            break
        pending = [decode(frame) for frame in framer.feed(data)]
    cpu_used = gw.cpu_seconds() - cpu_at_first  # from the first receipt on: delivery only
    sock.close()
    sampler.stop_event.set()
    sampler.join()
    return {"first_bind_s": round(bound, 2),
            "first_receipt_s": round(first_receipt, 2) if first_receipt else None,
            "receipts_read": count,
            "receipts_per_s": round(count / read_seconds) if first_receipt else 0,
            "gateway_cpu_us_per_receipt": round(cpu_used / count * 1e6) if count else None,
            "rss_peak_mb": round(sampler.peak / 2**20, 1),
            "rss_end_mb": round(gw.rss() / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=1_000_000)
    parser.add_argument("--scheduled", type=int, default=1_000_000)
    parser.add_argument("--read-seconds", type=float, default=10.0,
                        help="how long receipts are read after the first one")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="restart-backlog-"))
    gw = Gateway(workdir)
    try:
        gw.cli("account", "add", ACCOUNT, "--password", PASSWORD, "--balance", "1000000",
               "--throughput", "0", "--window", "100")
        empty = measure(gw, 2.0)  # the same start on an empty store, for comparison
        gw.stop()
        filled_in = fill(gw.data_dir / "smsgw.db", args.receipts, args.scheduled)
        size = (gw.data_dir / "smsgw.db").stat().st_size
        result = measure(gw, args.read_seconds)
    finally:
        gw.stop()
        if args.keep:
            print(f"data and log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    summary = {"bench": "restart_backlog", "receipts": args.receipts,
               "scheduled": args.scheduled, "fill_s": round(filled_in, 1),
               "store_mb": round(size / 2**20), **result,
               "empty_store_rss_peak_mb": empty["rss_peak_mb"],
               "empty_store_first_bind_s": empty["first_bind_s"]}
    for key, value in summary.items():
        print(f"{key:<26} {value}")
    print(json.dumps(summary))
    return 0 if result["first_bind_s"] < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
