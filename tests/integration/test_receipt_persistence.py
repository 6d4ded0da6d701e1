"""D3: receipts wait, persisted, while no receiver is bound; they survive a restart; one the
client never acknowledged is sent again on the next bind."""
from __future__ import annotations

import pytest
from gateway_harness import (
    ESME_ROK,
    Esme,
    P,
    raw_client,
    receipt_fields,
    wait_for,
)

pytestmark = pytest.mark.integration


def outbox_size(gw, system_id: str) -> int:
    return gw.query_db("SELECT COUNT(*) FROM outbox WHERE account = ?", [system_id])[0][0]


def submit_with_transmitter_only(gw, system_id: str, password: str, count: int) -> list[str]:
    with Esme(gw, system_id, password, "transmitter") as tx:
        ids = [tx.submit_ok(f"491700001{i:02d}", f"waiting {i}".encode()) for i in range(count)]
        tx.drain(0.1)
        assert tx.receipts == []  # a transmitter never gets receipts
    # every receipt is final and committed to the outbox before anyone binds to take it
    wait_for(lambda: outbox_size(gw, system_id) == count, 10, message="receipts in the outbox")
    return ids


def test_receipts_wait_until_a_receiver_binds(gateway, new_account):
    system_id, password = new_account()
    ids = submit_with_transmitter_only(gateway, system_id, password, 3)
    with Esme(gateway, system_id, password, "receiver") as rx:
        got = rx.wait_receipts(ids)
    assert {receipt_fields(r)["id"] for r in got.values()} == set(ids)
    wait_for(lambda: outbox_size(gateway, system_id) == 0, 5, message="an empty outbox")


def test_unacknowledged_receipt_is_sent_again_on_the_next_bind(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as silent:
        assert silent.bind(system_id, password, "receiver").command_status == ESME_ROK
        with Esme(gateway, system_id, password, "transmitter") as tx:
            message_id = tx.submit_ok("4917000200", b"ack me")
        first = silent.expect(P.DeliverSm)  # read, never answered
        assert first.tlvs.receipted_message_id == message_id
    with Esme(gateway, system_id, password, "receiver") as rx:
        again = rx.wait_receipts([message_id])[message_id]
    fields = receipt_fields(again)
    assert fields["id"] == message_id and fields["stat"] == "DELIVRD"
    assert again.short_message == first.short_message
    wait_for(lambda: outbox_size(gateway, system_id) == 0, 5, message="an empty outbox")


def test_receipts_survive_a_restart(gateway, new_account):
    system_id, password = new_account()
    ids = submit_with_transmitter_only(gateway, system_id, password, 4)
    gateway.restart()
    with Esme(gateway, system_id, password, "receiver") as rx:
        got = rx.wait_receipts(ids)
        rx.drain(0.2)
    assert sorted(got) == sorted(ids)
    assert len(rx.receipts) == len(ids)  # acknowledged before the restart: none twice


def test_receipt_answered_with_an_error_is_retried(start_gateway):
    """D3: a deliver_sm_resp with an error status does not count as delivered."""
    gw = start_gateway({"receipts": {"retry_delay": 0.5}})
    system_id, password = gw.add_account("retry", "secret1", "10", "--throughput", "0")
    with raw_client(gw) as rx:
        assert rx.bind(system_id, password, "receiver").command_status == ESME_ROK
        with Esme(gw, system_id, password, "transmitter") as tx:
            message_id = tx.submit_ok("4917000300", b"retry me")
        first = rx.expect(P.DeliverSm)
        rx.send(P.DeliverSmResp(sequence_number=first.sequence_number,
                                command_status=0x08))  # ESME_RSYSERR
        second = rx.expect(P.DeliverSm, timeout=5)
        assert second.tlvs.receipted_message_id == message_id
        rx.send(P.DeliverSmResp(sequence_number=second.sequence_number))
        wait_for(lambda: outbox_size(gw, system_id) == 0, 5, message="an empty outbox")
