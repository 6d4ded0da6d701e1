"""Helpers for the integration suite: the gateway as a real subprocess, a raw-socket SMPP
client built on gateway.smpp.codec, a thin driver around the third-party smpplib client,
and a self-signed certificate for the TLS listener.

Everything here is blocking and bounded: every wait has a deadline, nothing sleeps longer
than the poll interval.
"""
from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import os
import re
import select
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.smpp import pdu as P
from gateway.smpp.codec import decode, encode

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

# twistd itself (not `python -m twisted`, which is the newer `twist` runner): the gateway is
# documented as `twistd -n smsgw`. --pidfile= keeps twistd from writing twistd.pid.
_TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"

RECEIPT_RE = re.compile(
    r"id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d{10}) done date:(\d{10}) "
    r"stat:(\w{7}) err:(\d{3}) text:(.*)",
    re.DOTALL,
)

# command_status values the tests assert on (the literal wire numbers, on purpose not
# imported from gateway.smpp.constants: the tests pin the spec, not the code)
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RINVSRCADR = 0x0A
ESME_RINVMSGID = 0x0C
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RTHROTTLED = 0x58
ESME_RQUERYFAIL = 0x67
ESME_RINVBALANCE = 0x40B

GENERIC_NACK = 0x80000000
STATE_DELIVERED = 2
STATE_UNDELIVERABLE = 5


class GatewayError(AssertionError):
    pass


# --- configuration ------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Decimal, Path)):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_dumps(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for gateway configs: scalars, tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    arrays: list[tuple[str, list[dict]]] = []
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            tables.append((name, value))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            arrays.append((name, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        body = toml_dumps(table, name)
        out += f"\n[{name}]\n{body}"
    for name, items in arrays:
        for item in items:
            out += f"\n[[{name}]]\n" + "".join(
                f"{k} = {_toml_value(v)}\n" for k, v in item.items())
    return out


def deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def subprocess_env() -> dict[str, str]:
    """The environment for gateway and CLI subprocesses: the repo root first on the path
    (twisted/plugins/smsgw.py lives there, and an editable install does not expose it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


# --- the gateway process --------------------------------------------------------------------

_LISTENING = re.compile(r"\bSMPP listening on \S*:(\d+)")
_TLS_LISTENING = re.compile(r"\bSMPP over TLS listening on \S*:(\d+)")
_HTTP_LISTENING = re.compile(r"\bHTTP listening on \S*:(\d+)")
_PASSWORD = re.compile(r"^\s*password:\s+(\S+)\s*$")

_registry: list[Gateway] = []


def registered_gateways() -> list[Gateway]:
    return list(_registry)


class Gateway:
    """One gateway subprocess (`twistd -n smsgw`) with its own data dir and config.

    The first start asks the OS for free ports (port 0) and reads the real ones from the
    log; restarts reuse them, so clients reconnect to the same address.
    """

    host = "127.0.0.1"

    def __init__(self, workdir: Path, config: dict[str, Any] | None = None,
                 tls: tuple[Path, Path] | None = None, *, config_file: bool = True,
                 options: tuple[str, ...] = ()) -> None:
        """`config_file=False`: no --config at all (the embedded default, as a new user
        starts it); `options`: more `twistd smsgw` options."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "data"
        self.config = deep_merge({"smpp": {"host": self.host}, "http": {"host": self.host}},
                                 config or {})
        self.config_path = self.workdir / "smsgw.toml"
        self.config_path.write_text(toml_dumps(self.config))
        self.config_options = ("--config", str(self.config_path)) if config_file else ()
        self.options = options
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self.http_port = 0
        self.password: str | None = None  # the demo account's, from the first start's banner
        self.proc: subprocess.Popen | None = None
        self.expected_running = False
        self.starts = 0
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._accounts = itertools.count(1)
        _registry.append(self)

    # -- lifecycle
    @property
    def price_per_part(self) -> Decimal:
        return Decimal(str(self.config.get("price_per_part", "0.05")))

    @property
    def db_path(self) -> Path:
        return self.data_dir / "smsgw.db"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Gateway:
        assert not self.alive, "already running"
        cmd = [sys.executable, "-c", _TWISTD, "-n", "--pidfile=", "smsgw",
               *self.config_options, *self.options, "--data-dir", str(self.data_dir),
               "--smpp-port", str(self.port), "--http-port", str(self.http_port)]
        if self.tls:
            cert, key = self.tls
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key),
                    "--tls-port", str(self.tls_port)]
        with self._cond:
            first_line = len(self._lines)
            self._lines.append(f"----- start #{self.starts + 1}: {' '.join(cmd[3:])}\n")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.workdir, env=subprocess_env(), text=True, errors="replace", bufsize=1)
        self.starts += 1
        self.expected_running = True
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True,
                                        name=f"gateway-log-{self.proc.pid}")
        self._reader.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                plain, secure, http = self._scan(first_line)
                if plain and http and (secure or not self.tls):
                    self.port = plain
                    self.http_port = http
                    if self.tls:
                        self.tls_port = secure
                    break
                if self.proc.poll() is not None:
                    self.expected_running = False
                    raise GatewayError(
                        f"gateway exited with {self.proc.returncode} during start:\n"
                        + self.log_tail())
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise GatewayError(f"gateway not listening after {timeout:g} s:\n"
                                       + self.log_tail())
                self._cond.wait(min(left, 0.2))
        return self

    def _scan(self, first_line: int) -> tuple[int, int, int]:
        plain = secure = http = 0
        for line in self._lines[first_line:]:
            if m := _LISTENING.search(line):
                plain = int(m.group(1))
            if m := _TLS_LISTENING.search(line):
                secure = int(m.group(1))
            if m := _HTTP_LISTENING.search(line):
                http = int(m.group(1))
        return plain, secure, http

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self._cond:
                self._lines.append(line)
                if self.password is None and (m := _PASSWORD.match(line)):
                    self.password = m.group(1)
                self._cond.notify_all()
        proc.stdout.close()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (graceful: unbind, drain, close the store); SIGKILL if it hangs."""
        self.expected_running = False
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self._join_reader()
            raise GatewayError(
                f"gateway ignored SIGTERM for {timeout:g} s:\n" + self.log_tail()) from None
        self._join_reader()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup at all."""
        self.expected_running = False
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._join_reader()

    def restart(self, timeout: float = START_TIMEOUT) -> Gateway:
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        try:
            self.stop()
        except GatewayError:
            pass
        finally:
            self.kill()
            if self in _registry:
                _registry.remove(self)

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(5)

    def log(self) -> str:
        with self._cond:
            return "".join(self._lines)

    def log_tail(self, lines: int = 60) -> str:
        with self._cond:
            return "".join(self._lines[-lines:])

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if m := regex.search(line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line matching {pattern!r} in {timeout:g} s")
                self._cond.wait(min(left, 0.2))

    # -- HTTP
    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def admin_token(self) -> str:
        """The admin API's token, generated on the first start into the data dir."""
        return (self.data_dir / "admin-token").read_text().strip()

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON) of one admin API request, with the admin token."""
        client = HttpClient(self, bearer=self.admin_token)
        try:
            status, answer, _ = client.call(method, path, body)
        finally:
            client.close()
        return status, answer

    # -- the admin CLI
    def run_cli(self, *args: str, check: bool = True,
                timeout: float = 30.0) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "gateway.cli", *self.config_options,
               "--data-dir", str(self.data_dir), *map(str, args)]
        result = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(),
                                cwd=self.workdir, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"smsgw {' '.join(map(str, args))} exited "
                                 f"{result.returncode}: {result.stderr}{result.stdout}")
        return result

    def account(self, system_id: str) -> dict:
        return json.loads(self.run_cli("account", "show", system_id, "--json").stdout)

    def balance(self, system_id: str) -> Decimal:
        return Decimal(self.account(system_id)["balance"])

    def add_account(self, system_id: str | None = None, password: str = "secret1",
                    balance: str | Decimal = "100", *options: str) -> tuple[str, str]:
        """Create an account through the CLI; returns (system_id, password)."""
        system_id = system_id or f"acct{next(self._accounts):03d}"
        self.run_cli("account", "add", system_id, "--password", password,
                     "--balance", str(balance), *options)
        return system_id, password

    # -- the store, read directly
    def query_db(self, sql: str, params: Iterable = ()) -> list[tuple]:
        connection = sqlite3.connect(self.db_path, timeout=10)
        try:
            return connection.execute(sql, tuple(params)).fetchall()
        finally:
            connection.close()


# --- an HTTP client ----------------------------------------------------------------------------

class HttpClient:
    """Blocking JSON over one keep-alive loopback connection (http.client, stdlib)."""

    def __init__(self, gw: Gateway, *, basic: tuple[str, str] | None = None,
                 bearer: str | None = None, timeout: float = 10.0,
                 source: str | None = None) -> None:
        import base64
        import http.client

        self.connection = http.client.HTTPConnection(
            gw.host, gw.http_port, timeout=timeout,
            source_address=(source, 0) if source else None)
        self.auth = ""
        if basic is not None:
            self.auth = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
        elif bearer is not None:
            self.auth = f"Bearer {bearer}"

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed JSON body, headers in lower case)."""
        all_headers = {"content-type": "application/json"}
        if self.auth:
            all_headers["authorization"] = self.auth
        all_headers.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        self.connection.request(method, path, body=data, headers=all_headers)
        response = self.connection.getresponse()
        content = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        if response.getheader("connection", "").lower() == "close":
            self.connection.close()
        return response.status, json.loads(content), answer_headers

    def close(self) -> None:
        self.connection.close()


# --- a raw-socket SMPP client ---------------------------------------------------------------

class ConnectionClosed(Exception):
    pass


class RawClient:
    """Plain socket + gateway.smpp.codec. Answers the server's enquire_link by itself
    (unless `answer_enquire_link` is False); everything else is up to the test."""

    def __init__(self, host: str, port: int, *, timeout: float = 5.0,
                 ssl_context: ssl.SSLContext | None = None,
                 server_hostname: str | None = None, source: str | None = None) -> None:
        # `source`: another loopback address (127.0.0.2, ...) to connect from
        sock = socket.create_connection((host, port), timeout=timeout,
                                        source_address=(source, 0) if source else None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
        self.sock = sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.sequence = itertools.count(1)
        self.answer_enquire_link = True
        self.server_enquire_links = 0
        self.inbox: list[Any] = []  # requests from the gateway read while awaiting a response
        self.eof = False

    # -- sending
    def send(self, pdu: Any) -> int:
        if not pdu.sequence_number:
            pdu = replace(pdu, sequence_number=next(self.sequence))
        self.sock.sendall(encode(pdu))
        return pdu.sequence_number

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    # -- receiving
    def _fill(self, deadline: float) -> None:
        if self.eof:
            raise ConnectionClosed("closed by the gateway")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the gateway in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("no data from the gateway in time") from None
        except ssl.SSLError as e:  # a TLS connection torn down
            self.eof = True
            raise ConnectionClosed(f"TLS connection closed: {e}") from None
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise ConnectionClosed(f"connection reset: {e}") from None
        if not data:
            self.eof = True
            raise ConnectionClosed("closed by the gateway")
        self.buffer += data

    def read_frame(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buffer) >= 4:
                length = int.from_bytes(self.buffer[:4], "big")
                assert 16 <= length <= 1 << 20, f"gateway sent command_length {length}"
                if len(self.buffer) >= length:
                    frame = bytes(self.buffer[:length])
                    del self.buffer[:length]
                    return frame
            self._fill(deadline)

    def read_pdu(self, timeout: float | None = None) -> Any:
        """The next PDU: first any kept aside by `request`, then from the socket."""
        if self.inbox:
            return self.inbox.pop(0)
        return self._read_pdu(timeout)

    def _read_pdu(self, timeout: float | None) -> Any:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            pdu = decode(self.read_frame(max(deadline - time.monotonic(), 0.001)))
            if isinstance(pdu, P.EnquireLink):
                self.server_enquire_links += 1
                if self.answer_enquire_link:
                    self.send(P.EnquireLinkResp(sequence_number=pdu.sequence_number))
                    continue
            return pdu

    def expect(self, cls: type, timeout: float | None = None, sequence: int | None = None) -> Any:
        """The next PDU, which must be a `cls` (with `sequence`, if given)."""
        pdu = self.read_pdu(timeout)
        assert isinstance(pdu, cls), f"expected {cls.__name__}, got {pdu!r}"
        if sequence is not None:
            assert pdu.sequence_number == sequence, f"sequence {pdu.sequence_number} != {sequence}"
        return pdu

    def request(self, pdu: Any, cls: type | None = None, timeout: float | None = None) -> Any:
        """Send a request and return its response (the response PDU with the same sequence
        number). Requests from the gateway met on the way (deliver_sm) are kept for
        `read_pdu`; its enquire_links are answered."""
        seq = self.send(pdu)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            response = self._read_pdu(max(deadline - time.monotonic(), 0.001))
            if response.command_id & 0x80000000 and response.sequence_number == seq:
                if cls is not None:
                    assert isinstance(response, (cls, P.GenericNack)), repr(response)
                return response
            if response.command_id & 0x80000000:
                raise AssertionError(f"unexpected response while waiting for the answer to "
                                     f"{type(pdu).__name__}: {response!r}")
            self.inbox.append(response)

    def wait_closed(self, timeout: float) -> float:
        """Read (and drop) until the gateway closes the connection; return how long it took.
        Fails if the connection is still open after `timeout` seconds."""
        started = time.monotonic()
        deadline = started + timeout
        try:
            while True:
                self._fill(deadline)
                self.buffer.clear()
        except ConnectionClosed:
            return time.monotonic() - started
        except TimeoutError:
            raise AssertionError(
                f"the gateway kept the connection open for {timeout:g} s") from None
        except OSError:
            return time.monotonic() - started

    # -- conveniences
    def bind(self, system_id: str, password: str, kind: str = "transceiver",
             **fields: Any) -> Any:
        cls = {"transmitter": P.BindTransmitter, "receiver": P.BindReceiver,
               "transceiver": P.BindTransceiver}[kind]
        return self.request(cls(system_id=system_id, password=password, **fields))

    def submit(self, destination: str = "4917000000", body: bytes = b"Hello",
               **fields: Any) -> Any:
        """submit_sm (see `submit_sm` for the defaults) and its response."""
        return self.request(submit_sm(destination, body, **fields))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def raw_client(gw: Gateway, **kwargs: Any) -> RawClient:
    return RawClient(gw.host, gw.port, **kwargs)


def submit_sm(destination: str = "4917000000", body: bytes = b"Hello",
              **fields: Any) -> P.SubmitSm:
    """An international-number submit_sm asking for a receipt, unless `fields` say otherwise."""
    fields.setdefault("source_addr_ton", 1)
    fields.setdefault("source_addr_npi", 1)
    fields.setdefault("source_addr", "4930123456")
    fields.setdefault("dest_addr_ton", 1)
    fields.setdefault("dest_addr_npi", 1)
    fields.setdefault("registered_delivery", 1)
    return P.SubmitSm(destination_addr=destination, short_message=body, **fields)


# --- smpplib, the third-party client -------------------------------------------------------

def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return "" if value is None else str(value)


class Esme:
    """A bound smpplib client driven from the test thread: smpplib is blocking, so every
    read first waits (bounded) for the socket to become readable.

    deliver_sm PDUs met while reading are answered with deliver_sm_resp ROK (unless
    `ack_receipts` is False) and kept in `receipts`; the gateway's enquire_links are
    answered as smpplib does itself.
    """

    def __init__(self, gw: Gateway, system_id: str, password: str, kind: str = "transceiver",
                 *, ssl_context: ssl.SSLContext | None = None, port: int | None = None,
                 timeout: float = 5.0, **bind_fields: Any) -> None:
        import smpplib.client

        self.client = smpplib.client.Client(
            gw.host, port or gw.port, timeout=timeout, ssl_context=ssl_context,
            allow_unknown_opt_params=True)
        self.client.connect()
        self.receipts: list[Any] = []
        self.unclaimed: list[Any] = []  # PDUs read while waiting for something else
        self.ack_receipts = True
        self.bind_resp = None
        try:
            self.bind_resp = getattr(self.client, f"bind_{kind}")(
                system_id=system_id, password=password, **bind_fields)
        except BaseException:
            self.client.disconnect()
            raise

    # -- reading
    def _readable(self, timeout: float) -> bool:
        sock = self.client._socket
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        readable, _, _ = select.select([sock], [], [], max(timeout, 0))
        return bool(readable)

    def next_pdu(self, timeout: float) -> Any | None:
        """The next PDU other than deliver_sm / enquire_link, or None after `timeout`."""
        import smpplib.smpp

        deadline = time.monotonic() + timeout
        while True:
            if not self._readable(deadline - time.monotonic()):
                return None
            pdu = self.client.read_pdu()
            if pdu.command == "deliver_sm":
                self.receipts.append(pdu)
                if self.ack_receipts:
                    resp = smpplib.smpp.make_pdu("deliver_sm_resp", client=self.client)
                    resp.sequence = pdu.sequence
                    self.client.send_pdu(resp)
                continue
            if pdu.command == "enquire_link":
                resp = smpplib.smpp.make_pdu("enquire_link_resp", client=self.client)
                resp.sequence = pdu.sequence
                self.client.send_pdu(resp)
                continue
            return pdu

    def response_to(self, request: Any, timeout: float = 5.0) -> Any:
        """The response to `request`; other PDUs read meanwhile are kept for their turn
        (responses to pipelined requests may come in any order)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, pdu in enumerate(self.unclaimed):
                if pdu.sequence == request.sequence:
                    return self.unclaimed.pop(i)
            pdu = self.next_pdu(deadline - time.monotonic())
            if pdu is None:
                raise AssertionError(f"no answer to {request.command} in {timeout:g} s")
            self.unclaimed.append(pdu)

    # -- requests
    def send_submit(self, destination: str = "4917000000", text: bytes | None = b"Hello",
                    **fields: Any) -> Any:
        fields.setdefault("source_addr_ton", 1)
        fields.setdefault("source_addr_npi", 1)
        fields.setdefault("source_addr", "4930123456")
        fields.setdefault("dest_addr_ton", 1)
        fields.setdefault("dest_addr_npi", 1)
        fields.setdefault("registered_delivery", 1)
        fields.setdefault("data_coding", 0)
        if text is not None:
            fields["short_message"] = text
        return self.client.send_message(destination_addr=destination, **fields)

    def submit(self, destination: str = "4917000000", text: bytes | None = b"Hello",
               **fields: Any) -> Any:
        """submit_sm and its submit_sm_resp (whatever its status)."""
        return self.response_to(self.send_submit(destination, text, **fields))

    def submit_ok(self, destination: str = "4917000000", text: bytes | None = b"Hello",
                  **fields: Any) -> str:
        resp = self.submit(destination, text, **fields)
        assert resp.status == ESME_ROK, f"submit_sm_resp status {resp.status:#x}"
        message_id = _text(resp.message_id)
        assert message_id, "submit_sm_resp without a message_id"
        return message_id

    def query(self, message_id: str, source_addr: str = "4930123456") -> Any:
        request = self.client.query_message(message_id=message_id, source_addr_ton=1,
                                            source_addr_npi=1, source_addr=source_addr)
        return self.response_to(request)

    # -- receipts
    def receipt_ids(self) -> list[str]:
        return [_text(r.receipted_message_id) for r in self.receipts]

    def wait_receipts(self, message_ids: Iterable[str], timeout: float = 10.0) -> dict[str, Any]:
        """Read until a receipt for every id arrived; return id -> deliver_sm."""
        wanted = set(message_ids)
        deadline = time.monotonic() + timeout
        while True:
            got = {_text(r.receipted_message_id): r for r in self.receipts}
            if wanted <= got.keys():
                return {i: got[i] for i in wanted}
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"receipts missing for {sorted(wanted - got.keys())} "
                                     f"after {timeout:g} s (got {sorted(got)})")
            pdu = self.next_pdu(min(left, 0.5))
            if pdu is not None:
                self.unclaimed.append(pdu)

    def drain(self, seconds: float) -> None:
        """Keep reading (and acknowledging receipts) for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            pdu = self.next_pdu(left)
            if pdu is not None:
                self.unclaimed.append(pdu)

    def close(self) -> None:
        client = self.client
        if client._socket is None:
            return
        try:
            if client.state in _BOUND_STATES:
                client.send_pdu(_unbind(client))
                self._wait_unbind_resp()
        except Exception:  # the gateway may already be gone: closing is best effort
            pass
        finally:
            client.disconnect()

    def _wait_unbind_resp(self) -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            pdu = self.next_pdu(deadline - time.monotonic())
            if pdu is None or pdu.command == "unbind_resp":
                return

    def __enter__(self) -> Esme:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_BOUND_STATES = (2, 3, 4)  # smpplib's SMPP_CLIENT_STATE_BOUND_TX / _RX / _TRX


def _unbind(client: Any) -> Any:
    import smpplib.smpp

    return smpplib.smpp.make_pdu("unbind", client=client)


def receipt_fields(deliver_sm: Any) -> dict[str, Any]:
    """Check a receipt deliver_sm against the seeds' format and return its fields."""
    text = _text(deliver_sm.short_message)
    m = RECEIPT_RE.fullmatch(text)
    assert m, f"receipt text does not match the seeds' format: {text!r}"
    assert deliver_sm.esm_class == 0x04, f"esm_class {deliver_sm.esm_class:#x}, expected 0x04"
    fields = dict(zip(("id", "sub", "dlvrd", "submit_date", "done_date", "stat", "err", "text"),
                      m.groups(), strict=True))
    fields["receipted_message_id"] = _text(deliver_sm.receipted_message_id)
    fields["message_state"] = deliver_sm.message_state
    fields["network_error_code"] = deliver_sm.network_error_code
    return fields


def raw_receipt_fields(deliver_sm: P.DeliverSm) -> dict[str, Any]:
    """receipt_fields for a DeliverSm decoded by gateway.smpp.codec."""
    text = deliver_sm.short_message.decode("latin-1")
    m = RECEIPT_RE.fullmatch(text)
    assert m, f"receipt text does not match the seeds' format: {text!r}"
    assert deliver_sm.esm_class == 0x04
    fields = dict(zip(("id", "sub", "dlvrd", "submit_date", "done_date", "stat", "err", "text"),
                      m.groups(), strict=True))
    fields["receipted_message_id"] = deliver_sm.tlvs.receipted_message_id
    fields["message_state"] = deliver_sm.tlvs.message_state
    return fields


# --- TLS ----------------------------------------------------------------------------------

def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A fresh EC key and a self-signed certificate for localhost / 127.0.0.1 (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return cert_path, key_path
