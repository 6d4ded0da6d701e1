"""A send request's addresses become what the model types them as: plain ints for TON and
NPI (an IntEnum member would be bound by SQLite through its slow adaptation path on every
stored row, see gateway/http/translate.py)."""
from __future__ import annotations

import pytest

from gateway.http.translate import submit_requests
from gateway.smpp.constants import Npi, Ton


@pytest.mark.parametrize(("sender", "ton", "npi", "addr"), [
    ("+4917000001", Ton.INTERNATIONAL, Npi.ISDN, "4917000001"),
    ("Acme", Ton.ALPHANUMERIC, Npi.UNKNOWN, "Acme"),
    ("", 0, 0, ""),
])
def test_addresses_hold_plain_ints(sender: str, ton: int, npi: int, addr: str) -> None:
    requests = submit_requests({"to": ["+4917000002", "4917000003"], "text": "hi",
                                "from": sender}, 0.0)
    assert [r.destination.addr for r in requests] == ["4917000002", "4917000003"]
    for request in requests:
        source, destination = request.source, request.destination
        assert (source.ton, source.npi, source.addr) == (ton, npi, addr)
        assert (destination.ton, destination.npi) == (Ton.INTERNATIONAL, Npi.ISDN)
        values = (source.ton, source.npi, destination.ton, destination.npi)
        assert [type(v) for v in values] == [int] * 4
