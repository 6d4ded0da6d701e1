"""Translation between the core's types and the PDUs an upstream SMSC speaks: the submit_sm
for a Message, and what an incoming deliver_sm/data_sm is (a receipt or an MO)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.model import Address, InboundMessage, Message, MessageState
from gateway.smpp import pdu as P
from gateway.smpp.receipt import parse_receipt
from gateway.smpp.tlv import make_tlvs

MAX_SHORT_MESSAGE = 254
_RECEIPT_TYPES = (0x04, 0x20)  # esm_class message type: SMSC delivery receipt, intermediate


@dataclass(frozen=True, kw_only=True)
class UpstreamReceipt:
    upstream_id: str
    state: MessageState | None  # None: not a state we can act on
    error_code: int


def submit_sm_for(message: Message) -> P.SubmitSm:
    """The submit_sm that carries `message` upstream; we always ask for a receipt, since
    our own final state depends on it (the customer's registered_delivery is ours to honour)."""
    long_body = len(message.body) > MAX_SHORT_MESSAGE
    return P.SubmitSm(
        source_addr_ton=message.source.ton, source_addr_npi=message.source.npi,
        source_addr=message.source.addr,
        dest_addr_ton=message.destination.ton, dest_addr_npi=message.destination.npi,
        destination_addr=message.destination.addr,
        esm_class=message.esm_class & 0xC0,  # UDHI / reply path; the mode is the upstream's
        protocol_id=message.protocol_id, priority_flag=message.priority,
        registered_delivery=1, data_coding=message.data_coding,
        short_message=b"" if long_body else message.body,
        tlvs=make_tlvs(message_payload=message.body) if long_body else P.NO_TLVS,
    )


def _error_code(err: str | None, network_error_code: bytes | None) -> int:
    if network_error_code and len(network_error_code) == 3:
        return int.from_bytes(network_error_code[1:], "big")
    if not err:
        return 0
    try:
        return int(err, 10)
    except ValueError:
        try:
            return int(err, 16)
        except ValueError:
            return 0


def receipt_from(pdu: Any) -> UpstreamReceipt | None:
    """The receipt `pdu` (deliver_sm or data_sm) carries, or None when it is an MO.

    Liberal: the id from receipted_message_id or the text's `id:`, the state from the
    message_state TLV or the text's `stat:`; a PDU with receipt TLVs but an MO esm_class
    still counts as a receipt."""
    tlvs = pdu.tlvs
    is_receipt = (pdu.esm_class & 0x3C) in _RECEIPT_TYPES or tlvs.receipted_message_id
    if not is_receipt:
        return None
    body = getattr(pdu, "short_message", b"") or tlvs.message_payload or b""
    parsed = parse_receipt(body.decode("latin-1")) if body else None
    upstream_id = tlvs.receipted_message_id or (parsed.message_id if parsed else None) or ""
    state: MessageState | None = None
    if tlvs.message_state is not None:
        try:
            state = MessageState(tlvs.message_state)
        except ValueError:
            state = None
    if state is None and parsed is not None:
        state = parsed.message_state
    error = _error_code(parsed.err if parsed else None, tlvs.network_error_code)
    return UpstreamReceipt(upstream_id=upstream_id, state=state, error_code=error)


def inbound_from(pdu: Any, connector: str, now: float) -> InboundMessage:
    tlvs = pdu.tlvs
    body = getattr(pdu, "short_message", b"") or tlvs.message_payload or b""
    return InboundMessage(
        source=Address(ton=pdu.source_addr_ton, npi=pdu.source_addr_npi, addr=pdu.source_addr),
        destination=Address(ton=pdu.dest_addr_ton, npi=pdu.dest_addr_npi,
                            addr=pdu.destination_addr),
        body=body, data_coding=pdu.data_coding, esm_class=pdu.esm_class,
        protocol_id=getattr(pdu, "protocol_id", 0),
        sar=(tlvs.sar_msg_ref_num, tlvs.sar_total_segments, tlvs.sar_segment_seqnum),
        connector=connector, received_at=now)
