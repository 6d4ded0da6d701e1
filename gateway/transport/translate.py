"""Translation between SMPP PDUs and the core's transport-neutral types."""
from __future__ import annotations

from gateway.core.validation import SubmitRejected
from gateway.model import NO_ADDRESS, OutboxItem, SubmitRequest, copy_address
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.smpp.frozen_init import fast_replace

MAX_SHORT_MESSAGE = 254

# A deliver_sm's TLVs, absent but for these four: a copy of NO_TLVS, without the cost of
# Tlvs' 45-field frozen constructor or of make_tlvs' keyword loop.
_with_receipt_tlvs = fast_replace(
    P.Tlvs, "receipted_message_id", "message_state", "network_error_code", "message_payload")
# The deliver_sm itself: a blank one with the fields an outbox item gives it (one per
# receipt or MO part sent, where 10 keywords to the constructor cost more).
_BLANK_DELIVER_SM = P.DeliverSm()
_deliver_sm = fast_replace(
    P.DeliverSm, "source_addr_ton", "source_addr_npi", "source_addr", "dest_addr_ton",
    "dest_addr_npi", "destination_addr", "esm_class", "data_coding", "short_message", "tlvs")
# A submit_sm's request (one per submit_sm): a blank SMPP one with every field a submit_sm
# carries replaced, where 15 keywords to the constructor and 3 to each Address cost more.
_BLANK_SMPP_REQUEST = SubmitRequest(
    source=NO_ADDRESS, destination=NO_ADDRESS, body=b"", transport="smpp")
_smpp_request = fast_replace(
    SubmitRequest, "source", "destination", "body", "data_coding", "esm_class", "protocol_id",
    "priority", "registered_delivery", "schedule_delivery_time", "validity_period",
    "service_type", "from_payload", "sar", "replace_if_present")


def submit_request_from(pdu: P.SubmitSm) -> SubmitRequest:
    """A submit_sm as the router sees it; raises SubmitRejected for an unusable body."""
    tlvs = pdu.tlvs
    payload = tlvs.message_payload
    if payload is not None and pdu.short_message:
        # SMPP 3.4 §5.3.2.32: short_message and message_payload are mutually exclusive
        raise SubmitRejected(
            CommandStatus.ESME_RINVOPTPARAMVAL,
            "message_payload given together with a non-empty short_message", "message_payload")
    return _smpp_request(
        _BLANK_SMPP_REQUEST,
        copy_address(NO_ADDRESS, pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr),
        copy_address(NO_ADDRESS, pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr),
        payload if payload is not None else pdu.short_message, pdu.data_coding,
        pdu.esm_class, pdu.protocol_id, pdu.priority_flag, pdu.registered_delivery,
        pdu.schedule_delivery_time, pdu.validity_period, pdu.service_type, payload is not None,
        (tlvs.sar_msg_ref_num, tlvs.sar_total_segments, tlvs.sar_segment_seqnum),
        pdu.replace_if_present_flag)


def deliver_sm_for(item: OutboxItem) -> P.DeliverSm:
    """The deliver_sm that carries a receipt (or MO) from the outbox to the customer."""
    long_body = len(item.body) > MAX_SHORT_MESSAGE
    tlvs = _with_receipt_tlvs(P.NO_TLVS, item.message_id or None, item.message_state,
                              item.network_error_code, item.body if long_body else None)
    source, destination = item.source, item.destination
    return _deliver_sm(_BLANK_DELIVER_SM, source.ton, source.npi, source.addr,
                       destination.ton, destination.npi, destination.addr, item.esm_class,
                       item.data_coding, b"" if long_body else item.body, tlvs)
