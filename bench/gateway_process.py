"""Shared by the benchmarks: a free loopback port (all of them); a null server as a
subprocess (NullServer: smpp_e2e.py, http_api.py); the gateway from a
checkout as a subprocess with its own config and data directory, accounts made through the
admin API, the gateway's RSS, and a lean asyncio SMPP client (the auth benchmarks:
bind_storm.py, many_binds.py, auth_burst_rss.py); the gateway on a bare data directory,
configured with the admin CLI (DataDirGateway: soak.py, restart_backlog.py).

Not a test; see each script's docstring for what it measures.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing it

import psutil  # noqa: E402

from gateway.smpp import pdu as P  # noqa: E402
from gateway.smpp.codec import encode  # noqa: E402
from gateway.smpp.framing import Framer  # noqa: E402

HEADER = struct.Struct(">IIII")
RESPONSE_BIT = 0x80000000
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006


class BenchError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NullServer:
    """A bench/ script that prints `listening on PORT` once its port is open (null_smsc.py,
    null_http.py), as a subprocess: the floor a gateway run is measured against."""

    def __init__(self, name: str, script: str, *args: str) -> None:
        self.name = name
        self.command = [sys.executable, str(REPO / "bench" / script), *args]
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout)
        selector.close()
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            self.stop()
            raise BenchError(f"{self.name} did not start: {line!r}")
        self.port = int(line.split()[-1])

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (the gateway child inherits it); the new soft
    limit is returned. BenchError when the hard limit is below `wanted`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        raise BenchError(f"the open-file hard limit is {hard}, {wanted} are needed "
                         f"(raise it with `ulimit -Hn` as root)")
    return target


def _toml(config: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(str(v))

    top = [f"{k} = {value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {value(vv)}" for kk, vv in v.items())
              for k, v in config.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


class Gateway:
    """`python -m twisted smsgw` from `tree` (this checkout by default) on loopback."""

    def __init__(self, workdir: Path, config: dict[str, Any] | None = None,
                 tree: Path = REPO) -> None:
        self.workdir = workdir
        self.tree = tree
        self.smpp_port = free_port()
        self.http_port = free_port()
        self.token = secrets.token_urlsafe(24)
        base = {"data_dir": str(workdir / "data"),
                "smpp": {"host": "127.0.0.1", "port": self.smpp_port, "tls_port": 0},
                "http": {"host": "127.0.0.1", "port": self.http_port},
                "admin": {"token": self.token}}
        for key, extra in (config or {}).items():
            if isinstance(extra, dict):
                base.setdefault(key, {}).update(extra)
            else:
                base[key] = extra
        self.config_path = workdir / "smsgw.toml"
        self.config_path.write_text(_toml(base))
        self.log_path = workdir / "gateway.log"
        self.proc: subprocess.Popen | None = None
        self.process: psutil.Process | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(self.tree))
        command = [sys.executable, "-m", "twisted", "--log-format=text",
                   f"--log-file={self.log_path}", "smsgw", "--config", str(self.config_path)]
        stderr = open(self.workdir / "gateway.stderr", "wb")  # noqa: SIM115 (kept open)
        self.proc = subprocess.Popen(command, cwd=self.tree, env=env,
                                     stdout=subprocess.DEVNULL, stderr=stderr)
        self.process = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        for port in (self.smpp_port, self.http_port):
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"the gateway exited with {self.proc.returncode}; "
                                     f"see {self.workdir}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise BenchError(f"the gateway did not listen on {port}") from None
                    time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def rss(self) -> int:
        return self.process.memory_info().rss

    def high_water_mark(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def threads(self) -> int:
        return self.process.num_threads()

    def cli(self, *args: str) -> None:
        """`smsgw --config ... <args>` from the same tree, on the same store."""
        env = dict(os.environ, PYTHONPATH=str(self.tree))
        subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(self.config_path),
                        *args], cwd=self.tree, env=env, check=True, stdout=subprocess.DEVNULL)

    def add_account(self, system_id: str, password: str, **settings: Any) -> None:
        """Through the admin API of the running gateway (max_binds at most 1000 there)."""
        body = {"system_id": system_id, "password": password, "balance": "1000000",
                "throughput": 0, **settings}
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/admin/v1/accounts", method="POST",
            data=json.dumps(body).encode(),
            headers={"authorization": f"Bearer {self.token}",
                     "content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 201:
                raise BenchError(f"creating {system_id}: HTTP {response.status}")


class DataDirGateway:
    """The gateway from this checkout on `workdir`/data, SMPP and HTTP on free ports, no
    config file: accounts and settings go in with the admin CLI (`cli`) beforehand."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.smpp_port, self.http_port = free_port(), free_port()
        self.env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "gateway.cli", "--data-dir", str(self.data_dir),
                        *args], cwd=REPO, env=self.env, check=True, capture_output=True)

    def launch(self) -> None:
        """Start it and return at once (a caller timing the start-up waits itself)."""
        command = [sys.executable, "-m", "twisted", "--log-format=text",
                   f"--log-file={self.workdir / 'gateway.log'}", "smsgw",
                   "--data-dir", str(self.data_dir), "--smpp-port", str(self.smpp_port),
                   "--http-port", str(self.http_port)]
        self.proc = subprocess.Popen(command, cwd=REPO, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until both ports listen (BenchError otherwise)."""
        self.launch()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the gateway exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.http_port), 0.5).close()
                socket.create_connection(("127.0.0.1", self.smpp_port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"the gateway did not listen within {timeout:g} s")

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# --- a lean SMPP client ----------------------------------------------------------------------

class SmppClient(asyncio.Protocol):
    """One ESME connection: requests with futures by sequence number; answers the
    gateway's enquire_link and deliver_sm by itself."""

    def __init__(self, first: bytes | None = None) -> None:
        self.framer = Framer()
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, asyncio.Future] = {}
        self.sequence = 0
        self.closed = asyncio.get_running_loop().create_future()
        self._first = first
        self.first_answer: asyncio.Future | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self._first is not None:  # in the same callback: no gap the loop could widen
            self.first_answer = self.request(self._first)

    def data_received(self, data: bytes) -> None:
        for frame in self.framer.feed(data):
            _, command_id, status, seq = HEADER.unpack_from(frame)
            if command_id & RESPONSE_BIT:
                future = self.waiting.pop(seq, None)
                if future is not None and not future.done():
                    future.set_result((command_id, status, frame))
            elif command_id in (ENQUIRE_LINK, DELIVER_SM, UNBIND):
                self.transport.write(HEADER.pack(16, command_id | RESPONSE_BIT, 0, seq))

    def connection_lost(self, exc) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("closed by the gateway"))
        self.waiting.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    def request(self, frame: bytes) -> asyncio.Future:
        """Send an encoded request (its sequence number is replaced); the future gets
        (command_id, command_status, frame) of the answer."""
        self.sequence += 1
        future = asyncio.get_running_loop().create_future()
        if self.transport is None or self.transport.is_closing():
            future.set_exception(ConnectionError("not connected"))
            return future
        self.waiting[self.sequence] = future
        self.transport.write(frame[:12] + self.sequence.to_bytes(4, "big") + frame[16:])
        return future

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


ENQUIRE_LINK_FRAME = HEADER.pack(16, ENQUIRE_LINK, 0, 0)


def bind_frame(system_id: str, password: str, kind: type = P.BindTransceiver) -> bytes:
    return encode(kind(sequence_number=1, system_id=system_id, password=password))


async def connect(port: int, source: str | None = None, first: bytes | None = None,
                  ) -> SmppClient:
    """A connection; `first` (a bind, say) is sent the moment it is made and its answer
    is `client.first_answer`."""
    loop = asyncio.get_running_loop()
    local = (source, 0) if source else None
    _, client = await loop.create_connection(lambda: SmppClient(first), "127.0.0.1", port,
                                             local_addr=local)
    return client
