"""Store faults on SQLite against the real gateway (issue 12, item 4): a full disk (a small
tmpfs this test mounts) and a database file made unwritable (chattr +i on an ext4 image
this test loop-mounts). Submits the store cannot take are refused (ESME_RSYSERR over SMPP,
HTTP 503 with a JSON error), the gateway recovers by itself when the fault goes, and
nothing that was acknowledged is lost. Mounting needs root; CI runs as root."""
from __future__ import annotations

import base64
import errno
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gateway_harness import ESME_ROK, Gateway, HttpClient, raw_client, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a filesystem needs root"),
]

ESME_RSYSERR = 0x08


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Path]:
    """A 16 MB tmpfs, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount))
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture
def ext4(tmp_path) -> Iterator[Path]:
    """A 64 MB ext4 image, loop-mounted (chattr +i needs a filesystem that keeps it)."""
    image, mount = tmp_path / "disk.img", tmp_path / "ext4"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(64 * 2**20)
    run("mkfs.ext4", "-q", "-F", str(image))
    run("mount", "-o", "loop", str(image), str(mount))
    yield mount
    for path in mount.glob("smsgw.db*"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


class Traffic:
    """Submits over SMPP (a transmitter: no receipts to answer) and HTTP; remembers every
    message the gateway acknowledged."""

    def __init__(self, gw: Gateway, account: str) -> None:
        self.gw = gw
        self.smpp = raw_client(gw, timeout=15)
        assert self.smpp.bind(account, "secret1", "transmitter").command_status == ESME_ROK
        credentials = base64.b64encode(f"{account}:secret1".encode()).decode()
        self.http = HttpClient(gw, timeout=15)
        self.http.auth = f"Basic {credentials}"
        self.acknowledged: set[str] = set()

    def submit(self) -> int:
        response = self.smpp.submit()
        if response.command_status == ESME_ROK:
            self.acknowledged.add(response.message_id)
        return response.command_status

    def post(self) -> tuple[int, dict, dict]:
        status, body, headers = self.http.call("POST", "/api/v1/messages",
                                               {"to": "+4917000001", "text": "fault drill"})
        if status == 202:
            self.acknowledged.update(m["id"] for m in body["messages"])
        return status, body, headers

    def close(self) -> None:
        self.smpp.close()
        self.http.close()


def refused_until(traffic: Traffic, limit: int = 5000, seconds: float = 90) -> None:
    """Submit until the store refuses one (its WAL may still take a few commits)."""
    deadline = time.monotonic() + seconds
    for _ in range(limit):
        status = traffic.submit()
        if status != ESME_ROK:
            assert status == ESME_RSYSERR, hex(status)
            return
        assert time.monotonic() < deadline, "the store never refused a submit"
    raise AssertionError(f"{limit} submits stored on a broken store")


def check_refusals(traffic: Traffic) -> None:
    """While the fault lasts: SMPP answers ESME_RSYSERR and HTTP a 503 JSON error."""
    statuses = [traffic.submit() for _ in range(5)]
    assert set(statuses) <= {ESME_ROK, ESME_RSYSERR} and ESME_RSYSERR in statuses, statuses
    answers = [traffic.post() for _ in range(5)]
    refused = [(body, headers) for status, body, headers in answers if status != 202]
    assert refused and all(status in (202, 503) for status, _, _ in answers), answers
    body, headers = refused[0]
    assert headers["content-type"] == "application/json" and headers["retry-after"] == "5"
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == "store_unavailable" and error["command_status"] == "0x8", error


def recovers(traffic: Traffic) -> None:
    """Once the fault is gone, submits are stored again without a restart."""
    wait_for(lambda: traffic.submit() == ESME_ROK, 30, 0.2, "the store to recover")
    assert all(traffic.submit() == ESME_ROK for _ in range(20))
    assert traffic.post()[0] == 202


def nothing_lost(gw: Gateway, traffic: Traffic, database: Path) -> None:
    traffic.close()
    gw.restart()
    connection = sqlite3.connect(database, timeout=10)
    try:
        stored = {row[0] for row in connection.execute("SELECT id FROM messages")}
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()
    missing = traffic.acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged messages lost: {sorted(missing)[:5]}"


def drill(start_gateway: Callable[..., Gateway], directory: Path, break_store, mend) -> None:
    gw = start_gateway({"database": str(directory / "smsgw.db")})
    gw.add_account("fault", "secret1", "1000", "--throughput", "0")
    traffic = Traffic(gw, "fault")
    assert all(traffic.submit() == ESME_ROK for _ in range(20))
    assert traffic.post()[0] == 202
    break_store()
    try:
        refused_until(traffic)
        check_refusals(traffic)
        assert gw.alive
    finally:
        mend()
    recovers(traffic)
    nothing_lost(gw, traffic, directory / "smsgw.db")


def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no space left."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    assert shutil.disk_usage(directory).free < 65536
    return filler


def test_a_full_disk_refuses_what_it_cannot_store_and_recovers_losing_nothing(
        start_gateway, tmpfs):
    filler = tmpfs / "filler"
    drill(start_gateway, tmpfs, lambda: fill(tmpfs), lambda: filler.unlink())


def test_an_unwritable_database_refuses_what_it_cannot_store_and_recovers_losing_nothing(
        start_gateway, ext4):
    # the database and its WAL made immutable; the -shm index stays as it is (a write
    # into an immutable mmap'd file is a SIGBUS, not an error SQLite could report)
    files = [str(ext4 / "smsgw.db"), str(ext4 / "smsgw.db-wal")]
    drill(start_gateway, ext4, lambda: run("chattr", "+i", *files),
          lambda: run("chattr", "-i", *files))
