"""Content checks of a submit: UDH, SAR, flags, and alphabet-aware part counting."""
from __future__ import annotations

import pytest

from gateway.core.content import check_content, parts_of
from gateway.core.validation import SubmitRejected
from gateway.model import Address, SubmitRequest
from gateway.smpp.constants import CommandStatus as S
from gateway.text import build_udh, concat_ie, port_ie, wap_push_segments


def request(**changes) -> SubmitRequest:
    fields = dict(source=Address(ton=1, npi=1, addr="4915112345678"),
                  destination=Address(ton=1, npi=1, addr="4917612345678"), body=b"hello")
    fields.update(changes)
    return SubmitRequest(**fields)


def rejected(req: SubmitRequest) -> int:
    with pytest.raises(SubmitRejected) as caught:
        check_content(req)
    return caught.value.status


@pytest.mark.parametrize("body, data_coding, parts", [
    (b"x" * 160, 0x00, 1),
    (b"x" * 161, 0x00, 2),          # a short_message too long for one SMS is cut: 2 parts
    (b"\x00a" * 70, 0x08, 1),       # UCS2: 70 characters
    (b"\x00a" * 71, 0x08, 2),
    (b"x" * 160, 0x10, 1),          # flash SMS, GSM 7-bit (class 0)
    (b"x" * 160, 0xF0, 1),          # flash SMS, GSM 7-bit (coding group 0xF)
    (b"x" * 161, 0xF0, 2),
    (b"\x00a" * 70, 0x18, 1),       # flash SMS, UCS2
    (b"\x00a" * 71, 0x18, 2),
    (b"\xff" * 140, 0x04, 1),       # 8-bit binary
    (b"\xff" * 141, 0x04, 2),
    (b"x" * 141, 0x0E, 2),          # a reserved coding counts as 8-bit octets
    (b"", 0x00, 1),
])
def test_parts_are_counted_in_the_alphabet_the_data_coding_selects(body, data_coding, parts):
    assert check_content(request(body=body, data_coding=data_coding)) == parts


def test_message_payload_is_counted_by_parts():
    assert check_content(request(body=b"x" * 400, from_payload=True)) == 3


@pytest.mark.parametrize("ref16", [False, True])
def test_a_udh_concatenated_part_is_one_part_whatever_its_length(ref16):
    udh = build_udh([concat_ie(7, 3, 1, ref16=ref16)])
    assert check_content(request(body=udh + b"x" * 153, esm_class=0x40)) == 1
    assert check_content(request(body=udh + b"x" * 153, esm_class=0x43)) == 1


def test_port_addressing_is_repeated_in_every_part_of_a_long_payload():
    udh = build_udh([port_ie(2948, 9200)])
    assert check_content(request(body=udh + b"\x01" * 133, data_coding=4, esm_class=0x40,
                                 from_payload=True)) == 1
    assert check_content(request(body=udh + b"\x01" * 300, data_coding=4, esm_class=0x40,
                                 from_payload=True)) == 3  # 128 octets per part


def test_wap_push_si_segments_are_one_part_each():
    segments = wap_push_segments("http://example.com/" + "a" * 300, "news " * 20, ref=9)
    assert len(segments) > 1
    for segment in segments:
        assert check_content(request(body=segment, data_coding=0x04, esm_class=0x40)) == 1


@pytest.mark.parametrize("body", [b"", b"\x05\x00\x03\x01", b"\x05\x00\x03\x07\x02\x03hello",
                                  b"\x03\x00\x03\x07\x02\x00"])
def test_udhi_without_a_well_formed_udh_is_an_invalid_esm_class(body):
    assert rejected(request(body=body, esm_class=0x40)) == S.ESME_RINVESMCLASS


def test_sar_numbered_parts_are_one_part_each():
    assert check_content(request(body=b"x" * 153, sar=(513, 3, 2))) == 1


@pytest.mark.parametrize("sar, status", [
    ((1, None, None), S.ESME_RMISSINGOPTPARAM),
    ((None, 2, 1), S.ESME_RMISSINGOPTPARAM),
    ((1, 2, None), S.ESME_RMISSINGOPTPARAM),
    ((1, 2, 0), S.ESME_RINVOPTPARAMVAL),
    ((1, 0, 0), S.ESME_RINVOPTPARAMVAL),
    ((1, 2, 3), S.ESME_RINVOPTPARAMVAL),
])
def test_partial_or_inconsistent_sar_tlvs_are_refused(sar, status):
    assert rejected(request(sar=sar)) == status


def test_replace_if_present_flag_must_be_0_or_1():
    assert check_content(request(replace_if_present=1)) == 1
    assert rejected(request(replace_if_present=2)) == S.ESME_RINVREPFLAG


def test_a_payload_needing_more_than_255_parts_is_an_invalid_length():
    assert parts_of(b"\xff" * (255 * 134), 0x04, 0) == 255
    assert rejected(request(body=b"\xff" * (255 * 134 + 1), data_coding=0x04,
                            from_payload=True)) == S.ESME_RINVMSGLEN


def test_a_udh_that_fills_every_part_is_an_invalid_message_length():
    # a vendor IE of 137 octets: well-formed, but with a concat IE added to each part no
    # text fits (it used to escape as a ValueError from the part counter: a crash)
    udh = bytes([139, 0x70, 137]) + bytes(137)
    assert rejected(request(body=udh + b"x" * 100, esm_class=0x40)) == S.ESME_RINVMSGLEN
