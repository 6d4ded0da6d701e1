"""transport/translate.submit_request_from: the SubmitRequest of a submit_sm, every field."""
from __future__ import annotations

import dataclasses

import pytest

from gateway.core.validation import SubmitRejected
from gateway.model import Address, SubmitRequest
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.smpp.tlv import make_tlvs
from gateway.transport.translate import submit_request_from


def submit_sm(**changes) -> P.SubmitSm:
    fields = dict(
        service_type="WAP", source_addr_ton=5, source_addr_npi=9, source_addr="SHOP",
        dest_addr_ton=1, dest_addr_npi=2, destination_addr="4917612345678", esm_class=0x40,
        protocol_id=0x41, priority_flag=3, schedule_delivery_time="000000001000000R",
        validity_period="000001000000000R", registered_delivery=0x11,
        replace_if_present_flag=1, data_coding=8, short_message=b"\x05\x00\x03\x07\x02\x01hi")
    return P.SubmitSm(**(fields | changes))


EXPECTED = dict(
    source=Address(ton=5, npi=9, addr="SHOP"),
    destination=Address(ton=1, npi=2, addr="4917612345678"),
    body=b"\x05\x00\x03\x07\x02\x01hi", data_coding=8, esm_class=0x40, protocol_id=0x41,
    priority=3, registered_delivery=0x11, schedule_delivery_time="000000001000000R",
    validity_period="000001000000000R", service_type="WAP", from_payload=False,
    sar=(None, None, None), replace_if_present=1, callback_url="", client_ref="",
    transport="smpp")


def fields_of(request: SubmitRequest) -> dict:
    return {f.name: getattr(request, f.name) for f in dataclasses.fields(SubmitRequest)}


def test_every_field_of_the_request_of_a_short_message():
    assert set(EXPECTED) == {f.name for f in dataclasses.fields(SubmitRequest)}
    assert fields_of(submit_request_from(submit_sm())) == EXPECTED


def test_a_body_in_message_payload_and_the_sar_numbers():
    tlvs = make_tlvs(message_payload=b"p" * 300, sar_msg_ref_num=513, sar_total_segments=4,
                     sar_segment_seqnum=3)
    request = submit_request_from(submit_sm(short_message=b"", tlvs=tlvs))
    assert fields_of(request) == EXPECTED | {
        "body": b"p" * 300, "from_payload": True, "sar": (513, 4, 3)}


def test_requests_share_no_addresses():
    first, second = (submit_request_from(submit_sm(source_addr=a)) for a in ("A", "B"))
    assert (first.source.addr, second.source.addr) == ("A", "B")


def test_message_payload_beside_a_short_message_is_refused():
    with pytest.raises(SubmitRejected) as caught:
        submit_request_from(submit_sm(tlvs=make_tlvs(message_payload=b"p")))
    assert caught.value.status == CommandStatus.ESME_RINVOPTPARAMVAL
