"""Message content end to end: long messages in all three forms (UDH parts, SAR parts,
message_payload) from smpplib and raw sockets with matching receipts, a receipt asked only
on the first part, GSM extension characters and UCS2 surrogate pairs, scheduled messages
cancelled and replaced before they are sent, and expiry with its receipt."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest
import smpplib.gsm
from gateway_harness import (
    ESME_ROK,
    Esme,
    P,
    raw_client,
    raw_receipt_fields,
    receipt_fields,
    submit_sm,
)

from gateway.smpp.constants import CommandStatus
from gateway.text.gsm7 import encode as encode_gsm7

pytestmark = pytest.mark.integration

PRICE = Decimal("0.05")
SLOW_PREFIX = "4919"  # the simulator answers these after 3 s: past a 1 s validity

GATEWAY_CONFIG = {
    "price_per_part": str(PRICE),
    "simulator": {
        "delay": 0.05,
        "outcomes": [{"prefix": SLOW_PREFIX, "state": "DELIVRD", "delay": 3.0}],
    },
}

# SMPP 3.4 message_state values; 3.4 has no SCHEDULED, a waiting message is ENROUTE
STATE_ENROUTE, STATE_EXPIRED, STATE_DELETED = 1, 3, 4


def test_udh_parts_from_smpplib_each_get_their_own_id_and_receipt(gateway, new_account):
    system_id, password = new_account()
    text = "Grüße aus Berlin {€} " * 20  # GSM with extension characters, 4 parts
    parts, coding, esm_class = smpplib.gsm.make_parts(text)
    assert len(parts) > 1 and esm_class & 0x40
    with Esme(gateway, system_id, password) as esme:
        ids = [esme.submit_ok("4917100000", part, data_coding=coding, esm_class=esm_class)
               for part in parts]
        receipts = esme.wait_receipts(ids)
    assert len(set(ids)) == len(parts)
    for message_id in ids:
        fields = receipt_fields(receipts[message_id])
        assert fields["id"] == fields["receipted_message_id"] == message_id
        assert (fields["sub"], fields["dlvrd"], fields["stat"]) == ("001", "001", "DELIVRD")
    assert gateway.balance(system_id) == Decimal(100) - len(parts) * PRICE


def test_udh_16_bit_reference_parts(gateway, new_account):
    system_id, password = new_account()
    bodies = [bytes([0x06, 0x08, 0x04, 0x12, 0x34, 2, n]) + f"part {n} ".encode() * 10
              for n in (1, 2)]
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        resps = [client.request(submit_sm("4917100001", body, esm_class=0x40))
                 for body in bodies]
        assert all(r.command_status == ESME_ROK for r in resps)
        receipts = _raw_receipts(client, 2)
    assert {r.tlvs.receipted_message_id for r in receipts} == {r.message_id for r in resps}


def test_sar_parts_from_smpplib(gateway, new_account):
    system_id, password = new_account()
    chunks = [b"first half of the text. " * 5, b"second half of the text."]
    with Esme(gateway, system_id, password) as esme:
        ids = [esme.submit_ok("4917100002", chunk, sar_msg_ref_num=0x2A7,
                              sar_total_segments=2, sar_segment_seqnum=n)
               for n, chunk in enumerate(chunks, start=1)]
        receipts = esme.wait_receipts(ids)
    assert sorted(receipts) == sorted(ids)


def test_sar_part_with_an_impossible_sequence_number_is_refused(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        resp = esme.submit("4917100002", b"x", sar_msg_ref_num=1, sar_total_segments=2,
                           sar_segment_seqnum=3)
    assert resp.status == CommandStatus.ESME_RINVOPTPARAMVAL


def test_message_payload_gets_one_receipt_counting_its_parts(gateway, new_account):
    system_id, password = new_account()
    text = "Ünïcödé 😀 " * 30  # UCS2 with surrogate pairs: 330 units, 5 parts of 67
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok("4917100003", None, data_coding=8,
                                    message_payload=text.encode("utf-16-be"))
        fields = receipt_fields(esme.wait_receipts([message_id])[message_id])
    assert fields["sub"] == fields["dlvrd"] == "005"
    assert gateway.balance(system_id) == Decimal(100) - 5 * PRICE


def test_a_receipt_asked_only_on_the_first_part_is_honoured(gateway, new_account):
    system_id, password = new_account()
    parts, coding, esm_class = smpplib.gsm.make_parts("x" * 400)
    assert len(parts) == 3
    with Esme(gateway, system_id, password) as esme:
        ids = [esme.submit_ok("4917100004", part, data_coding=coding, esm_class=esm_class,
                              registered_delivery=1 if n == 0 else 0)
               for n, part in enumerate(parts)]
        esme.wait_receipts(ids[:1])
        esme.drain(0.5)  # the other parts' would have come by now
        assert esme.receipt_ids() == ids[:1]


def test_every_gsm_character_survives_the_round_trip(gateway, new_account):
    """The gateway stores and reports the exact septets it got: '@', '€', '{' stay."""
    system_id, password = new_account()
    text = "@£$¥èéùìòÇØøÅå_^{}\\[~]|€ΔΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        resp = client.request(submit_sm("4917100005", b"", data_coding=0,
                                        tlvs=P.Tlvs(message_payload=encode_gsm7(text))))
        assert resp.command_status == ESME_ROK
        fields = raw_receipt_fields(_raw_receipts(client, 1)[0])
    assert fields["sub"] == "001"  # 77 characters + 9 escapes = 86 septets: one SMS
    stored = gateway.query_db("SELECT body FROM messages WHERE id = ?", (resp.message_id,))
    assert stored[0][0] == encode_gsm7(text)


def test_scheduled_message_can_be_cancelled_before_it_is_sent(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        resp = client.request(submit_sm("4917100006", b"later",
                                        schedule_delivery_time="000000010000000R"))
        assert resp.command_status == ESME_ROK
        assert gateway.balance(system_id) == Decimal(100) - PRICE
        query = client.request(P.QuerySm(message_id=resp.message_id, source_addr_ton=1,
                                         source_addr_npi=1, source_addr="4930123456"))
        assert (query.message_state, query.final_date) == (STATE_ENROUTE, "")
        cancel = client.request(P.CancelSm(message_id=resp.message_id, source_addr_ton=1,
                                           source_addr_npi=1, source_addr="4930123456"))
        assert cancel.command_status == ESME_ROK
        fields = raw_receipt_fields(_raw_receipts(client, 1)[0])
        assert (fields["id"], fields["stat"]) == (resp.message_id, "DELETED")
        again = client.request(P.CancelSm(message_id=resp.message_id, source_addr_ton=1,
                                          source_addr_npi=1, source_addr="4930123456"))
        assert again.command_status == CommandStatus.ESME_RCANCELFAIL
    assert gateway.balance(system_id) == Decimal(100)  # refunded


def test_scheduled_message_can_be_replaced_before_it_is_sent(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        resp = client.request(submit_sm("4917100007", b"old text",
                                        schedule_delivery_time="000000010000000R"))
        assert resp.command_status == ESME_ROK
        replace = client.request(P.ReplaceSm(
            message_id=resp.message_id, source_addr_ton=1, source_addr_npi=1,
            source_addr="4930123456", schedule_delivery_time="000000000001000R",
            registered_delivery=1, short_message=b"new text"))
        assert replace.command_status == ESME_ROK
        fields = raw_receipt_fields(_raw_receipts(client, 1, timeout=10.0)[0])
    assert (fields["id"], fields["stat"], fields["text"]) == (
        resp.message_id, "DELIVRD", "new text")


def test_message_not_delivered_within_its_validity_expires_with_a_receipt(gateway,
                                                                          new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok(SLOW_PREFIX + "000000", b"too late",
                                    validity_period="000000000001000R")
        fields = receipt_fields(esme.wait_receipts([message_id], timeout=10.0)[message_id])
        assert (fields["stat"], fields["message_state"]) == ("EXPIRED", STATE_EXPIRED)
        assert esme.query(message_id).message_state == STATE_EXPIRED


def _raw_receipts(client, count: int, timeout: float = 5.0) -> list[P.DeliverSm]:
    """Read `count` deliver_sm (answering each), skipping anything else."""
    got: list[P.DeliverSm] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        pdu = client.read_pdu(timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(pdu, P.DeliverSm):
            client.send(P.DeliverSmResp(sequence_number=pdu.sequence_number))
            got.append(pdu)
        elif isinstance(pdu, P.EnquireLink):
            client.send(P.EnquireLinkResp(sequence_number=pdu.sequence_number))
    return got


def test_replace_if_present_supersedes_a_scheduled_message(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        old = client.request(submit_sm("4917100008", b"first draft",
                                       schedule_delivery_time="000000010000000R"))
        new = client.request(submit_sm("4917100008", b"final text",
                                       replace_if_present_flag=1))
        assert old.command_status == new.command_status == ESME_ROK
        fields = raw_receipt_fields(_raw_receipts(client, 1)[0])
        assert (fields["id"], fields["text"]) == (new.message_id, "final text")
        query = client.request(P.QuerySm(message_id=old.message_id, source_addr_ton=1,
                                         source_addr_npi=1, source_addr="4930123456"))
    assert query.message_state == STATE_DELETED
    assert gateway.balance(system_id) == Decimal(100) - PRICE
