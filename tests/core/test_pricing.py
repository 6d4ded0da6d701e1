"""Price tables: longest prefix, the account's own table before '*', the configured default;
and the router charging by them on every submit path (SMPP submit, batch, replace_sm)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from test_operations import IN_10_MIN, Core

from gateway.core.operations import ReplaceRequest
from gateway.core.pricing import PriceEntry, Pricing, normalize_prefix
from gateway.model import Account, Address, SubmitBatch, SubmitRequest

ACME = Account(system_id="acme", password_hash="x")
TABLE = [
    PriceEntry(account="acme", prefix="49", price=Decimal("0.07")),
    PriceEntry(account="acme", prefix="4917", price=Decimal("0.09")),
    PriceEntry(account="*", prefix="", price=Decimal("0.03")),
    PriceEntry(account="*", prefix="4917", price=Decimal("0.01")),
    PriceEntry(account="other", prefix="", price=Decimal("0.50")),
]


@pytest.mark.parametrize(("destination", "price"), [
    ("4917612345", "0.09"),   # longest of acme's own
    ("+4930123456", "0.07"),  # '+' ignored
    ("4", "0.03"),            # nothing of acme's: '*' default entry
    ("33612345678", "0.03"),
])
def test_longest_prefix_of_the_accounts_table_then_the_shared_one(destination, price):
    assert Pricing(entries=TABLE).part_price("acme", destination) == Decimal(price)


DIGITS = st.text(alphabet="0123456789", max_size=8)


@given(st.dictionaries(st.sampled_from(["acme", "*"]), st.dictionaries(DIGITS, st.integers(1, 99))),
       DIGITS)
def test_the_price_is_the_longest_matching_prefix_of_the_first_table_that_has_one(tables,
                                                                                  destination):
    # Tables whose prefixes skip lengths (only 1 and 5 digits, say) are priced as if every
    # length were tried.
    entries = [PriceEntry(account=account, prefix=prefix, price=Decimal(cents))
               for account, prices in tables.items() for prefix, cents in prices.items()]
    expected = Decimal("0.05")
    for account in ("acme", "*"):
        matching = [prefix for prefix in tables.get(account, {}) if destination.startswith(prefix)]
        if matching:
            expected = Decimal(tables[account][max(matching, key=len)])
            break
    assert Pricing(entries=entries).part_price("acme", "+" + destination) == expected


def test_configured_price_when_no_table_matches():
    pricing = Pricing(price_per_part=Decimal("0.05"),
                      entries=[PriceEntry(account="acme", prefix="49", price=Decimal(1))])
    assert pricing.part_price("acme", "331") == Decimal("0.05")
    assert pricing.part_price("nobody", "491") == Decimal("0.05")
    assert pricing.price(ACME, "491", 3) == Decimal(3)


@pytest.mark.parametrize(("account", "destination", "entry"), [
    ("acme", "4917612345", TABLE[1]),
    ("acme", "4917", TABLE[1]),  # acme's own 4917 shadows the shared one
    ("acme", "", TABLE[2]),      # any other destination: the shared '' entry
    ("other", "4917", TABLE[4]),
    ("nobody", "4917", TABLE[3]),
])
def test_charged_entry_names_the_entry_part_price_charges(account, destination, entry):
    pricing = Pricing(price_per_part=Decimal("0.05"), entries=TABLE)
    assert pricing.charged_entry(account, destination) == entry
    assert pricing.part_price(account, destination) == entry.price


def test_no_charged_entry_means_price_per_part():
    assert Pricing(entries=TABLE[:2]).charged_entry("acme", "33") is None


def test_load_replaces_every_table():
    pricing = Pricing(price_per_part=Decimal("0.05"), entries=TABLE)
    pricing.load([])
    assert pricing.part_price("acme", "4917") == Decimal("0.05")


@pytest.mark.parametrize(("given", "expected"), [("+4917", "4917"), ("", ""), ("0", "0")])
def test_prefixes_are_digits(given, expected):
    assert normalize_prefix(given) == expected


@pytest.mark.parametrize("bad", ["49 17", "abc", "1" * 21, "++49", "٤٩"])
def test_malformed_prefixes_are_refused(bad):
    with pytest.raises(ValueError):
        normalize_prefix(bad)


@pytest.fixture
def core(tmp_path):
    c = Core(tmp_path)
    pytest_twisted.blockon(c.store.add_account(c.account))
    yield c
    c.router.stop()
    pytest_twisted.blockon(c.store.close())


@pytest_twisted.ensureDeferred
async def test_smpp_submit_and_replace_sm_charge_the_table_price(core):
    core.router._pricing.load([PriceEntry(account="acme", prefix="4917",
                                          price=Decimal("0.20"))])
    message = await core.submit(schedule_delivery_time=IN_10_MIN)
    assert message.price == Decimal("0.20")
    replaced = await core.ops.replace(core.account, ReplaceRequest(
        message_id=message.id, body=b"x" * 161))
    assert replaced.price == Decimal("0.40")
    assert (await core.store.get_account("acme")).balance == Decimal("9.60")


@pytest_twisted.ensureDeferred
async def test_batch_is_one_debit_of_the_sum(core):
    batch = SubmitBatch(
        first=SubmitRequest(source=Address(ton=1, npi=1, addr="4915100000001"),
                            destination=Address(ton=1, npi=1, addr="4917600000001"),
                            body=b"hi"),
        others=(Address(ton=1, npi=1, addr="4930000000001"),))
    core.router._pricing.load([PriceEntry(account="*", prefix="4930", price=Decimal("0.5"))])
    accepted = await core.router.submit_batch(core.account, batch)
    assert [m.price for m in accepted.messages] == [Decimal("0.05"), Decimal("0.5")]
    assert accepted.balance == Decimal("9.45")
    assert (await core.store.get_account("acme")).balance == Decimal("9.45")
