"""Price lookups per second against a price table of operator-sized prefixes.

    python bench/pricing_lookup.py [--prefixes 300] [--destinations 1000] [--repeat 5]

Loads `--prefixes` random prefixes of 1-5 digits (and a '' default) into the shared table
and prices `--destinations` random 11-12 digit destinations for an account without a table
of its own, the common case of a reseller's customers. Prints the best mean µs per lookup of
`--repeat` rounds. Not a test: the number depends on the machine.
"""
from __future__ import annotations

import argparse
import random
import sys
import timeit
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's gateway, not an installed one

from gateway.core.pricing import ALL_ACCOUNTS, PriceEntry, Pricing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=300)
    parser.add_argument("--destinations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    chance = random.Random(1)  # the same table and destinations for every tree compared
    entries = [PriceEntry(account=ALL_ACCOUNTS, prefix="", price=Decimal("0.05"))]
    entries += [PriceEntry(account=ALL_ACCOUNTS,
                           prefix=str(chance.randint(1, 99999))[:chance.randint(1, 5)],
                           price=Decimal("0.03")) for _ in range(args.prefixes)]
    pricing = Pricing(entries=entries)
    destinations = [f"+{chance.randint(10**10, 10**12)}" for _ in range(args.destinations)]

    def price_all() -> None:
        for destination in destinations:
            pricing.part_price("acme", destination)

    rounds = 50
    best = min(timeit.repeat(price_all, number=rounds, repeat=args.repeat))
    print(f"{best / rounds / len(destinations) * 1e6:.3f} µs per lookup "
          f"({len(entries)} entries, {len(destinations)} destinations)")


if __name__ == "__main__":
    main()
