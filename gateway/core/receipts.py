"""Building the delivery receipt for a message that reached a final state (D1, D2)."""
from __future__ import annotations

from gateway.model import NO_ADDRESS, DeliveryKind, Message, MessageState, NewOutboxItem
from gateway.smpp.constants import (
    ESM_TYPE_DELIVERY_RECEIPT,
    ESM_UDHI,
    REGDLV_RECEIPT_ALWAYS,
    REGDLV_RECEIPT_MASK,
    REGDLV_RECEIPT_ON_FAILURE,
)
from gateway.smpp.frozen_init import fast_replace
from gateway.smpp.receipt import TEXT_LENGTH, format_receipt
from gateway.text.encoding import decode_body
from gateway.text.udh import UdhError, parse_udh

GSM_NETWORK_TYPE = 0x03  # network_error_code TLV: network type octet for GSM

# What every receipt's outbox item shares, and a builder that copies it with the fields of
# one receipt: one per final message, where 13 keywords to the constructor cost more.
_RECEIPT = NewOutboxItem(account="", kind=DeliveryKind.RECEIPT, source=NO_ADDRESS,
                         destination=NO_ADDRESS, body=b"",
                         esm_class=ESM_TYPE_DELIVERY_RECEIPT, data_coding=0)
_receipt_item = fast_replace(NewOutboxItem, "account", "source", "destination", "body",
                             "message_id", "message_state", "network_error_code",
                             "created_at", "claimed_by")


def wants_receipt(registered_delivery: int, state: MessageState) -> bool:
    mode = registered_delivery & REGDLV_RECEIPT_MASK
    if mode == REGDLV_RECEIPT_ALWAYS:
        return True
    return mode == REGDLV_RECEIPT_ON_FAILURE and state is not _DELIVERED


# Octets that always hold the receipt's first TEXT_LENGTH characters: no alphabet spends
# more than 4 octets on a character (a UCS2 surrogate pair; GSM 7-bit escapes take 2).
_RECEIPT_TEXT_OCTETS = 4 * TEXT_LENGTH
# Enum members read per message, bound once (smpp/constants.py says why)
_DELIVERED = MessageState.DELIVERED


def message_text(message: Message, max_octets: int | None = None) -> str:
    """The message's text as the customer wrote it, without its UDH; with `max_octets`,
    only what the first that many octets of the text say."""
    body = message.body
    if message.esm_class & ESM_UDHI:
        try:
            _, body = parse_udh(body)
        except UdhError:
            pass
    if max_octets is not None:
        body = body[:max_octets]
    return decode_body(body, message.data_coding)


def receipt_event(message: Message, state: MessageState, done_at: float) -> NewOutboxItem:
    """The receipt's outbox item without its SMPP text: what a webhook leg is made from
    when no SMPP leg is sent (formatting and decoding the text cost more than the rest)."""
    return _receipt_item(_RECEIPT, message.account, message.destination, message.source,
                         b"", message.id, int(state), None, done_at, None)


def receipt_for(
    message: Message, state: MessageState, error_code: int, done_at: float,
    claimed_by: int | None = None,
) -> NewOutboxItem:
    delivered = message.parts if state is _DELIVERED else 0
    text = format_receipt(
        message_id=message.id,
        sub=message.parts,
        dlvrd=delivered,
        submit_date=message.submitted_at,
        done_date=done_at,
        stat=state.receipt_stat,
        err=error_code,
        # decoding only the octets the text can come from keeps a long message cheap
        text=message_text(message, _RECEIPT_TEXT_OCTETS)[:TEXT_LENGTH],
    )
    network_error = (
        bytes((GSM_NETWORK_TYPE,)) + error_code.to_bytes(2, "big") if error_code else None
    )
    # a receipt travels back: from the handset to the original sender
    return _receipt_item(_RECEIPT, message.account, message.destination, message.source,
                         text.encode("ascii", "replace"), message.id, int(state),
                         network_error, done_at, claimed_by)
