"""core/receipts.receipt_for: the outbox item of a message's receipt, every field of it."""
from __future__ import annotations

import pytest

from gateway.core.receipts import receipt_for
from gateway.model import Address, Channel, DeliveryKind, Message, MessageState, NewOutboxItem
from gateway.smpp.constants import ESM_TYPE_DELIVERY_RECEIPT

SENDER = Address(ton=5, npi=0, addr="SHOP")
HANDSET = Address(ton=1, npi=1, addr="4917612345678")


def message(**changes) -> Message:
    fields = dict(id="1F", account="acme", source=SENDER, destination=HANDSET,
                  body=b"Hello there", data_coding=0, esm_class=0, registered_delivery=1,
                  parts=2, submitted_at=1_800_000_000.0)
    return Message(**(fields | changes))


@pytest.mark.parametrize(("state", "error_code", "claimed_by", "network_error", "dlvrd"), [
    (MessageState.DELIVERED, 0, None, None, "002"),
    (MessageState.UNDELIVERABLE, 0x40B, 7, b"\x03\x04\x0b", "000"),
])
def test_every_field_of_a_receipt_item(state, error_code, claimed_by, network_error, dlvrd):
    item = receipt_for(message(), state, error_code, 1_800_000_120.0, claimed_by)
    stat = state.receipt_stat
    err = min(error_code, 999)
    assert item == NewOutboxItem(
        account="acme", kind=DeliveryKind.RECEIPT, source=HANDSET, destination=SENDER,
        body=(f"id:1F sub:002 dlvrd:{dlvrd} submit date:2701150800 done date:2701150802"
              f" stat:{stat} err:{err:03d} text:Hello there").encode(),
        esm_class=ESM_TYPE_DELIVERY_RECEIPT, data_coding=0, message_id="1F",
        message_state=int(state), network_error_code=network_error,
        created_at=1_800_000_120.0, channel=Channel.SMPP, url="", event_id="", payload="",
        claimed_by=claimed_by)
    assert type(item) is NewOutboxItem


def test_receipts_of_different_messages_share_nothing_of_each_other():
    first = receipt_for(message(), MessageState.DELIVERED, 0, 1_800_000_060.0)
    second = receipt_for(message(id="20", account="other", source=HANDSET,
                                 destination=SENDER), MessageState.EXPIRED, 0, 1_800_000_061.0)
    assert (first.account, first.message_id, first.source) == ("acme", "1F", HANDSET)
    assert (second.account, second.message_id, second.source) == ("other", "20", SENDER)
