"""Part counting and splitting at the published boundaries."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text.encoding import choose_data_coding, decode_body, encode_text
from gateway.text.parts import (
    MAX_PARTS,
    count_parts,
    count_parts_bytes,
    part_capacity,
    split_payload,
    split_text,
)
from gateway.text.udh import build_udh, concat_ie, port_ie

GSM, IA5, LATIN1, BINARY, UCS2 = 0x00, 0x01, 0x03, 0x04, 0x08
EMOJI = "😀"  # two UCS2 code units


@pytest.mark.parametrize(
    ("data_coding", "udh_length", "capacity"),
    [
        (GSM, 0, 160), (GSM, 6, 153), (GSM, 7, 152),
        (UCS2, 0, 140), (UCS2, 6, 134), (UCS2, 7, 132),
        (BINARY, 0, 140), (BINARY, 6, 134), (BINARY, 7, 133),
        (LATIN1, 6, 134), (IA5, 6, 153),
    ],
)
def test_part_capacity_matches_the_published_table(
    data_coding: int, udh_length: int, capacity: int
) -> None:
    assert part_capacity(data_coding, udh_length) == capacity


@pytest.mark.parametrize(
    ("text", "data_coding", "ref16", "parts"),
    [
        ("", GSM, False, 1),
        ("a" * 160, GSM, False, 1),
        ("a" * 161, GSM, False, 2),
        ("a" * 153 * 2, GSM, False, 2),
        ("a" * (153 * 2 + 1), GSM, False, 3),
        ("a" * 152 * 2, GSM, True, 2),
        ("a" * (152 * 2 + 1), GSM, True, 3),
        ("a" * 153 * 255, GSM, False, 255),
        ("a" * 159 + "€", GSM, False, 2),  # 161 septets
        ("a" * 158 + "€", GSM, False, 1),  # 160 septets
        ("€" * 80, GSM, False, 1),
        ("€" * 81, GSM, False, 2),
        ("я" * 70, UCS2, False, 1),
        ("я" * 71, UCS2, False, 2),
        ("я" * 67 * 2, UCS2, False, 2),
        ("я" * (67 * 2 + 1), UCS2, False, 3),
        ("я" * 66 * 2, UCS2, True, 2),
        ("я" * (66 * 2 + 1), UCS2, True, 3),
        ("я" * 68 + EMOJI, UCS2, False, 1),  # 70 units
        ("я" * 69 + EMOJI, UCS2, False, 2),  # 71 units
        (EMOJI * 35, UCS2, False, 1),
        ("é" * 140, LATIN1, False, 1),
        ("é" * 141, LATIN1, False, 2),
        ("é" * 134 * 2, LATIN1, False, 2),
        ("é" * (134 * 2 + 1), LATIN1, False, 3),
        ("a" * 160, IA5, False, 1),
        ("a" * 159 + "[", IA5, False, 2),  # '[' is an escape on the air
    ],
)
def test_count_parts_at_the_boundaries(
    text: str, data_coding: int, ref16: bool, parts: int
) -> None:
    assert count_parts(text, data_coding, ref16) == parts
    assert len(split_text(text, data_coding, ref16)) == parts


def test_extension_character_at_the_boundary_moves_whole_to_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 10  # € would take septets 153 and 154
    chunks = split_text(text, GSM)
    assert [len(chunk) for chunk in chunks] == [152, 12]
    assert chunks[1].startswith(b"\x1b\x65")


def test_emoji_at_the_ucs2_boundary_moves_whole_to_the_next_part() -> None:
    text = "я" * 66 + EMOJI + "я" * 10  # the emoji would take units 67 and 68
    chunks = split_text(text, UCS2)
    assert [len(chunk) for chunk in chunks] == [132, 24]
    assert decode_body(chunks[1], UCS2).startswith(EMOJI)


def test_single_part_body_is_returned_whole() -> None:
    assert split_text("hello", GSM) == [b"hello"]
    assert split_text("", UCS2) == [b""]


def test_binary_payload_splits_at_134_and_133_octets() -> None:
    body = bytes(range(256)) * 2
    assert [len(c) for c in split_payload(body, BINARY)] == [134, 134, 134, 110]
    assert [len(c) for c in split_payload(body, BINARY, ref16=True)] == [133, 133, 133, 113]
    assert b"".join(split_payload(body, BINARY)) == body


def test_extra_ies_shrink_every_part() -> None:
    body = b"x" * 200
    # 16-bit ports (6 octets): one part holds 140 - 7 = 133, each of several 140 - 12 = 128.
    assert split_payload(b"x" * 133, BINARY, extra_ie_octets=6) == [b"x" * 133]
    assert [len(c) for c in split_payload(body, BINARY, extra_ie_octets=6)] == [128, 72]


def test_split_refuses_more_than_255_parts_but_count_reports_them() -> None:
    text = "a" * (153 * MAX_PARTS + 1)
    assert count_parts(text, GSM) == 256
    with pytest.raises(ValueError, match="256 parts"):
        split_text(text, GSM)


def test_a_udh_too_big_for_any_text_is_refused() -> None:
    with pytest.raises(ValueError):
        part_capacity(BINARY, 138)


def test_count_parts_bytes_without_udh() -> None:
    assert count_parts_bytes(b"a" * 160, GSM, False) == 1
    assert count_parts_bytes(b"a" * 161, GSM, False) == 2
    assert count_parts_bytes(encode_text("я" * 71, UCS2), UCS2, False) == 2
    assert count_parts_bytes(b"\x00" * 141, BINARY, False) == 2


def test_count_parts_bytes_with_a_client_made_concat_udh_is_one_part() -> None:
    body = build_udh([concat_ie(7, 3, 2)]) + b"a" * 153
    assert count_parts_bytes(body, GSM, True) == 1


def test_count_parts_bytes_with_port_udh_repeats_it_in_every_part() -> None:
    udh = build_udh([port_ie(2948, 9200)])  # 7 octets
    assert count_parts_bytes(udh + b"\x00" * 133, BINARY, True) == 1
    assert count_parts_bytes(udh + b"\x00" * 134, BINARY, True) == 2
    assert count_parts_bytes(udh + b"\x00" * 256, BINARY, True) == 2  # 128 per part
    assert count_parts_bytes(udh + b"\x00" * 257, BINARY, True) == 3
    # GSM after a 7-octet UDH: (140 - 7) * 8 // 7 = 152 septets.
    assert count_parts_bytes(udh + b"a" * 152, GSM, True) == 1
    assert count_parts_bytes(udh + b"a" * 153, GSM, True) == 2


def test_count_parts_bytes_with_a_bad_udh_raises_udh_error() -> None:
    from gateway.text.errors import UdhError

    with pytest.raises(UdhError):
        count_parts_bytes(b"\x09\x00\x03", GSM, True)


def _decode_each(chunks: list[bytes], data_coding: int) -> str:
    return "".join(decode_body(chunk, data_coding) for chunk in chunks)


@given(st.text(max_size=2000))
def test_every_part_decodes_on_its_own_and_fits(text: str) -> None:
    data_coding = choose_data_coding(text)
    chunks = split_text(text, data_coding)
    assert _decode_each(chunks, data_coding) == text
    assert len(chunks) == count_parts(text, data_coding)
    limit = part_capacity(data_coding, 0 if len(chunks) == 1 else 6)
    assert all(len(chunk) <= limit for chunk in chunks)


@given(st.text(alphabet="a€[", max_size=1200), st.booleans())
def test_gsm_parts_never_end_in_an_escape_and_fill_greedily(text: str, ref16: bool) -> None:
    chunks = split_text(text, GSM, ref16)
    limit = 152 if ref16 else 153
    for chunk in chunks[:-1]:
        assert not chunk.endswith(b"\x1b")
        assert len(chunk) in (limit - 1, limit)
    assert _decode_each(chunks, GSM) == text


@pytest.mark.parametrize("udhl", [136, 139, 255])
def test_count_parts_bytes_with_a_udh_that_fills_the_sms_raises_udh_error(udhl: int) -> None:
    # Found by fuzz/text.py's oracle: a well-formed port-less UDH of 140 octets (one vendor
    # IE) leaves no room for text once repeated in every part; it raised a bare ValueError.
    from gateway.text.errors import UdhError

    udh = bytes([udhl, 0x70, udhl - 2]) + bytes(udhl - 2)
    with pytest.raises(UdhError, match="leaves no room"):
        count_parts_bytes(udh + b"x" * 200, GSM, True)
