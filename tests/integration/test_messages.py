"""Messages end to end with the third-party smpplib client: submit (GSM, UCS2, long in
message_payload), billing per part, delivery receipts in the seeds' format on a
transceiver and on a separate receiver, simulator outcomes, registered_delivery modes,
query_sm, enquire_link, unbind, throttling and balance."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import smpplib.smpp
from gateway_harness import (
    ESME_RINVBALANCE,
    ESME_RINVMSGID,
    ESME_ROK,
    ESME_RQUERYFAIL,
    ESME_RTHROTTLED,
    STATE_DELIVERED,
    STATE_UNDELIVERABLE,
    Esme,
    P,
    raw_client,
    raw_receipt_fields,
    receipt_fields,
    submit_sm,
)

pytestmark = pytest.mark.integration

PRICE = Decimal("0.05")
UNDELIV_PREFIX, UNDELIV_ERROR = "4915", 11
REJECTED_PREFIX = "4916"

GATEWAY_CONFIG = {
    "price_per_part": str(PRICE),
    "simulator": {
        "delay": 0.05,
        "outcomes": [
            {"prefix": UNDELIV_PREFIX, "state": "UNDELIV", "error_code": UNDELIV_ERROR},
            {"prefix": REJECTED_PREFIX, "state": "REJECTD", "error_code": 3},
        ],
    },
}


def _receipt_time(text: str) -> datetime:
    return datetime.strptime(text, "%y%m%d%H%M").replace(tzinfo=UTC)


def test_short_gsm_message_and_its_receipt_on_a_transceiver(gateway, new_account):
    system_id, password = new_account()
    before = gateway.balance(system_id)
    with Esme(gateway, system_id, password, "transceiver") as esme:
        message_id = esme.submit_ok("4917000000", b"Hello world", registered_delivery=1)
        assert len(message_id) <= 20 and message_id.isdigit()  # S11
        receipt = esme.wait_receipts([message_id])[message_id]
    fields = receipt_fields(receipt)
    assert fields["id"] == message_id
    assert fields["receipted_message_id"] == message_id
    assert fields["stat"] == "DELIVRD" and fields["message_state"] == STATE_DELIVERED
    assert (fields["sub"], fields["dlvrd"], fields["err"]) == ("001", "001", "000")
    assert fields["text"] == "Hello world"
    now = datetime.now(UTC)
    submitted, done = _receipt_time(fields["submit_date"]), _receipt_time(fields["done_date"])
    assert now - timedelta(minutes=5) < submitted <= done <= now + timedelta(minutes=1)
    # a receipt travels back: from the handset to the original sender
    assert receipt.source_addr == b"4917000000" and receipt.destination_addr == b"4930123456"
    assert gateway.balance(system_id) == before - PRICE


def test_ucs2_message(gateway, new_account):
    system_id, password = new_account()
    text = "Привет, мир! ☺ Ünïcödé"
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok("4917000001", text.encode("utf-16-be"), data_coding=8)
        fields = receipt_fields(esme.wait_receipts([message_id])[message_id])
    assert (fields["sub"], fields["dlvrd"], fields["stat"]) == ("001", "001", "DELIVRD")
    # the first 20 characters; the receipt is ASCII, so the others may be replaced
    assert len(fields["text"]) == 20
    assert all(got == want for got, want in zip(fields["text"], text, strict=False)
               if want.isascii()), fields["text"]
    assert gateway.balance(system_id) == Decimal(100) - PRICE


@pytest.mark.parametrize(("data_coding", "body", "parts"), [
    (0, b"A" * 250, 2),  # GSM 7-bit: 153 characters per part once concatenated
    (8, "ж".encode("utf-16-be") * 130, 2),  # UCS2: 67 per part
], ids=["gsm-250", "ucs2-130"])
def test_long_message_in_message_payload_is_billed_per_part(gateway, new_account, data_coding,
                                                            body, parts):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok("4917000002", None, message_payload=body,
                                    data_coding=data_coding)
        fields = receipt_fields(esme.wait_receipts([message_id])[message_id])
    assert fields["sub"] == fields["dlvrd"] == f"{parts:03d}"
    assert gateway.balance(system_id) == Decimal(100) - parts * PRICE


@pytest.mark.parametrize(("data_coding", "body", "parts"), [
    (0, b"x" * 160, 1), (0, b"x" * 161, 2), (0, b"x" * 1000, 7),
    (8, "é".encode("utf-16-be") * 70, 1), (8, "é".encode("utf-16-be") * 71, 2),
    (8, "é".encode("utf-16-be") * 300, 5),
], ids=["gsm-160", "gsm-161", "gsm-1000", "ucs2-70", "ucs2-71", "ucs2-300"])
def test_part_counting_in_message_payload(gateway, new_account, data_coding, body, parts):
    """Boundaries (160/153 GSM, 70/67 UCS2) with payloads larger than smpplib can send."""
    check_parts(gateway, new_account, parts, data_coding=data_coding, body=b"",
                tlvs=P.Tlvs(message_payload=body))


def test_long_short_message_is_billed_per_part(gateway, new_account):
    """S10: up to 254 octets fit in short_message; 200 GSM characters are 2 SMS on the air."""
    check_parts(gateway, new_account, 2, data_coding=0, body=b"z" * 200)


def check_parts(gateway, new_account, parts: int, **submit_fields) -> None:
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        resp = client.request(submit_sm(**submit_fields))
        assert resp.command_status == ESME_ROK
        deliver = client.expect(P.DeliverSm)
        client.send(P.DeliverSmResp(sequence_number=deliver.sequence_number))
    fields = raw_receipt_fields(deliver)
    assert fields["id"] == resp.message_id
    assert fields["sub"] == f"{parts:03d}"
    assert gateway.balance(system_id) == Decimal(100) - parts * PRICE


def test_receipt_goes_to_the_receiver_not_the_transmitter(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password, "receiver") as receiver, \
            Esme(gateway, system_id, password, "transmitter") as transmitter:
        ids = [transmitter.submit_ok(f"49170000{i:02d}", b"to the receiver") for i in range(3)]
        got = receiver.wait_receipts(ids)
        transmitter.drain(0.2)
        assert transmitter.receipts == []
    for message_id, receipt in got.items():
        fields = receipt_fields(receipt)
        assert fields["id"] == fields["receipted_message_id"] == message_id
        assert fields["message_state"] == STATE_DELIVERED


def test_simulator_outcome_rules(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        failed = esme.submit_ok(UNDELIV_PREFIX + "1234567", b"will fail")
        rejected = esme.submit_ok(REJECTED_PREFIX + "1234567", b"will be rejected")
        got = esme.wait_receipts([failed, rejected])
    undeliv = receipt_fields(got[failed])
    assert undeliv["stat"] == "UNDELIV" and undeliv["message_state"] == STATE_UNDELIVERABLE
    assert (undeliv["sub"], undeliv["dlvrd"]) == ("001", "000")
    assert undeliv["err"] == f"{UNDELIV_ERROR:03d}"
    # network_error_code: GSM network type (3) and the 2-octet error
    assert undeliv["network_error_code"] == bytes((3, 0, UNDELIV_ERROR))
    rejectd = receipt_fields(got[rejected])
    assert rejectd["stat"] == "REJECTD" and rejectd["message_state"] == 8


def test_registered_delivery_0_gives_no_receipt(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        silent = esme.submit_ok("4917000003", b"no receipt", registered_delivery=0)
        silent_fail = esme.submit_ok(UNDELIV_PREFIX + "0000003", b"no receipt",
                                     registered_delivery=0)
        # receipts leave in completion order: once the later message's receipt is
        # here, an unwanted one for the earlier messages would be here too
        marker = esme.submit_ok("4917000004", b"marker", registered_delivery=1)
        esme.wait_receipts([marker])
        esme.drain(0.3)
        assert esme.receipt_ids() == [marker], (silent, silent_fail)


def test_registered_delivery_2_gives_receipts_for_failures_only(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        ok = esme.submit_ok("4917000005", b"delivered", registered_delivery=2)
        failed = esme.submit_ok(UNDELIV_PREFIX + "0000005", b"failed", registered_delivery=2)
        marker = esme.submit_ok("4917000006", b"marker", registered_delivery=1)
        esme.wait_receipts([failed, marker])
        esme.drain(0.3)
        assert sorted(esme.receipt_ids()) == sorted([failed, marker]), ok
        assert receipt_fields(esme.receipts[esme.receipt_ids().index(failed)])["stat"] == "UNDELIV"


def test_registered_delivery_with_intermediate_bit_is_accepted(gateway, new_account):
    """S9: 0x11 (receipt + intermediate notification) from real clients is accepted."""
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok("4917000007", b"0x11", registered_delivery=0x11)
        final = [receipt_fields(r) for r in esme.wait_receipts([message_id]).values()]
    assert final[0]["stat"] == "DELIVRD"


def test_query_sm_on_own_messages(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        delivered = esme.submit_ok("4917000008", b"query me")
        failed = esme.submit_ok(UNDELIV_PREFIX + "0000008", b"query me too")
        esme.wait_receipts([delivered, failed])  # both final now
        resp = esme.query(delivered)
        assert resp.command == "query_sm_resp" and resp.status == ESME_ROK
        assert resp.message_id == delivered.encode()
        assert resp.message_state == STATE_DELIVERED
        final_date = resp.final_date.decode()
        assert len(final_date) == 16 and final_date.endswith("000+"), final_date
        done = datetime.strptime(final_date[:12], "%y%m%d%H%M%S").replace(tzinfo=UTC)
        assert abs(datetime.now(UTC) - done) < timedelta(minutes=5)
        assert resp.error_code == 0
        resp = esme.query(failed)
        assert resp.status == ESME_ROK
        assert resp.message_state == STATE_UNDELIVERABLE and resp.error_code == UNDELIV_ERROR


def test_query_sm_on_foreign_or_unknown_ids_fails(gateway, new_account):
    owner, owner_password = new_account()
    other, other_password = new_account()
    with Esme(gateway, owner, owner_password) as esme:
        foreign = esme.submit_ok("4917000009", b"not yours")
    with Esme(gateway, other, other_password) as esme:
        assert esme.query(foreign).status == ESME_RQUERYFAIL
        assert esme.query("1234567890123").status == ESME_RQUERYFAIL
        # not an id at all: either status is allowed (S13)
        assert esme.query("not-an-id").status in (ESME_RQUERYFAIL, ESME_RINVMSGID)


def test_enquire_link_is_answered(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password, "receiver") as esme:
        request = smpplib.smpp.make_pdu("enquire_link", client=esme.client)
        esme.client.send_pdu(request)
        resp = esme.response_to(request)
        assert resp.command == "enquire_link_resp" and resp.status == ESME_ROK


def test_unbind_is_answered_then_the_connection_closes(gateway, new_account):
    system_id, password = new_account()
    esme = Esme(gateway, system_id, password)
    try:
        resp = esme.client.unbind()
        assert resp.command == "unbind_resp" and resp.status == ESME_ROK
        sock = esme.client._socket
        sock.settimeout(5)
        assert sock.recv(1) == b""  # closed by the gateway
    finally:
        esme.client.disconnect()


def test_throttling_per_session(gateway, new_account):
    system_id, password = new_account("--throughput", "5")
    with Esme(gateway, system_id, password, "transmitter") as esme:
        requests = [esme.send_submit("4917000010", b"fast", registered_delivery=0)
                    for _ in range(20)]
        statuses = [esme.response_to(r).status for r in requests]
    accepted = statuses.count(ESME_ROK)
    assert statuses.count(ESME_RTHROTTLED) + accepted == 20, statuses
    assert 5 <= accepted <= 8, statuses  # a burst of 5, then 5 per second
    assert statuses.count(ESME_RTHROTTLED) >= 12
    assert gateway.balance(system_id) == Decimal(100) - accepted * PRICE


def test_insufficient_balance(gateway, new_account):
    system_id, password = new_account(balance="0.04")
    with Esme(gateway, system_id, password) as esme:
        assert esme.submit("4917000011", b"too poor").status == ESME_RINVBALANCE
        assert gateway.balance(system_id) == Decimal("0.04")
        gateway.run_cli("account", "topup", system_id, "0.01")  # exactly one part now
        # two parts cost more than the balance: refused whole, nothing charged
        two_parts = esme.submit("4917000011", None, message_payload=b"y" * 200)
        assert two_parts.status == ESME_RINVBALANCE
        assert gateway.balance(system_id) == PRICE
        message_id = esme.submit_ok("4917000011", b"exactly one part")
        esme.wait_receipts([message_id])
        assert esme.submit("4917000011", b"nothing left").status == ESME_RINVBALANCE
    assert gateway.balance(system_id) == Decimal(0)
    stored = gateway.query_db("SELECT id FROM messages WHERE account = ?", [system_id])
    assert stored == [(message_id,)]  # nothing stored for the refused submits


def test_many_sessions_share_one_account_balance(gateway, new_account):
    """S12: concurrent debits from two binds never overdraw the balance."""
    system_id, password = new_account(balance=str(PRICE * 15))
    a = Esme(gateway, system_id, password, "transmitter")
    b = Esme(gateway, system_id, password, "transmitter")
    try:
        ra = [a.send_submit("4917000012", b"race", registered_delivery=0) for _ in range(12)]
        rb = [b.send_submit("4917000013", b"race", registered_delivery=0) for _ in range(12)]
        statuses = [a.response_to(r).status for r in ra] + [b.response_to(r).status for r in rb]
    finally:
        a.close()
        b.close()
    assert statuses.count(ESME_ROK) == 15
    assert statuses.count(ESME_RINVBALANCE) == 9
    assert gateway.balance(system_id) == Decimal(0)
