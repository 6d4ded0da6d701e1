"""Prices per SMS part by destination prefix (R2, S12): longest match wins.

Theory of operation
-------------------
Each account may have its own price table; the table of the pseudo-account `*` applies to
every account. The price of one part to a destination is the longest prefix of the
destination found in the account's own table, else in the `*` table, else the configured
`price_per_part`. Tables live in the store (so the CLI, the admin API and other nodes can
change them) and are held in memory here: the submit path prices every message without a
store round trip. `service.py` reloads them whenever the store's settings_version moves.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from gateway.model import Account

__all__ = ["ALL_ACCOUNTS", "PriceEntry", "Pricing", "normalize_prefix"]

ALL_ACCOUNTS = "*"
MAX_PREFIX = 20


@dataclass(frozen=True, kw_only=True, slots=True)
class PriceEntry:
    """One row of a price table: `price` per part for destinations starting with `prefix`."""

    account: str  # a system_id, or ALL_ACCOUNTS
    prefix: str  # digits; '' matches every destination
    price: Decimal


def normalize_prefix(prefix: str) -> str:
    """The digits of a prefix ('+49 15' is not accepted, '+4915' is '4915'); ValueError if
    it is not 0-20 ASCII digits after an optional '+'."""
    digits = prefix.removeprefix("+")
    if len(digits) > MAX_PREFIX or not (digits == "" or (digits.isascii() and digits.isdigit())):
        raise ValueError(f"prefix {prefix!r} must be up to {MAX_PREFIX} digits")
    return digits


class Pricing:
    """The price of a message's parts, from in-memory price tables."""

    def __init__(self, *, price_per_part: Decimal = Decimal("0.05"),
                 entries: Iterable[PriceEntry] = ()) -> None:
        self.price_per_part = price_per_part
        self._tables: dict[str, dict[str, Decimal]] = {}
        self.load(entries)

    def load(self, entries: Iterable[PriceEntry]) -> None:
        """Replace every table with `entries` (all of them, as the store holds them)."""
        tables: dict[str, dict[str, Decimal]] = {}
        for entry in entries:
            tables.setdefault(entry.account, {})[entry.prefix] = entry.price
        self._tables = tables  # one assignment: a submit sees the old or the new tables

    def part_price(self, account: str, destination: str) -> Decimal:
        """The price of one part from `account` to `destination`."""
        digits = destination[1:] if destination[:1] == "+" else destination
        for table_name in (account, ALL_ACCOUNTS):
            table = self._tables.get(table_name)
            if table:
                for length in range(min(len(digits), MAX_PREFIX), -1, -1):
                    price = table.get(digits[:length])
                    if price is not None:
                        return price
        return self.price_per_part

    def price(self, account: Account, destination: str, parts: int) -> Decimal:
        """What `parts` parts from `account` to `destination` cost."""
        return self.part_price(account.system_id, destination) * parts
