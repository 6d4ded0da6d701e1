"""End-to-end SMPP benchmark: submit_sm in, submit_sm_resp and delivery receipts out.

    python bench/smpp_e2e.py [--messages 20000] [--window 100] [--binds 1] [--no-null]
                             [--timeout 300] [--keep] [--metrics on|off|both [--rounds 3]]
    python bench/smpp_e2e.py --database postgresql://USER@HOST:PORT/DBNAME [--nodes 2]
                             [--no-baseline]
    python bench/smpp_e2e.py --host H --port P --system-id S --password W [--gateway-pid PID]

After the gateway's run(s) the same load generator drives bench/null_smsc.py (a
framing-only null SMSC on Twisted: bind, submit_sm_resp, one receipt per submit, nothing
else) in the same invocation, unless --no-null; each gateway run then reports
`null_ratio`, its end-to-end rate divided by the null SMSC's: how close the gateway
comes to the cost of the reactor, the kernel and the framing alone. Every run reports
the gateway's CPU per message (user + system time of the process, from psutil, over the
load, divided by the messages: submit and receipt together).

With --database the gateway runs on PostgreSQL (in a fresh schema of that database, dropped
afterwards), after a baseline run on SQLite in the same invocation (unless --no-baseline),
and the gateway CPU per message of the two is compared. --nodes N starts N gateway nodes
on that database (node_id 1..N), one bind each (unless --binds says more: they are spread
over the nodes), and reports every node's CPU and the commits PostgreSQL made.

By default it starts the gateway (`python -m twisted smsgw`) from this checkout as a
subprocess on a free port with a fresh temporary data directory, creates the `bench`
account with the admin CLI, runs the load, and stops the gateway. With --host/--port it
attaches to a running gateway instead (peak RSS then needs --gateway-pid).

The load generator runs in this process and is kept lean, so it leaves the machine's
cores to the gateway: one thread, non-blocking sockets, every submit_sm encoded with
gateway.smpp.codec BEFORE the clock starts, frames cut with gateway.smpp.framing, and
each bind keeps `--window` submit_sm outstanding. Every submit asks for a receipt
(registered_delivery=1); every deliver_sm is answered with deliver_sm_resp at once and
its receipted_message_id is matched against the ids the gateway returned.

The run ends when every submit is answered and every accepted message has its receipt,
or fails after --timeout. It prints a short table and one JSON line (starting with
`{"bench": "smpp_e2e"`). Rates:

    submit rate   accepted submits / (last submit_sm_resp - first submit_sm)
    receipt rate  receipts / (last receipt - first receipt)
    end to end    messages / (last receipt - first submit_sm): the headline number

Peak RSS is the gateway's, sampled with psutil every 0.1 s from the moment the binds are
up (the RSS then, bound and idle, is reported too). The kernel's high-water mark VmHWM is
reported as well; it covers the whole life of the process, including start-up and the
bind's password check (scrypt, 16 MB per bind), and usually exceeds the peak under load.

--metrics off starts the gateway with `[metrics] enabled = false`; --metrics both runs
the load against a fresh gateway with metrics off and on in turn (off, on, on, off, ...:
--rounds times each) and prints the median end-to-end rate of each and the difference, so
the cost of the metrics is measured in one run, under the same conditions.

Not a test: the numbers depend on the machine, and on a shared or virtual machine they
vary from run to run; compare runs made close together, several of each.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing it

import psutil  # noqa: E402

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import decode, encode  # noqa: E402
from gateway.smpp.constants import CommandId, Tag  # noqa: E402
from gateway.smpp.framing import Framer  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from fresh_schema import fresh_schema  # noqa: E402
from gateway_process import BenchError, NullServer, free_port  # noqa: E402

SYSTEM_ID = "bench"
PASSWORD = "benchpw"
BALANCE = 1_000_000  # at the default price of 0.05 per part: 20 million messages
RSS_SAMPLE_INTERVAL = 0.1
RECV_SIZE = 1 << 18

_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM = int(CommandId.DELIVER_SM)
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_UNBIND_RESP = int(CommandId.UNBIND_RESP)
_BIND_TRANSCEIVER_RESP = int(CommandId.BIND_TRANSCEIVER_RESP)
_GENERIC_NACK = int(CommandId.GENERIC_NACK)
_RESPONSE_BIT = 0x80000000
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)


# --- the gateway under test -------------------------------------------------------------------

class GatewayProcess:
    """The gateway from this checkout, as a subprocess on its own data directory."""

    def __init__(self, workdir: Path, port: int, window: int, binds: int, balance: int,
                 database: str = "", node_id: int = 0, metrics: bool = True) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "smsgw.toml"
        self.config_path.write_text(f"[metrics]\nenabled = {'true' if metrics else 'false'}\n")
        self.port = port
        self.database = database
        self.node_id = node_id
        self.data_dir = workdir / "data"
        self.log_path = workdir / "gateway.log"
        self.stderr_path = workdir / "gateway.stderr"
        self.env = dict(os.environ, PYTHONPATH=str(REPO))
        self._account_args = ["--balance", str(balance), "--throughput", "0",
                              "--max-binds", str(max(binds, 1)), "--window", str(window)]
        self.proc: subprocess.Popen | None = None

    def _database(self) -> list[str]:
        return ["--database", self.database] if self.database else []

    def create_account(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "gateway.cli", "--data-dir", str(self.data_dir),
             *self._database(), "account", "add", SYSTEM_ID, "--password", PASSWORD,
             *self._account_args],
            cwd=REPO, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start(self, timeout: float = 30.0) -> None:
        command = [sys.executable, "-m", "twisted", "--log-format=text",
                   f"--log-file={self.log_path}", "smsgw", "--config", str(self.config_path),
                   "--data-dir", str(self.data_dir), "--smpp-port", str(self.port),
                   "--http-port", "0", *self._database(), "--node-id", str(self.node_id)]
        with open(self.stderr_path, "wb") as stderr:  # a file: a pipe nobody reads can fill
            self.proc = subprocess.Popen(command, cwd=REPO, env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the gateway exited with {self.proc.returncode}:\n"
                                 f"{self.stderr_path.read_text(errors='replace')}"
                                 f"{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise BenchError(f"the gateway did not listen on {self.port} within {timeout:g} s")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL after `timeout`. `twist` stops the
        reactor cleanly and then re-raises the signal, so -SIGTERM is a normal exit."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class NodesSampler:
    """RssSampler for each of several gateway processes: the peak and CPU are the sums."""

    def __init__(self, pids: list[int]) -> None:
        self.nodes = [RssSampler(pid) for pid in pids]

    def load_starts(self) -> None:
        for node in self.nodes:
            node.load_starts()

    def sample(self, now: float) -> None:
        for node in self.nodes:
            node.sample(now)

    @property
    def peak(self) -> int:
        return sum(node.peak for node in self.nodes)

    @property
    def before_load(self) -> int:
        return sum(node.before_load for node in self.nodes)

    def high_water_mark(self) -> int | None:
        marks = [node.high_water_mark() for node in self.nodes]
        return None if None in marks else sum(marks)

    def cpu_used(self) -> float | None:
        used = self.cpu_per_node()
        return None if None in used else sum(used)

    def cpu_per_node(self) -> list[float | None]:
        return [node.cpu_used() for node in self.nodes]


class RssSampler:
    """Peak RSS of the gateway process: psutil samples plus the kernel's VmHWM."""

    def __init__(self, pid: int | None) -> None:
        self.process = psutil.Process(pid) if pid else None
        self.peak = 0
        self.before_load = 0
        self.next_at = 0.0
        self.cpu_start = self._cpu()

    def load_starts(self) -> None:
        """Bound, nothing sent yet: the baseline the load adds to."""
        self.sample(0.0)
        self.before_load = self.peak
        self.cpu_start = self._cpu()

    def sample(self, now: float) -> None:
        if self.process is None or now < self.next_at:
            return
        self.next_at = now + RSS_SAMPLE_INTERVAL
        try:
            self.peak = max(self.peak, self.process.memory_info().rss)
        except psutil.Error:
            self.process = None

    def high_water_mark(self) -> int | None:
        """VmHWM from /proc (Linux): the true peak, including moments between samples."""
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def _cpu(self) -> float | None:
        if self.process is None:
            return None
        try:
            times = self.process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return None

    def cpu_used(self) -> float | None:
        now = self._cpu()
        return None if now is None or self.cpu_start is None else now - self.cpu_start


# --- the load generator -----------------------------------------------------------------------

def submit_frames(count: int) -> list[bytes]:
    """Every submit_sm of the run, encoded up front (sequence numbers are set per bind)."""
    frames = []
    for n in range(count):
        frames.append(encode(P.SubmitSm(
            source_addr_ton=1, source_addr_npi=1, source_addr="4915100000000",
            dest_addr_ton=1, dest_addr_npi=1, destination_addr=f"49176{n % 10_000_000:07d}",
            registered_delivery=1,
            short_message=b"smsgw benchmark message %d" % n,
        )))
    return frames


def with_sequence(frame: bytes, sequence_number: int) -> bytes:
    return frame[:12] + sequence_number.to_bytes(4, "big") + frame[16:]


_DELIVER_SM_RESP = encode(P.DeliverSmResp())


def deliver_sm_resp(sequence_number: int) -> bytes:
    return with_sequence(_DELIVER_SM_RESP, sequence_number)


def receipted_message_id(frame: bytes) -> str | None:
    """The receipted_message_id TLV of a deliver_sm frame, or None.

    Found by skipping the mandatory fields rather than decoding the whole PDU: the load
    generator runs on the gateway's machine and must stay cheap. (The first receipt of a
    run is checked against gateway.smpp.codec.decode.)
    """
    pos = frame.index(b"\0", 16) + 3  # service_type, source_addr_ton, source_addr_npi
    pos = frame.index(b"\0", pos) + 3  # source_addr, dest_addr_ton, dest_addr_npi
    pos = frame.index(b"\0", pos) + 4  # destination_addr, esm_class, protocol_id, priority
    pos = frame.index(b"\0", pos) + 1  # schedule_delivery_time
    pos = frame.index(b"\0", pos) + 5  # validity_period, 4 one-octet fields
    pos += 1 + frame[pos]  # sm_length, short_message
    end = len(frame)
    while pos + 4 <= end:
        tag = int.from_bytes(frame[pos:pos + 2], "big")
        length = int.from_bytes(frame[pos + 2:pos + 4], "big")
        pos += 4
        if tag == _RECEIPTED_MESSAGE_ID:
            return frame[pos:pos + length].rstrip(b"\0").decode("latin-1")
        pos += length
    return None


@dataclass
class Results:
    """What all binds saw; times are time.perf_counter()."""

    total: int
    accepted: int = 0
    rejected: dict[int, int] = field(default_factory=dict)  # command_status -> count
    latencies: list[float] = field(default_factory=list)
    accepted_ids: set[str] = field(default_factory=set)
    early_receipts: set[str] = field(default_factory=set)  # receipt before its submit_sm_resp
    matched: int = 0
    receipts: int = 0
    duplicate_receipts: int = 0
    unmatched_receipts: int = 0
    receipt_ids: set[str] = field(default_factory=set)
    first_submit: float = 0.0
    last_submit_resp: float = 0.0
    first_receipt: float = 0.0
    last_receipt: float = 0.0

    @property
    def answered(self) -> int:
        return self.accepted + sum(self.rejected.values())

    @property
    def done(self) -> bool:
        return self.answered == self.total and self.matched == self.accepted

    def submit_accepted(self, message_id: str, latency: float, now: float) -> None:
        self.accepted += 1
        self.latencies.append(latency)
        self.last_submit_resp = now
        self.accepted_ids.add(message_id)
        if message_id in self.early_receipts:
            self.early_receipts.discard(message_id)
            self.matched += 1

    def receipt(self, message_id: str, now: float) -> None:
        self.receipts += 1
        if not self.first_receipt:
            self.first_receipt = now
        self.last_receipt = now
        if message_id in self.receipt_ids:
            self.duplicate_receipts += 1  # at-least-once: allowed, not counted twice
            return
        self.receipt_ids.add(message_id)
        if message_id in self.accepted_ids:
            self.matched += 1
        else:
            self.early_receipts.add(message_id)


class Bind:
    """One transceiver connection: keeps `window` submits outstanding, answers deliver_sm."""

    def __init__(self, sock: socket.socket, window: int, results: Results) -> None:
        self.sock = sock
        self.window = window
        self.results = results
        self.framer = Framer()
        self.sent_at: dict[int, float] = {}  # outstanding submit_sm by sequence number
        self.next_sequence = 1
        self.out: list[bytes] = []
        self.pending = b""  # written partially by the last send
        self.closed = False

    def fill(self, frames: list[bytes], cursor: int, now: float) -> int:
        """Queue submits up to the window; return the new cursor into `frames`."""
        room = self.window - len(self.sent_at)
        end = min(cursor + room, len(frames))
        if end <= cursor:
            return cursor
        if not self.results.first_submit:
            self.results.first_submit = now
        sent_at, seq, out = self.sent_at, self.next_sequence, self.out
        for i in range(cursor, end):
            out.append(with_sequence(frames[i], seq))
            sent_at[seq] = now
            seq += 1
        self.next_sequence = seq
        return end

    def flush(self) -> None:
        if self.out:
            self.pending += b"".join(self.out)
            self.out.clear()
        if self.pending:
            try:
                sent = self.sock.send(self.pending)
            except BlockingIOError:
                return
            self.pending = self.pending[sent:]

    def readable(self, now: float) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
            return
        for frame in self.framer.feed(data):
            self.handle(frame, now)

    def handle(self, frame: bytes, now: float) -> None:
        command_id = int.from_bytes(frame[4:8], "big")
        status = int.from_bytes(frame[8:12], "big")
        seq = int.from_bytes(frame[12:16], "big")
        results = self.results
        if command_id == _SUBMIT_SM_RESP:
            sent = self.sent_at.pop(seq)
            if status == 0:
                message_id = frame[16:frame.index(b"\0", 16)].decode("ascii")
                results.submit_accepted(message_id, now - sent, now)
            else:
                results.rejected[status] = results.rejected.get(status, 0) + 1
                results.last_submit_resp = now
        elif command_id == _DELIVER_SM:
            self.out.append(deliver_sm_resp(seq))  # answer first: the receipt is safe with us
            receipt_id = receipted_message_id(frame)
            if not results.receipts and receipt_id != decode(frame).tlvs.receipted_message_id:
                raise BenchError(f"receipted_message_id misread in {frame.hex()}")
            if receipt_id is None:
                results.unmatched_receipts += 1
            else:
                results.receipt(receipt_id, now)
        elif command_id == _ENQUIRE_LINK:
            self.out.append(encode(P.EnquireLinkResp(sequence_number=seq)))
        elif command_id == _UNBIND_RESP:
            self.closed = True
        elif command_id == _GENERIC_NACK:
            raise BenchError(f"the gateway answered generic_nack {status:#x} to sequence {seq}")
        elif not command_id & _RESPONSE_BIT:
            self.out.append(encode(P.GenericNack(sequence_number=seq, command_status=3)))


def bind_transceiver(host: str, port: int, system_id: str, password: str,
                     timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(encode(P.BindTransceiver(sequence_number=1, system_id=system_id,
                                          password=password, system_type="bench")))
    framer = Framer()
    while True:
        data = sock.recv(4096)
        if not data:
            raise BenchError("the gateway closed the connection during bind")
        for frame in framer.feed(data):
            response = decode(frame)
            if response.command_id != _BIND_TRANSCEIVER_RESP:
                raise BenchError(f"unexpected answer to bind_transceiver: {response!r}")
            if response.command_status:
                raise BenchError(f"bind_transceiver refused: status {response.command_status:#x}")
            if framer.pending:
                raise BenchError("the gateway sent something before the bind completed")
            sock.setblocking(False)
            return sock


def run_load(endpoints: list[tuple[str, int]], system_id: str, password: str, *,
             messages: int, window: int, binds: int, timeout: float,
             rss: RssSampler) -> Results:
    """The load over `binds` transceivers, spread over `endpoints` round robin."""
    frames = submit_frames(messages)
    results = Results(total=messages)
    connections = [Bind(bind_transceiver(*endpoints[n % len(endpoints)], system_id, password,
                                         10.0), window, results)
                   for n in range(binds)]
    selector = selectors.DefaultSelector()
    for bind in connections:
        selector.register(bind.sock, selectors.EVENT_READ, bind)
    rss.load_starts()
    cursor = 0
    started = time.perf_counter()
    deadline = started + timeout
    try:
        while not results.done:
            now = time.perf_counter()
            if now > deadline:
                raise BenchError(
                    f"timed out after {timeout:g} s: {results.answered}/{messages} submits "
                    f"answered, {results.matched}/{results.accepted} receipts")
            for bind in connections:
                cursor = bind.fill(frames, cursor, now)
                bind.flush()
            rss.sample(now)
            for key, _ in selector.select(0.05):
                bind = key.data
                bind.readable(time.perf_counter())
                if bind.closed:
                    raise BenchError("the gateway closed a bind during the run")
    finally:
        unbind_all(connections)
        selector.close()
    return results


def unbind_all(connections: list[Bind], timeout: float = 5.0) -> None:
    for bind in connections:
        if bind.closed:
            continue
        try:
            bind.sock.setblocking(True)
            bind.sock.settimeout(timeout)
            bind.sock.sendall(bind.pending + b"".join(bind.out)
                              + encode(P.Unbind(sequence_number=0x7FFFFFFF)))
            end = time.monotonic() + timeout
            while not bind.closed and time.monotonic() < end:
                data = bind.sock.recv(RECV_SIZE)
                if not data:
                    break
                for frame in bind.framer.feed(data):
                    if int.from_bytes(frame[4:8], "big") == _UNBIND_RESP:
                        bind.closed = True
        except OSError:
            pass
        finally:
            bind.sock.close()


# --- reporting --------------------------------------------------------------------------------

def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(results: Results, args, rss: RssSampler, bench_cpu: float) -> dict:
    latencies = sorted(results.latencies)
    t0 = results.first_submit
    submit_span = results.last_submit_resp - t0
    receipt_span = results.last_receipt - results.first_receipt
    e2e_span = results.last_receipt - t0
    gateway_cpu = rss.cpu_used()
    return {
        "bench": "smpp_e2e",
        "messages": results.total,
        "window": args.window,
        "binds": args.binds,
        "accepted": results.accepted,
        "rejected": {f"{k:#x}": v for k, v in sorted(results.rejected.items())},
        "receipts": results.receipts,
        "receipts_matched": results.matched,
        "duplicate_receipts": results.duplicate_receipts,
        "elapsed_s": round(e2e_span, 3),
        "submit_rate": round(results.accepted / submit_span, 1) if submit_span > 0 else None,
        "receipt_rate": round(results.receipts / receipt_span, 1) if receipt_span > 0 else None,
        "e2e_rate": round(results.total / e2e_span, 1) if e2e_span > 0 else None,
        "submit_latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "submit_latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "submit_latency_max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "gateway_rss_before_load_mb": (round(rss.before_load / 2**20, 1)
                                       if rss.before_load else None),
        "gateway_peak_rss_mb": round(rss.peak / 2**20, 1) if rss.peak else None,
        "gateway_vmhwm_mb": (round(rss.high_water_mark() / 2**20, 1)
                             if rss.high_water_mark() else None),
        "gateway_cpu_s": round(gateway_cpu, 2) if gateway_cpu is not None else None,
        "gateway_cpu_us_per_message": (round(gateway_cpu / results.total * 1e6, 1)
                                       if gateway_cpu is not None else None),
        "node_cpu_s": [None if c is None else round(c, 2) for c in rss.cpu_per_node()],
        "bench_cpu_s": round(bench_cpu, 2),
    }


def print_table(summary: dict) -> None:
    def fmt(value, unit=""):
        if value is None:
            return "n/a"
        return f"{value:,.1f}{unit}" if isinstance(value, float) else f"{value:,}{unit}"

    rows = [
        ("messages", f"{summary['messages']:,} (window {summary['window']}, "
                     f"{summary['binds']} bind{'s' if summary['binds'] > 1 else ''})"),
        ("accepted / rejected", f"{summary['accepted']:,} / {summary['rejected'] or 0}"),
        ("receipts (matched)", f"{summary['receipts']:,} ({summary['receipts_matched']:,})"),
        ("elapsed", fmt(summary["elapsed_s"], " s")),
        ("submit rate", fmt(summary["submit_rate"], " msg/s")),
        ("receipt rate", fmt(summary["receipt_rate"], " msg/s")),
        ("end to end", fmt(summary["e2e_rate"], " msg/s")),
        ("submit latency p50", fmt(summary["submit_latency_p50_ms"], " ms")),
        ("submit latency p99", fmt(summary["submit_latency_p99_ms"], " ms")),
        ("gateway peak RSS", f"{fmt(summary['gateway_peak_rss_mb'], ' MB')} under load "
                             f"({fmt(summary['gateway_rss_before_load_mb'], ' MB')} bound and "
                             f"idle; VmHWM {fmt(summary['gateway_vmhwm_mb'], ' MB')})"),
        ("CPU gateway / bench", f"{fmt(summary['gateway_cpu_s'], ' s')} / "
                                f"{fmt(summary['bench_cpu_s'], ' s')} "
                                f"({fmt(summary['gateway_cpu_us_per_message'], ' us')} of "
                                "gateway CPU per message)"),
    ]
    if len(summary["node_cpu_s"]) > 1:
        rows.append(("CPU per node", " / ".join(fmt(c, " s") for c in summary["node_cpu_s"])))
    if summary.get("store"):
        rows.insert(0, ("store", summary["store"]))
    if summary.get("null_ratio") is not None:
        rows.append(("/ null SMSC", f"{summary['null_ratio']:.3f} of its "
                                    f"{summary['null_smsc_e2e_rate']:,.1f} msg/s end to end"))
    if summary.get("postgres_commits_per_s") is not None:
        rows.append(("PostgreSQL commits", f"{summary['postgres_commits']:,} "
                     f"({fmt(summary['postgres_commits_per_s'], '/s')})"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


# --- main -------------------------------------------------------------------------------------

def postgres_commits(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT xact_commit FROM pg_stat_database"
                            " WHERE datname = current_database()").fetchone()[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=100,
                        help="outstanding submit_sm per bind (and the account's deliver_sm "
                             "window when the gateway is started here)")
    parser.add_argument("--binds", type=int, default=1, help="transceiver binds")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="give up (exit 1) after this many seconds of load")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary data directory and gateway log")
    parser.add_argument("--database", default="",
                        help="run on this PostgreSQL database (in a fresh schema of it)")
    parser.add_argument("--nodes", type=int, default=1,
                        help="gateway nodes on --database, one bind each (default 1)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="with --database: skip the SQLite run before it")
    parser.add_argument("--no-null", action="store_true",
                        help="skip the run against bench/null_smsc.py (and the ratio)")
    parser.add_argument("--metrics", choices=("on", "off", "both"), default="on",
                        help="the gateway's [metrics] (both: compare, see above)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --metrics both: runs of each")
    attach = parser.add_argument_group("attach to a running gateway instead of starting one")
    attach.add_argument("--host")
    attach.add_argument("--port", type=int)
    attach.add_argument("--system-id", default=SYSTEM_ID)
    attach.add_argument("--password", default=PASSWORD)
    attach.add_argument("--gateway-pid", type=int, help="for peak RSS and CPU")
    args = parser.parse_args(argv)
    if (args.host is None) != (args.port is None):
        parser.error("--host and --port go together")
    if args.messages < 1 or args.window < 1 or args.binds < 1 or args.rounds < 1:
        parser.error("--messages, --window, --binds and --rounds must be at least 1")
    if args.host is not None and args.metrics == "both":
        parser.error("--metrics both starts its own gateways: not with --host")
    if args.nodes < 1 or (args.nodes > 1 and not args.database):
        parser.error("--nodes needs --database (several nodes share a PostgreSQL database)")
    args.binds = max(args.binds, args.nodes)
    return args


def run_once(args, database: str = "", nodes: int = 1, metrics: bool = True) -> dict:
    """Start `nodes` gateways (on SQLite, or on `database`), load them, stop them."""
    gateways: list[GatewayProcess] = []
    workdir = Path(tempfile.mkdtemp(prefix="smpp_e2e-"))
    drop = None
    try:
        url = database
        if database:
            url, drop = fresh_schema(database, "smpp_e2e")
        for node in range(nodes):
            gateways.append(GatewayProcess(
                workdir / f"node{node + 1}", free_port(), args.window, args.binds,
                balance=BALANCE, database=url, node_id=node + 1 if database else 0,
                metrics=metrics))
        gateways[0].create_account()
        for gateway in gateways:
            gateway.start()
        rss = NodesSampler([g.proc.pid for g in gateways])
        commits = postgres_commits(url) if url else None
        cpu0 = time.process_time()
        try:
            results = run_load([("127.0.0.1", g.port) for g in gateways], args.system_id,
                               args.password, messages=args.messages, window=args.window,
                               binds=args.binds, timeout=args.timeout, rss=rss)
        except BenchError:
            for gateway in gateways:
                print(gateway.log_tail(), file=sys.stderr)
            raise
        rss.sample(float("inf"))
        summary = summarise(results, args, rss, time.process_time() - cpu0)
        summary["store"] = (f"PostgreSQL, {nodes} node{'s' if nodes > 1 else ''}" if url
                            else "SQLite")
        if url:
            summary["postgres_commits"] = postgres_commits(url) - commits
            summary["postgres_commits_per_s"] = round(
                summary["postgres_commits"] / summary["elapsed_s"], 1)
        summary["ok"] = results.matched == results.accepted == results.total
        return summary
    finally:
        for gateway in gateways:
            code = gateway.stop()
            if code not in (0, -signal.SIGTERM):
                print(f"smpp_e2e: a gateway did not stop cleanly (exit {code})",
                      file=sys.stderr)
        if drop is not None:
            drop()
        if args.keep:
            print(f"data and logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_null(args) -> dict:
    """The same load against the framing-only null SMSC: the floor for the ratio."""
    null = NullServer("the null SMSC", "null_smsc.py")
    null.start()
    try:
        rss = NodesSampler([null.proc.pid])
        cpu0 = time.process_time()
        results = run_load([("127.0.0.1", null.port)], args.system_id, args.password,
                           messages=args.messages, window=args.window, binds=args.binds,
                           timeout=args.timeout, rss=rss)
        rss.sample(float("inf"))
        summary = summarise(results, args, rss, time.process_time() - cpu0)
        summary["store"] = "none: bench/null_smsc.py (framing only)"
        summary["ok"] = results.matched == results.accepted == results.total
        return summary
    finally:
        null.stop()


def attached(args) -> dict:
    rss = NodesSampler([args.gateway_pid] if args.gateway_pid else [])
    cpu0 = time.process_time()
    results = run_load([(args.host, args.port)], args.system_id, args.password,
                       messages=args.messages, window=args.window, binds=args.binds,
                       timeout=args.timeout, rss=rss)
    rss.sample(float("inf"))
    summary = summarise(results, args, rss, time.process_time() - cpu0)
    summary["ok"] = results.matched == results.accepted == results.total
    return summary


def compare_metrics(args: argparse.Namespace) -> int:
    """Metrics off and on in turn, a fresh gateway each run: the medians and their gap."""
    rates: dict[str, list[float]] = {"off": [], "on": []}
    order = []
    for n in range(args.rounds):
        order += [("off", "on"), ("on", "off")][n % 2]
    for mode in order:
        summary = run_once(args, args.database, args.nodes, metrics=mode == "on")
        if not summary["ok"]:
            return 1
        rates[mode].append(summary["e2e_rate"])
        print(f"metrics {mode:>3}: {summary['e2e_rate']:>10,.1f} msg/s end to end, "
              f"submit p99 {summary['submit_latency_p99_ms']} ms, "
              f"gateway CPU {summary['gateway_cpu_s']} s", flush=True)
    median_off, median_on = statistics.median(rates["off"]), statistics.median(rates["on"])
    cost = (median_off - median_on) / median_off * 100
    print(f"median: off {median_off:,.1f} msg/s, on {median_on:,.1f} msg/s: "
          f"metrics cost {cost:.1f} %")
    print(json.dumps({"bench": "smpp_e2e_metrics", "messages": args.messages,
                      "rates_off": rates["off"], "rates_on": rates["on"],
                      "median_off": median_off, "median_on": median_on,
                      "cost_percent": round(cost, 2)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    metrics = args.metrics == "on"
    try:
        if args.metrics == "both":
            return compare_metrics(args)
        if args.host is not None:
            runs = [attached(args)]
        else:
            runs = []
            if not args.database or not args.no_baseline:
                runs.append(run_once(args, metrics=metrics))
            if args.database:
                runs.append(run_once(args, args.database, args.nodes, metrics=metrics))
        null = None if args.no_null else run_null(args)
    except (BenchError, OSError) as e:
        print(f"smpp_e2e: {e}", file=sys.stderr)
        return 1
    for summary in runs:
        if null is not None and summary["e2e_rate"] and null["e2e_rate"]:
            summary["null_smsc_e2e_rate"] = null["e2e_rate"]
            summary["null_ratio"] = round(summary["e2e_rate"] / null["e2e_rate"], 3)
        print_table(summary)
        print(json.dumps(summary))
        print()
    if null is not None:
        print_table(null)
        print(json.dumps(dict(null, bench="smpp_e2e_null")))
        print()
        for summary in runs:
            if "null_ratio" in summary:
                print(f"end to end, gateway ({summary.get('store', 'attached')}) / null SMSC: "
                      f"{summary['e2e_rate']:,.1f} / {null['e2e_rate']:,.1f} msg/s = "
                      f"{summary['null_ratio']:.3f}")
    if len(runs) == 2 and all(r["gateway_cpu_us_per_message"] for r in runs):
        ratio = runs[1]["gateway_cpu_us_per_message"] / runs[0]["gateway_cpu_us_per_message"]
        print(f"gateway CPU per message, PostgreSQL / SQLite: {ratio:.2f}")
    return 0 if all(r["ok"] for r in runs) and (null is None or null["ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
