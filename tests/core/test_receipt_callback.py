"""A message's callback_url travels with its receipt, so the fan-out can post it there."""
from __future__ import annotations

from gateway.core.receipts import receipt_for
from gateway.model import Address, Message, MessageState


def test_receipt_carries_the_messages_callback_url():
    message = Message(id="7", account="acme", source=Address(addr="ACME"),
                      destination=Address(ton=1, npi=1, addr="4917"), body=b"hi",
                      registered_delivery=1, callback_url="https://example.test/dlr")
    item = receipt_for(message, MessageState.DELIVERED, 0, 100.0)
    assert item.callback_url == "https://example.test/dlr"
    assert item.message_id == "7"
