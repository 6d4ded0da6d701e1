"""End to end: text -> encode -> split -> (UDH / SAR) -> reassemble -> decode is the identity."""
from __future__ import annotations

import random
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text import (
    Reassembler,
    Segment,
    choose_data_coding,
    count_parts,
    decode_body,
    encode_text,
    reassemble,
    split_message,
)
from gateway.text.gsm7 import BASIC_TABLE, EXTENSION_TABLE
from gateway.text.udh import parse_udh

ALL_GSM = BASIC_TABLE.replace("\x1b", "") + "".join(EXTENSION_TABLE.values())

REAL_TEXTS = {
    "english": ("Your code is 482913. Do not share it.", 0x00),
    "every gsm char": (ALL_GSM, 0x00),
    "gsm extension": ("Price: 5€ {promo} [A|B] ~x^2 \\o/\x0c", 0x00),
    "german": ("Grüße aus Köln, schöne Straße", 0x00),
    "greek capitals": ("ΔΦΓΛΩΠΨΣΘΞ", 0x00),
    "greek": ("Καλημέρα κόσμε", 0x08),
    "spanish": ("¿Dónde está la estación?", 0x08),
    "french": ("Ça coûte 5€, naïf", 0x08),
    "cyrillic": ("Привет, мир! Ваш код: 1234", 0x08),
    "arabic": ("مرحبا بالعالم", 0x08),
    "hebrew": ("שלום עולם", 0x08),
    "hindi": ("नमस्ते दुनिया", 0x08),
    "chinese": ("你好，世界", 0x08),
    "japanese": ("こんにちは世界", 0x08),
    "korean": ("안녕하세요 세계", 0x08),
    "emoji": ("👍😀🎉", 0x08),
    "zwj family": ("👨‍👩‍👧‍👦 family", 0x08),
    "flags": ("🇩🇪🇯🇵🇺🇸", 0x08),
    "skin tone and keycap": ("👋🏽 1️⃣", 0x08),
    "mixed": ("Hi Иван, 你好 👋 — 5€", 0x08),
    "empty": ("", 0x00),
}


def _cases() -> list[tuple[str, str, int]]:
    cases = []
    for name, (text, data_coding) in REAL_TEXTS.items():
        cases.append((name, text, data_coding))
        if text:
            cases.append((name + " x40", text * 40, data_coding))
    return cases


def _fits_tp_ud(segment: Segment, data_coding: int, ref16: bool) -> bool:
    """Would this part fit the 140-octet TP-UD once on the air (GSM packed 7-bit)?"""
    payload = segment.body
    udh_octets = 0
    if segment.esm_class_udhi:
        udh, payload = parse_udh(segment.body)
        udh_octets = udh.length
    elif segment.sar is not None:  # the SMSC adds the concat UDH itself
        udh_octets = 7 if ref16 else 6
    if data_coding == 0x00:
        udh_septets = -(-udh_octets * 8 // 7)  # the UDH plus fill bits, in septets
        return (udh_septets + len(payload)) * 7 <= 140 * 8
    return udh_octets + len(payload) <= 140


def _round_trip(
    text: str, data_coding: int, method: Literal["udh", "sar"], ref16: bool, seed: int
) -> str:
    segments = split_message(text, data_coding, ref=0xAB, method=method, ref16=ref16)
    assert len(segments) == count_parts(text, data_coding, ref16)
    assert all(_fits_tp_ud(s, data_coding, ref16) for s in segments)
    random.Random(seed).shuffle(segments)
    return decode_body(reassemble(segments), data_coding)


@pytest.mark.parametrize(("name", "text", "data_coding"), _cases())
@pytest.mark.parametrize(("method", "ref16"), [("udh", False), ("udh", True), ("sar", False)])
def test_real_texts_survive_the_whole_path(
    name: str, text: str, data_coding: int, method: Literal["udh", "sar"], ref16: bool
) -> None:
    assert choose_data_coding(text) == data_coding
    assert _round_trip(text, data_coding, method, ref16, seed=len(text)) == text


def test_a_long_text_goes_through_the_reassembler_in_any_order() -> None:
    text = REAL_TEXTS["mixed"][0] * 30
    segments = split_message(text, 0x08, ref=200, method="udh")
    random.Random(1).shuffle(segments)
    r = Reassembler()
    results = [r.add_segment("4915", "100", s, now=float(i)) for i, s in enumerate(segments)]
    assert results[:-1] == [None] * (len(segments) - 1)
    assert decode_body(results[-1], 0x08) == text


@given(st.text(max_size=1500), st.sampled_from(["udh", "sar"]), st.booleans(), st.integers())
def test_any_unicode_text_round_trips(
    text: str, method: Literal["udh", "sar"], ref16: bool, seed: int
) -> None:
    data_coding = choose_data_coding(text)
    assert _round_trip(text, data_coding, method, ref16, seed) == text


@given(st.text(alphabet=ALL_GSM, max_size=2000), st.booleans(), st.integers())
def test_any_gsm_text_round_trips_as_gsm(text: str, ref16: bool, seed: int) -> None:
    assert choose_data_coding(text) == 0x00
    assert _round_trip(text, 0x00, "udh", ref16, seed) == text


@given(st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=300), st.integers())
def test_astral_text_never_splits_a_surrogate_pair(text: str, seed: int) -> None:
    segments = split_message(text, 0x08, ref=1, method="sar")
    for segment in segments:
        assert len(segment.body) % 4 == 0
        assert decode_body(segment.body, 0x08) in text
    assert _round_trip(text, 0x08, "udh", False, seed) == text


@given(st.binary(max_size=600), st.integers(0, 255))
def test_binary_bodies_round_trip_as_bytes(body: bytes, ref: int) -> None:
    segments = split_message(body, 0x04, ref=ref)
    assert reassemble(reversed(segments)) == body


def test_plain_segment_decode_matches_encode() -> None:
    text = REAL_TEXTS["gsm extension"][0]
    (segment,) = split_message(text, 0x00, ref=0)
    assert segment == Segment(body=encode_text(text, 0x00))


@given(st.text(min_size=1, max_size=40), st.integers(5, 120), st.booleans(), st.integers())
def test_repeated_random_text_spans_many_parts_and_round_trips(
    chunk: str, times: int, ref16: bool, seed: int
) -> None:
    text = chunk * times
    data_coding = choose_data_coding(text)
    if count_parts(text, data_coding, ref16) > 255:
        return
    assert _round_trip(text, data_coding, "udh", ref16, seed) == text
