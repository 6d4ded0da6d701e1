"""Upstream id keys: one id, however a receipt spells it."""
from __future__ import annotations

from gateway.core.upstream_ids import best_match, id_keys


def matches(resp_id: str, receipt_id: str) -> bool:
    stored = [(k, "m") for k in id_keys(resp_id)]
    return best_match(id_keys(receipt_id), stored) == "m"


def test_same_id_matches():
    assert matches("abc-123", "abc-123")


def test_case_and_leading_zeros_do_not_matter():
    assert matches("00AbC", "abc")
    assert matches("0000012345", "12345")


def test_hex_and_decimal_spellings_of_one_number_match():
    assert matches("1A2B3C", str(0x1A2B3C))
    assert matches("12345", "3039")  # 12345 decimal is 0x3039


def test_different_ids_do_not_match():
    assert not matches("12345", "12346")
    assert not matches("abc-123", "abc-124")


def test_empty_id_has_no_keys():
    assert id_keys("") == [] and id_keys("  ") == []


def test_the_exact_text_is_preferred():
    stored = [(k, "ten") for k in id_keys("10")] + [(k, "sixteen") for k in id_keys("16")]
    assert best_match(id_keys("16"), stored) == "sixteen"
    assert best_match(id_keys("10"), stored) == "ten"
