"""PostgreSQL restarted under load (a database server of the test's own, stopped the hard
way and started again): submits that cannot be stored are answered with an error
(ESME_RSYSERR or ESME_RMSGQFUL over SMPP, 503 over HTTP), never ESME_ROK for a message
that was not committed; the gateway reconnects by itself; afterwards every acknowledged
message is in the database and gets its receipt."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from gateway_harness import ESME_ROK, Esme, Gateway, HttpClient, receipt_fields, wait_for
from private_postgres import PrivatePostgres

pytestmark = pytest.mark.integration

ESME_RSYSERR = 0x08
ESME_RMSGQFUL = 0x14


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


class Load:
    """A transmitter and an HTTP client submitting without pause, noting every answer."""

    def __init__(self, gw: Gateway, system_id: str) -> None:
        self.gw, self.system_id = gw, system_id
        self.smpp: list[tuple[int, str]] = []  # (status, message id)
        self.http: list[tuple[int, list[str]]] = []  # (status, message ids)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._over_smpp, daemon=True),
                         threading.Thread(target=self._over_http, daemon=True)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _over_smpp(self) -> None:
        with Esme(self.gw, self.system_id, "secret1", "transmitter", timeout=30) as esme:
            n = 0
            while not self._stop.is_set():
                window = [esme.send_submit(f"4917{n + i:07d}") for i in range(20)]
                n += 20
                for request in window:
                    resp = esme.response_to(request, timeout=30)
                    message_id = resp.message_id.decode() if resp.message_id else ""
                    self.smpp.append((resp.status, message_id))
                time.sleep(0.01)

    def _over_http(self) -> None:
        client = HttpClient(self.gw, basic=(self.system_id, "secret1"), timeout=30)
        try:
            while not self._stop.is_set():
                code, body, _ = client.call("POST", "/api/v1/messages", {
                    "to": ["4916000000", "4916000001"], "text": "hi", "dlr": True})
                self.http.append((code, [m["id"] for m in body.get("messages", [])]))
                if code != 202:
                    client.close()
                    client = HttpClient(self.gw, basic=(self.system_id, "secret1"),
                                        timeout=30)
                time.sleep(0.02)
        finally:
            client.close()

    def acknowledged(self) -> list[str]:
        return ([i for status, i in self.smpp if status == ESME_ROK]
                + [i for code, ids in self.http if code == 202 for i in ids])


def test_a_postgresql_restart_under_load_loses_nothing_acknowledged(tmp_path, database):
    gw = Gateway(tmp_path / "node", {"database": database.url, "node_id": 7,
                                     "simulator": {"delay": 0.05},
                                     "cluster": {"lease": 6.0, "heartbeat_interval": 1.0}})
    gw.start(timeout=30)
    try:
        system_id, _ = gw.add_account("load", "secret1", "100000", "--throughput", "0",
                                      "--max-binds", "4", "--window", "50")
        with Esme(gw, system_id, "secret1", "receiver", timeout=30) as receiver:
            with Load(gw, system_id) as load:
                wait_for(lambda: len(load.acknowledged()) > 300, timeout=30,
                         message="traffic before the restart")
                database.stop("immediate")  # as a crash: no clean shutdown
                time.sleep(3)
                database.start()
                before = len(load.acknowledged())
                wait_for(lambda: len(load.acknowledged()) > before + 300, timeout=60,
                         message="traffic after the restart (the gateway reconnected)")
            acknowledged = load.acknowledged()
            refused = {status for status, _ in load.smpp if status != ESME_ROK}
            assert refused, "the restart was not noticed: no submit was refused"
            assert refused <= {ESME_RSYSERR, ESME_RMSGQFUL}
            assert {code for code, _ in load.http} <= {202, 503}
            with psycopg.connect(database.url) as conn:
                stored = {r[0] for r in conn.execute(
                    "SELECT id FROM messages WHERE id = ANY(%s)", (acknowledged,))}
            assert set(acknowledged) <= stored  # no ESME_ROK without its commit
            receipts = receiver.wait_receipts(acknowledged, timeout=60)
        assert all(receipt_fields(r)["stat"] == "DELIVRD" for r in receipts.values())
        assert gw.alive
    finally:
        gw.close()
