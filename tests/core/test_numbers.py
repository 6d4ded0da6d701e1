"""The number directory (core/numbers.py): which account an MO belongs to."""
from __future__ import annotations

import pytest

from gateway.core.numbers import (
    NumberDirectory,
    OwnedNumber,
    normalize_keyword,
    normalize_number,
)


@pytest.mark.parametrize(("given", "kept"), [
    ("+4915550000", "4915550000"), ("004915550000", "4915550000"), ("4915550000", "4915550000"),
    ("12345", "12345"), ("shop", "SHOP"), (" 7777 ", "7777"),
])
def test_numbers_are_kept_without_international_prefix_and_case(given, kept):
    assert normalize_number(given) == kept


@pytest.mark.parametrize("bad", ["", "+", "49 155", "49-155", "1" * 22, "ünï"])
def test_a_malformed_number_is_refused(bad):
    with pytest.raises(ValueError):
        normalize_number(bad)


def test_keywords_compare_without_case_and_must_be_one_word():
    assert normalize_keyword(" stop ") == "STOP"
    assert normalize_keyword("") == ""
    with pytest.raises(ValueError):
        normalize_keyword("two words")


def directory() -> NumberDirectory:
    return NumberDirectory([
        OwnedNumber(number="4915550000", account="acme"),
        OwnedNumber(number="7777", account="pizza", keyword="PIZZA"),
        OwnedNumber(number="7777", account="taxi", keyword="TAXI"),
        OwnedNumber(number="7777", account="portal"),
        OwnedNumber(number="8888", account="vote", keyword="YES"),
    ])


def test_a_long_number_belongs_to_its_account_however_it_is_written():
    d = directory()
    for destination in ("4915550000", "+4915550000", "004915550000"):
        assert d.owner(destination, "anything").account == "acme"


def test_a_shared_short_code_goes_by_keyword_then_to_its_default():
    d = directory()
    assert d.owner("7777", "pizza margherita please").account == "pizza"
    assert d.owner("7777", "TAXI to the station") == OwnedNumber(
        number="7777", account="taxi", keyword="TAXI")
    assert d.owner("7777", "hello").account == "portal"
    assert d.owner("7777", "").account == "portal"


def test_no_owner_without_a_matching_keyword_or_default():
    d = directory()
    assert d.owner("8888", "no thanks") is None
    assert d.owner("8888", "yes!") is None  # the first word, exactly
    assert d.owner("8888", "Yes please").account == "vote"
    assert d.owner("999", "hi") is None
    assert d.owner("not a number", "hi") is None


def test_load_replaces_the_directory():
    d = directory()
    d.load([OwnedNumber(number="1234", account="new")])
    assert d.owner("4915550000", "x") is None and d.owner("1234", "x").account == "new"
    assert len(d) == 1
