"""S11/S12/D3 under a crash: SIGKILL the gateway in the middle of a pipelined submit load,
restart it, and check that every acknowledged message was stored, that the balance was
debited exactly once per stored message, and that every acknowledged message gets its
receipt after the restart (at least once)."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from gateway_harness import (
    ESME_ROK,
    ConnectionClosed,
    P,
    RawClient,
    submit_sm,
    wait_for,
)

from gateway.smpp.codec import encode

pytestmark = pytest.mark.integration

WINDOW = 50
MIN_ACKED = 300
INITIAL_BALANCE = Decimal(1_000_000)
PRICE = Decimal("0.05")
MICRO = 1_000_000


class PipelinedLoad(threading.Thread):
    """A transmitter that keeps WINDOW submit_sm outstanding until its connection dies,
    recording every message_id the gateway acknowledged with ESME_ROK."""

    def __init__(self, gw, system_id: str, password: str) -> None:
        super().__init__(daemon=True, name="pipelined-load")
        self.client = RawClient(gw.host, gw.port, timeout=10)
        resp = self.client.bind(system_id, password, "transmitter")
        assert resp.command_status == ESME_ROK
        self.acked: list[str] = []
        self.refused: list[int] = []
        self.sent = 0
        self.ended_by: BaseException | None = None
        self._sequence = 10

    def run(self) -> None:
        outstanding: set[int] = set()
        try:
            while True:
                batch = []
                while len(outstanding) < WINDOW:
                    self._sequence += 1
                    outstanding.add(self._sequence)
                    batch.append(encode(submit_sm(
                        f"4917{self._sequence:07d}", b"crash test " + str(self._sequence).encode(),
                        registered_delivery=1, sequence_number=self._sequence)))
                if batch:
                    self.client.send_bytes(b"".join(batch))
                    self.sent += len(batch)
                pdu = self.client.read_pdu(10)
                if isinstance(pdu, P.SubmitSmResp) and pdu.sequence_number in outstanding:
                    outstanding.discard(pdu.sequence_number)
                    if pdu.command_status == ESME_ROK:
                        self.acked.append(pdu.message_id)
                    else:
                        self.refused.append(pdu.command_status)
        except (ConnectionClosed, OSError, TimeoutError) as e:
            self.ended_by = e
        finally:
            self.client.close()


def collect_receipts(gw, system_id: str, password: str, wanted: set[str],
                     timeout: float) -> dict[str, int]:
    """Bind a receiver, acknowledge every receipt, return receipted id -> times seen."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    with RawClient(gw.host, gw.port) as rx:
        assert rx.bind(system_id, password, "receiver").command_status == ESME_ROK
        while not wanted <= seen.keys():
            left = deadline - time.monotonic()
            assert left > 0, (f"{len(wanted - seen.keys())} of {len(wanted)} messages got no "
                              f"receipt in {timeout:g} s")
            try:
                deliver = rx.expect(P.DeliverSm, timeout=min(left, 2))
            except TimeoutError:
                continue
            rx.send(P.DeliverSmResp(sequence_number=deliver.sequence_number))
            receipted = deliver.tlvs.receipted_message_id
            seen[receipted] = seen.get(receipted, 0) + 1
    return seen


def test_sigkill_under_load_loses_no_acknowledged_message(start_gateway):
    gw = start_gateway({"price_per_part": str(PRICE)})
    system_id, password = gw.add_account("crash", "secret1", str(INITIAL_BALANCE),
                                         "--throughput", "0")
    load = PipelinedLoad(gw, system_id, password)
    started = time.monotonic()
    load.start()
    wait_for(lambda: len(load.acked) >= MIN_ACKED and time.monotonic() - started >= 1.0,
             timeout=30, interval=0.01, message=f"{MIN_ACKED} acknowledged submits")
    gw.kill()
    load.join(15)
    assert not load.is_alive(), "the load thread did not notice the crash"
    assert load.refused == [], f"submits refused under load: {set(load.refused)}"
    acked = load.acked
    assert len(set(acked)) == len(acked), "a message_id was acknowledged twice"

    gw.start()

    # every acknowledged message is in the store; nothing stored twice or charged twice
    rows = gw.query_db("SELECT id, price, parts FROM messages WHERE account = ?", [system_id])
    stored = {message_id for message_id, _, _ in rows}
    assert len(stored) == len(rows)
    missing = set(acked) - stored
    assert not missing, (f"{len(missing)} acknowledged messages were lost, "
                         f"e.g. {sorted(missing)[:5]}")
    assert len(stored) - len(acked) <= WINDOW  # at most the unanswered ones were stored extra
    assert all(price == PRICE * MICRO and parts == 1 for _, price, parts in rows)
    balance = gw.balance(system_id)  # through `smsgw account show --json`
    assert balance == INITIAL_BALANCE - PRICE * len(stored), (
        f"balance {balance} after {len(stored)} stored messages "
        f"({len(acked)} acknowledged, {load.sent} sent)")

    # ids stay unique (and increasing) across the restart
    with RawClient(gw.host, gw.port) as tx:
        assert tx.bind(system_id, password, "transmitter").command_status == ESME_ROK
        after = tx.submit(body=b"after the crash", registered_delivery=0)
        assert after.command_status == ESME_ROK
    assert after.message_id not in stored
    assert int(after.message_id) > max(int(i) for i in stored)

    # every acknowledged message gets its receipt (at least once); so does every stored one
    seen = collect_receipts(gw, system_id, password, stored, timeout=30)
    assert set(acked) <= seen.keys()
    unfinished = gw.query_db(
        "SELECT COUNT(*) FROM messages WHERE account = ? AND state <= 1", [system_id])[0][0]
    assert unfinished == 0
    print(f"crash test: {load.sent} sent, {len(acked)} acknowledged, {len(stored)} stored, "
          f"{sum(seen.values()) - len(seen)} duplicate receipts")
