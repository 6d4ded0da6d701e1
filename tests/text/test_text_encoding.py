"""Choosing, encoding and decoding short_message text per data_coding."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text.encoding import (
    Alphabet,
    alphabet,
    choose_data_coding,
    decode_body,
    encode_text,
)
from gateway.text.errors import UnencodableText


@pytest.mark.parametrize(
    ("text", "data_coding"),
    [
        ("", 0x00),
        ("Hello, world!", 0x00),
        ("Grüße aus Köln", 0x00),
        ("Price: 5€ {x} [y] ~^|\\", 0x00),
        ("ΔΦΓΛΩΠΨΣΘΞ", 0x00),
        ("Καλημέρα", 0x08),
        ("¿Dónde está?", 0x08),  # ó and á are not in the GSM alphabet
        ("Привет", 0x08),
        ("tab\there", 0x08),
        ("`backtick`", 0x08),
        ("👍", 0x08),
    ],
)
def test_choose_data_coding_picks_gsm_when_it_fits_else_ucs2(text: str, data_coding: int) -> None:
    assert choose_data_coding(text) == data_coding


@pytest.mark.parametrize(
    ("text", "data_coding", "encoded"),
    [
        ("A€", 0x00, "411b65"),
        ("A€", 0x08, "004120ac"),
        ("😀", 0x08, "d83dde00"),
        ("Año", 0x03, "41f16f"),
        ("Hi~", 0x01, "48697e"),
        ("Жж", 0x06, "b6d6"),  # ISO-8859-5
        ("שלום", 0x07, "f9ece5ed"),  # ISO-8859-8
        ("A€", 0xF0, "411b65"),  # GSM DCS: flash, GSM 7-bit
        ("Я", 0x18, "042f"),  # GSM DCS: flash, UCS2
    ],
)
def test_encode_text_golden(text: str, data_coding: int, encoded: str) -> None:
    assert encode_text(text, data_coding).hex() == encoded
    assert decode_body(bytes.fromhex(encoded), data_coding) == text


@pytest.mark.parametrize(
    ("text", "data_coding", "index", "char"),
    [
        ("ok я", 0x00, 3, "я"),
        ("ok é ö €", 0x03, 7, "€"),
        ("naïve", 0x01, 2, "ï"),
        ("a\ud800b", 0x08, 1, "\ud800"),  # a lone surrogate is not UTF-16
    ],
)
def test_encode_text_names_the_first_bad_character(
    text: str, data_coding: int, index: int, char: str
) -> None:
    with pytest.raises(UnencodableText) as info:
        encode_text(text, data_coding)
    assert (info.value.index, info.value.char, info.value.data_coding) == (index, char, data_coding)
    assert isinstance(info.value, ValueError)
    assert f"0x{data_coding:02X}" in str(info.value)


@pytest.mark.parametrize("data_coding", [0x02, 0x04, 0x05, 0x09, 0xF4, 0x80])
def test_encode_text_refuses_binary_and_unsupported_codings(data_coding: int) -> None:
    with pytest.raises(ValueError):
        encode_text("abc", data_coding)


@pytest.mark.parametrize(
    ("data_coding", "kind"),
    [
        (0x00, Alphabet.GSM7), (0x01, Alphabet.IA5), (0x02, Alphabet.BINARY),
        (0x03, Alphabet.LATIN1), (0x04, Alphabet.BINARY), (0x05, Alphabet.OTHER),
        (0x06, Alphabet.CYRILLIC), (0x07, Alphabet.HEBREW), (0x08, Alphabet.UCS2),
        (0x0E, Alphabet.OTHER), (0x10, Alphabet.GSM7), (0x11, Alphabet.GSM7),
        (0x15, Alphabet.BINARY), (0x18, Alphabet.UCS2), (0x1C, Alphabet.OTHER),
        (0x30, Alphabet.BINARY), (0x48, Alphabet.UCS2), (0x80, Alphabet.OTHER),
        (0xC0, Alphabet.GSM7), (0xD8, Alphabet.GSM7), (0xE0, Alphabet.UCS2),
        (0xF0, Alphabet.GSM7), (0xF3, Alphabet.GSM7), (0xF4, Alphabet.BINARY),
        (0xF7, Alphabet.BINARY),
    ],
)
def test_alphabet_reads_smpp_values_then_gsm_dcs_groups(data_coding: int, kind: Alphabet) -> None:
    assert alphabet(data_coding) is kind


def test_ucs2_decode_joins_surrogate_pairs_and_replaces_broken_ones() -> None:
    assert decode_body(bytes.fromhex("d83dde00"), 0x08) == "😀"
    assert decode_body(bytes.fromhex("0041d83d"), 0x08) == "A\ufffd"  # lone high surrogate
    assert decode_body(bytes.fromhex("de000041"), 0x08) == "\ufffdA"  # lone low surrogate
    assert decode_body(bytes.fromhex("004100"), 0x08) == "A\ufffd"  # odd length


def test_ia5_decode_is_liberal_with_high_octets() -> None:
    assert decode_body(b"caf\xe9", 0x01) == "café"


def test_binary_decodes_as_hex_or_latin1_as_the_caller_chooses() -> None:
    assert decode_body(b"\x01\xff", 0x04) == "01ff"
    assert decode_body(b"\x01\xff", 0x02, binary="latin-1") == "\x01\xff"
    with pytest.raises(ValueError):
        decode_body(b"", 0x04, binary="base64")  # type: ignore[arg-type]


def test_unknown_codings_decode_as_latin1() -> None:
    assert decode_body(b"caf\xe9", 0x0E) == "café"
    assert decode_body(b"caf\xe9", 0x99) == "café"


@given(st.binary(max_size=300), st.integers(0, 255))
def test_decode_body_never_raises_on_any_bytes_and_coding(body: bytes, data_coding: int) -> None:
    assert isinstance(decode_body(body, data_coding), str)


@given(st.text())
def test_any_text_round_trips_through_its_chosen_coding(text: str) -> None:
    data_coding = choose_data_coding(text)
    assert decode_body(encode_text(text, data_coding), data_coding) == text
