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


@dataclass(frozen=True, slots=True)
class _Table:
    """One account's prices by prefix, and the prefix lengths it holds, longest first: a
    lookup tries only those lengths, not every length up to the destination's (a
    12-digit destination against prefixes of 1-4 digits: 4 dict lookups, not 13)."""

    prices: dict[str, Decimal]
    lengths: tuple[int, ...]

    @classmethod
    def of(cls, prices: dict[str, Decimal]) -> _Table:
        return cls(prices, tuple(sorted({len(prefix) for prefix in prices}, reverse=True)))


class Pricing:
    """The price of a message's parts, from in-memory price tables."""

    def __init__(self, *, price_per_part: Decimal = Decimal("0.05"),
                 entries: Iterable[PriceEntry] = ()) -> None:
        self.price_per_part = price_per_part
        self._tables: dict[str, _Table] = {}
        self.load(entries)

    def load(self, entries: Iterable[PriceEntry]) -> None:
        """Replace every table with `entries` (all of them, as the store holds them)."""
        prices: dict[str, dict[str, Decimal]] = {}
        for entry in entries:
            prices.setdefault(entry.account, {})[entry.prefix] = entry.price
        # One assignment: a submit sees the old or the new tables.
        self._tables = {name: _Table.of(by_prefix) for name, by_prefix in prices.items()}

    def part_price(self, account: str, destination: str) -> Decimal:
        """The price of one part from `account` to `destination`."""
        found = self._find(account, destination)
        return self.price_per_part if found is None else found[2]

    def charged_entry(self, account: str, destination: str) -> PriceEntry | None:
        """The entry `part_price` charges from (None: `price_per_part`). For a destination
        equal to an entry's prefix, that entry when it is in effect for `account`; for
        '', what destinations that match no other prefix are charged."""
        found = self._find(account, destination)
        if found is None:
            return None
        table_name, prefix, price = found
        return PriceEntry(account=table_name, prefix=prefix, price=price)

    def _find(self, account: str, destination: str) -> tuple[str, str, Decimal] | None:
        """The one pricing rule: (table, prefix, price) of the longest prefix of
        `destination` in the account's own table, else in the shared one."""
        digits = destination[1:] if destination[:1] == "+" else destination
        for table_name in (account, ALL_ACCOUNTS):
            table = self._tables.get(table_name)
            if table is not None:
                for length in table.lengths:
                    if length <= len(digits):
                        prefix = digits[:length]
                        price = table.prices.get(prefix)
                        if price is not None:
                            return table_name, prefix, price
        return None

    def price(self, account: Account, destination: str, parts: int) -> Decimal:
        """What `parts` parts from `account` to `destination` cost."""
        return self.part_price(account.system_id, destination) * parts
