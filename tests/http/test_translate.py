"""A send request's addresses become what the model types them as: plain ints for TON and
NPI (an IntEnum member would be bound by SQLite through its slow adaptation path on every
stored row, see gateway/http/translate.py)."""
from __future__ import annotations

import pytest

from gateway.http.translate import submit_batch
from gateway.smpp.constants import Npi, Ton


@pytest.mark.parametrize(("sender", "ton", "npi", "addr"), [
    ("+4917000001", Ton.INTERNATIONAL, Npi.ISDN, "4917000001"),
    ("Acme", Ton.ALPHANUMERIC, Npi.UNKNOWN, "Acme"),
    ("", 0, 0, ""),
])
def test_addresses_hold_plain_ints(sender: str, ton: int, npi: int, addr: str) -> None:
    batch = submit_batch({"to": ["+4917000002", "4917000003"], "text": "hi",
                          "from": sender}, 0.0)
    assert [d.addr for d in batch.destinations] == ["4917000002", "4917000003"]
    source = batch.first.source
    assert (source.ton, source.npi, source.addr) == (ton, npi, addr)
    for destination in batch.destinations:
        assert (destination.ton, destination.npi) == (Ton.INTERNATIONAL, Npi.ISDN)
        values = (source.ton, source.npi, destination.ton, destination.npi)
        assert [type(v) for v in values] == [int] * 4
