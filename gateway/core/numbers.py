"""Numbers accounts own for inbound (MO) messages: long numbers and short codes, each
optionally shared among accounts by keyword (the first word of the text).

The directory lives in the store (CLI, admin API, other nodes change it) and is held in
memory here, like the price tables: `service.py` reloads it when settings_version moves.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NumberDirectory", "OwnedNumber", "first_word", "normalize_keyword",
           "normalize_number"]

MAX_NUMBER = 21
MAX_KEYWORD = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class OwnedNumber:
    """`account` owns MO to `number`; with a `keyword`, only MO whose first word it is."""

    number: str
    account: str
    keyword: str = ""


def normalize_number(number: str) -> str:
    """The form numbers are kept and compared in: no '+' or '00' international prefix,
    letters (alphanumeric short codes) upper-cased. ValueError when it is empty, too long
    or holds anything but ASCII letters and digits."""
    value = number.strip()
    if value.startswith("+"):
        value = value[1:]
    elif value.startswith("00") and value.isdigit():
        value = value[2:]
    if not (0 < len(value) <= MAX_NUMBER and value.isascii() and value.isalnum()):
        raise ValueError(f"number {number!r} must be 1-{MAX_NUMBER} letters or digits")
    return value.upper()


def normalize_keyword(keyword: str) -> str:
    """Keywords compare without case; '' means "any text". ValueError for a keyword that
    is not one word of printable ASCII."""
    value = keyword.strip()
    if len(value) > MAX_KEYWORD or not all(0x21 <= ord(c) <= 0x7E for c in value):
        raise ValueError(f"keyword {keyword!r} must be one word of up to {MAX_KEYWORD} "
                         "printable ASCII characters")
    return value.upper()


def first_word(text: str) -> str:
    """The keyword candidate of an MO text: its first word, upper-cased."""
    words = text.split(None, 1)
    return words[0].upper() if words else ""


class NumberDirectory:
    """Which account an MO belongs to, from in-memory copies of the store's numbers."""

    def __init__(self, numbers: Iterable[OwnedNumber] = ()) -> None:
        self._by_number: dict[str, dict[str, str]] = {}
        self.load(numbers)

    def load(self, numbers: Iterable[OwnedNumber]) -> None:
        """Replace the directory with `numbers` (all of them, as the store holds them)."""
        by_number: dict[str, dict[str, str]] = {}
        for entry in numbers:
            by_number.setdefault(entry.number, {})[entry.keyword] = entry.account
        self._by_number = by_number  # one assignment: a lookup sees old or new, never half

    def owner(self, destination: str, text: str) -> OwnedNumber | None:
        """The entry an MO to `destination` reading `text` matches: the keyword entry for
        its first word, else the number's entry without a keyword; None if no one owns it."""
        try:
            number = normalize_number(destination)
        except ValueError:
            return None
        entries = self._by_number.get(number)
        if not entries:
            return None
        keyword = first_word(text) if len(entries) > 1 or "" not in entries else ""
        for candidate in (keyword, ""):
            account = entries.get(candidate)
            if account is not None:
                return OwnedNumber(number=number, account=account, keyword=candidate)
        return None

    def owns(self, destination: str) -> bool:
        """Does any account own MO to `destination` (with some keyword or none)?"""
        try:
            return normalize_number(destination) in self._by_number
        except ValueError:
            return False

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_number.values())
