"""transport/translate.deliver_sm_for: the deliver_sm of an outbox item, every field of it."""
from __future__ import annotations

import pytest

from gateway.model import Address, DeliveryKind, OutboxItem
from gateway.smpp import pdu as P
from gateway.smpp.tlv import make_tlvs
from gateway.transport.translate import MAX_SHORT_MESSAGE, deliver_sm_for

HANDSET = Address(ton=1, npi=1, addr="4917612345678")
SENDER = Address(ton=5, npi=0, addr="SHOP")


def item(body: bytes, **changes) -> OutboxItem:
    fields = dict(id=3, account="acme", kind=DeliveryKind.RECEIPT, source=HANDSET,
                  destination=SENDER, body=body, esm_class=0x04, data_coding=0,
                  message_id="1F", message_state=2, network_error_code=b"\x03\x00\x01")
    return OutboxItem(**(fields | changes))


@pytest.mark.parametrize(("body", "long_body"), [
    (b"id:1F sub:001 dlvrd:001 stat:DELIVRD", False),
    (b"x" * (MAX_SHORT_MESSAGE + 1), True),
])
def test_every_field_of_the_deliver_sm(body, long_body):
    pdu = deliver_sm_for(item(body))
    assert pdu == P.DeliverSm(
        source_addr_ton=1, source_addr_npi=1, source_addr="4917612345678",
        dest_addr_ton=5, dest_addr_npi=0, destination_addr="SHOP", esm_class=0x04,
        data_coding=0, short_message=b"" if long_body else body,
        tlvs=make_tlvs(receipted_message_id="1F", message_state=2,
                       network_error_code=b"\x03\x00\x01",
                       message_payload=body if long_body else None))
    assert type(pdu) is P.DeliverSm and type(pdu.tlvs) is P.Tlvs


def test_an_mo_part_has_no_receipt_tlvs():
    pdu = deliver_sm_for(item(b"hi", kind=DeliveryKind.MO, message_id="", message_state=None,
                              network_error_code=None, esm_class=0x40, data_coding=8))
    assert pdu.tlvs == P.NO_TLVS
    assert (pdu.esm_class, pdu.data_coding, pdu.short_message) == (0x40, 8, b"hi")
