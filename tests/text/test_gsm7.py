"""GSM 03.38 alphabet: table, encode/decode, escapes, septet counts, 7-bit packing."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text import gsm7
from gateway.text.errors import UnencodableText

# TS 23.038 6.2.1 default alphabet, written out by code point, row by row
# (0x1B, the escape, is None). Kept independent of the module's own table.
DEFAULT_ALPHABET = [
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, None, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    *range(0x0030, 0x0040),
    0x00A1, *range(0x0041, 0x005B), 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, *range(0x0061, 0x007B), 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
]
BASIC = [(code, chr(cp)) for code, cp in enumerate(DEFAULT_ALPHABET) if cp is not None]
EXTENSION = [
    (0x0A, "\x0c"), (0x14, "^"), (0x28, "{"), (0x29, "}"), (0x2F, "\\"),
    (0x3C, "["), (0x3D, "~"), (0x3E, "]"), (0x40, "|"), (0x65, "€"),
]
GSM_CHARS = "".join(ch for _, ch in BASIC + EXTENSION)


def test_the_published_table_has_127_characters_and_an_escape() -> None:
    assert len(DEFAULT_ALPHABET) == 128
    assert len(BASIC) == 127


@pytest.mark.parametrize(("code", "char"), BASIC)
def test_every_basic_character_is_one_septet_both_ways(code: int, char: str) -> None:
    assert gsm7.encode(char) == bytes([code])
    assert gsm7.decode(bytes([code])) == char
    assert gsm7.septet_length(char) == 1
    assert gsm7.can_encode(char)


@pytest.mark.parametrize(("code", "char"), EXTENSION)
def test_every_extension_character_is_escape_plus_code(code: int, char: str) -> None:
    assert gsm7.encode(char) == bytes([0x1B, code])
    assert gsm7.decode(bytes([0x1B, code])) == char
    assert gsm7.septet_length(char) == 2


def test_golden_encoding_of_mixed_text() -> None:
    assert gsm7.encode("Hi €5 [ok]") == bytes.fromhex("4869201b6535201b3c6f6b1b3e")


@pytest.mark.parametrize("char", ["`", "ç", "á", "—", "\t", "\x1b", "я", "😀", "\u00a0"])
def test_characters_outside_the_alphabet_are_refused_with_their_index(char: str) -> None:
    assert not gsm7.can_encode("ab" + char)
    with pytest.raises(UnencodableText) as info:
        gsm7.encode("ab" + char + "cd")
    assert info.value.index == 2
    assert info.value.char == char
    assert info.value.data_coding == 0x00
    with pytest.raises(UnencodableText):
        gsm7.septet_length("ab" + char)


def test_unknown_escape_decodes_as_the_basic_character() -> None:
    # 0x1B 0x41: no extension character at 0x41, so 'A' per TS 23.038.
    assert gsm7.decode(b"\x1b\x41\x1b\x00") == "A@"


def test_double_escape_and_trailing_escape_decode_as_space() -> None:
    assert gsm7.decode(b"a\x1b\x1bb") == "a b"
    assert gsm7.decode(b"ab\x1b") == "ab "


def test_octets_above_0x7f_decode_as_question_mark() -> None:
    assert gsm7.decode(bytes([0x41, 0x80, 0xE9, 0xFF])) == "A???"
    assert gsm7.decode(b"\x1b\xe9") == "?"


@given(st.binary())
def test_decode_never_raises_and_stays_gsm_encodable(data: bytes) -> None:
    text = gsm7.decode(data)
    assert gsm7.can_encode(text)


@given(st.text(alphabet=GSM_CHARS))
def test_gsm_text_round_trips_and_septets_match_encoded_length(text: str) -> None:
    encoded = gsm7.encode(text)
    assert gsm7.decode(encoded) == text
    assert gsm7.septet_length(text) == len(encoded)
    assert all(septet < 0x80 for septet in encoded)


def test_pack_golden_hellohello() -> None:
    # The textbook example: "hellohello" packs to E8 32 9B FD 46 97 D9 EC 37.
    assert gsm7.pack(gsm7.encode("hellohello")) == bytes.fromhex("e8329bfd4697d9ec37")
    assert gsm7.unpack(bytes.fromhex("e8329bfd4697d9ec37"), 10) == gsm7.encode("hellohello")


def test_pack_with_one_fill_bit_after_a_six_octet_udh() -> None:
    # After 05 00 03 xx yy zz (48 bits) one fill bit aligns the next septet.
    packed = gsm7.pack(b"\x41", fill_bits=1)
    assert packed == bytes([0x41 << 1])
    assert gsm7.unpack(packed, 1, fill_bits=1) == b"\x41"


def test_eight_septets_fill_seven_octets_exactly() -> None:
    assert len(gsm7.pack(b"\x7f" * 8)) == 7
    assert gsm7.pack(b"\x7f" * 8) == b"\xff" * 7
    assert len(gsm7.pack(b"a" * 160)) == 140


def test_pack_refuses_non_septets_and_bad_fill() -> None:
    with pytest.raises(ValueError):
        gsm7.pack(b"\x80")
    with pytest.raises(ValueError):
        gsm7.pack(b"a", fill_bits=7)
    with pytest.raises(ValueError):
        gsm7.unpack(b"a", 1, fill_bits=-1)


def test_unpack_of_truncated_data_returns_what_is_there() -> None:
    assert gsm7.unpack(b"\xe8", 5) == b"\x68"
    assert gsm7.unpack(b"", 3) == b""
    assert gsm7.pack(b"", fill_bits=3) == b""


@given(st.binary().map(lambda b: bytes(x & 0x7F for x in b)), st.integers(0, 6))
def test_pack_unpack_round_trip_with_any_fill(septets: bytes, fill_bits: int) -> None:
    packed = gsm7.pack(septets, fill_bits)
    expected_octets = (fill_bits + 7 * len(septets) + 7) // 8 if septets else 0
    assert len(packed) == expected_octets
    assert gsm7.unpack(packed, len(septets), fill_bits) == septets


@given(st.binary(), st.integers(0, 400), st.integers(0, 6))
def test_unpack_never_raises_and_never_exceeds_count(data: bytes, count: int, fill: int) -> None:
    out = gsm7.unpack(data, count, fill)
    assert len(out) <= count
    assert all(septet < 0x80 for septet in out)
