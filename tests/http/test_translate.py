"""A send request's addresses become what the model types them as: plain ints for TON and
NPI (an IntEnum member would be bound by SQLite through its slow adaptation path on every
stored row, see gateway/http/translate.py), and each field of a send lands in its own
field of the SubmitRequest."""
from __future__ import annotations

import pytest

from gateway.http.translate import submit_batch
from gateway.model import Address, SubmitRequest
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


def test_a_send_with_every_field_becomes_the_request_its_fields_say() -> None:
    # the request is a copy of a blank one with the send's fields replaced: each must land
    # in its own field, and the rest must be a keyword-built request's defaults
    batch = submit_batch({
        "to": ["+4917000002", "4917000003"], "text": "hi", "from": "Acme", "dlr": True,
        "flash": True, "scheduled_at": "2030-01-02T03:04:05Z", "validity": 90061,
        "callback_url": "https://example.com/dlr", "client_ref": "order-7"}, 0.0)
    assert batch.first == SubmitRequest(
        source=Address(ton=int(Ton.ALPHANUMERIC), npi=int(Npi.UNKNOWN), addr="Acme"),
        destination=Address(ton=int(Ton.INTERNATIONAL), npi=int(Npi.ISDN),
                            addr="4917000002"),
        body=b"hi", data_coding=0x10, registered_delivery=1,
        schedule_delivery_time="300102030405000+", validity_period="000001010101000R",
        from_payload=True, callback_url="https://example.com/dlr", client_ref="order-7",
        transport="http")
    assert batch.others == (Address(ton=int(Ton.INTERNATIONAL), npi=int(Npi.ISDN),
                                    addr="4917000003"),)


def test_a_bare_send_leaves_every_other_field_at_its_default() -> None:
    batch = submit_batch({"to": "4917000002", "hex": "00ff"}, 0.0)
    assert batch.first == SubmitRequest(
        source=Address(), destination=Address(ton=int(Ton.INTERNATIONAL),
                                              npi=int(Npi.ISDN), addr="4917000002"),
        body=b"\x00\xff", data_coding=0x04, from_payload=True, transport="http")
    assert batch.others == ()
