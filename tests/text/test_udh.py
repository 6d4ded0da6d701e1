"""UDH parsing and building: concat and port IEs, and malformed headers."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text.errors import UdhError
from gateway.text.udh import (
    Concat,
    InformationElement,
    Ports,
    build_udh,
    concat_ie,
    parse_udh,
    port_ie,
)


def test_parse_concat_8bit_ref() -> None:
    udh, rest = parse_udh(bytes.fromhex("050003cc0201") + b"hello")
    assert udh.concat == Concat(ref=0xCC, total=2, seq=1, ref16=False)
    assert udh.ports is None
    assert udh.length == 6
    assert rest == b"hello"


def test_parse_concat_16bit_ref() -> None:
    udh, rest = parse_udh(bytes.fromhex("06080412340302") + b"x")
    assert udh.concat == Concat(ref=0x1234, total=3, seq=2, ref16=True)
    assert rest == b"x"


def test_parse_ports_16bit_and_concat_together() -> None:
    # The usual WAP Push header: ports 2948 <- 9200, then part 1 of 2 of ref 0x42.
    udh, rest = parse_udh(bytes.fromhex("0b05040b8423f0000342020100ff"))
    assert udh.ports == Ports(dest=2948, src=9200, ports16=True)
    assert udh.concat == Concat(ref=0x42, total=2, seq=1, ref16=False)
    assert rest == b"\x00\xff"


def test_parse_ports_8bit() -> None:
    udh, _ = parse_udh(bytes.fromhex("0404021020"))
    assert udh.ports == Ports(dest=0x10, src=0x20, ports16=False)


def test_unknown_ies_are_kept_in_order() -> None:
    body = bytes.fromhex("08 0a0400010203 2400") + b"z"
    udh, rest = parse_udh(body)
    assert udh.ies == (
        InformationElement(iei=0x0A, data=b"\x00\x01\x02\x03"),
        InformationElement(iei=0x24, data=b""),
    )
    assert udh.concat is None
    assert rest == b"z"
    assert build_udh(udh.ies) + rest == body


def test_empty_udh_is_valid() -> None:
    udh, rest = parse_udh(b"\x00abc")
    assert udh.ies == ()
    assert udh.length == 1
    assert rest == b"abc"


def test_last_repeated_concat_ie_wins() -> None:
    udh, _ = parse_udh(bytes.fromhex("0a 0003010201 0003020202"))
    assert udh.concat == Concat(ref=2, total=2, seq=2, ref16=False)
    assert udh.without(0x00) == ()


@pytest.mark.parametrize(
    ("hex_body", "reason"),
    [
        ("", "empty"),
        ("05000301", "UDHL runs past the body"),
        ("0100", "IE header runs past UDHL"),
        ("03000301 0101", "IE data runs past UDHL"),
        ("0400020101", "concat IE of length 2"),
        ("0500030100 01", "seq 0"),
        ("0500030101 02", "seq beyond total"),
        ("0500030000 01", "total 0"),
        ("0608030102 0101", "16-bit concat IE of length 3"),
        ("050503 0b8423", "16-bit ports of length 3"),
    ],
)
def test_malformed_udh_raises_udh_error(hex_body: str, reason: str) -> None:
    with pytest.raises(UdhError):
        parse_udh(bytes.fromhex(hex_body))


def test_udh_error_is_a_value_error() -> None:
    assert issubclass(UdhError, ValueError)


@given(st.binary(max_size=200))
def test_parse_udh_raises_only_udh_error_on_random_bytes(body: bytes) -> None:
    try:
        udh, rest = parse_udh(body)
    except UdhError:
        return
    header = build_udh(udh.ies) if udh.ies else b"\x00"
    assert header + rest == body
    assert udh.length == len(header)


def test_build_golden_headers() -> None:
    assert build_udh([concat_ie(0xCC, 2, 1)]).hex() == "050003cc0201"
    assert build_udh([concat_ie(0x1234, 3, 2, ref16=True)]).hex() == "06080412340302"
    assert build_udh([port_ie(2948, 9200)]).hex() == "0605040b8423f0"
    assert build_udh([port_ie(16, 32, ports16=False)]).hex() == "0404021020"
    assert build_udh([]) == b""


def test_build_udh_accepts_a_generator() -> None:
    assert build_udh(ie for ie in [concat_ie(1, 1, 1)]).hex() == "050003010101"


def test_build_udh_refuses_what_cannot_fit() -> None:
    with pytest.raises(ValueError):
        build_udh([InformationElement(iei=0x70, data=b"x" * 256)])
    with pytest.raises(ValueError):
        build_udh([InformationElement(iei=0x70, data=b"x" * 100)] * 2)


@pytest.mark.parametrize(
    ("ref", "total", "seq", "ref16"),
    [(256, 2, 1, False), (-1, 2, 1, False), (65536, 2, 1, True),
     (1, 2, 0, False), (1, 2, 3, False), (1, 256, 1, False), (1, 0, 0, False)],
)
def test_concat_ie_refuses_out_of_range_values(ref: int, total: int, seq: int, ref16: bool) -> None:
    with pytest.raises(ValueError):
        concat_ie(ref, total, seq, ref16)


def test_port_ie_refuses_out_of_range_ports() -> None:
    with pytest.raises(ValueError):
        port_ie(65536, 0)
    with pytest.raises(ValueError):
        port_ie(256, 0, ports16=False)


@given(st.integers(0, 0xFFFF), st.integers(1, 255), st.data(), st.booleans())
def test_concat_ie_round_trips(ref: int, total: int, data: st.DataObject, ref16: bool) -> None:
    seq = data.draw(st.integers(1, total))
    if not ref16:
        ref &= 0xFF
    udh, rest = parse_udh(build_udh([concat_ie(ref, total, seq, ref16)]))
    assert udh.concat == Concat(ref=ref, total=total, seq=seq, ref16=ref16)
    assert rest == b""
