"""SMSC side of cancel_sm, replace_sm, submit_multi and data_sm: PDU in, core call, _resp out.

Thin like the rest of the transport: the rules live in core/operations.py and the single
submit path (`Router.submit`); this module translates and answers. `HANDLERS` maps each
PDU class to its handler, which `SmscProtocol.request_received` dispatches to.

submit_multi: every SME destination becomes one message of its own (its own id, price and
receipt) through `Router.submit`; SMPP's submit_multi_resp carries one message_id, the id
of the FIRST destination accepted; destinations refused (invalid address, balance, a
distribution list: smsgw keeps none, ESME_RINVDLNAME) are listed in unsuccess_sme with
their status. When none is accepted the response's command_status is the first error.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from gateway.core.operations import ReplaceRequest
from gateway.core.validation import SubmitRejected
from gateway.model import Address, Message
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.transport.translate import submit_request_from

if TYPE_CHECKING:
    from gateway.transport.smpp_server import SmscProtocol

__all__ = ["HANDLERS"]

log = Logger()

DEST_SME = 1


def _status_of(failure: Failure, what: str, protocol: SmscProtocol) -> int:
    if failure.check(SubmitRejected):
        return failure.value.status
    log.failure("{what} from {account} failed", failure, what=what, account=protocol.account)
    return CommandStatus.ESME_RSYSERR


def _count(protocol: SmscProtocol, statuses: list[int]) -> None:
    """The submits metric: one answer per message (0 = accepted)."""
    metrics = protocol.server.metrics
    if metrics is None:
        return
    for status in statuses:
        if status:
            metrics.submit_refused("smpp", status)
        else:
            metrics.smpp_accepted(protocol.account, 1)


# --- cancel_sm ---------------------------------------------------------------------------------
def cancel_sm(protocol: SmscProtocol, pdu: P.CancelSm) -> None:
    seq = pdu.sequence_number
    d = protocol.server.router.operations.cancel(
        protocol.account_settings, pdu.message_id, pdu.source_addr, pdu.destination_addr)
    d.addCallbacks(
        lambda _: protocol.send_response(P.CancelSmResp(sequence_number=seq)),
        lambda f: protocol.send_response(P.CancelSmResp(
            sequence_number=seq, command_status=_status_of(f, "cancel_sm", protocol))))


# --- replace_sm --------------------------------------------------------------------------------
def replace_sm(protocol: SmscProtocol, pdu: P.ReplaceSm) -> None:
    seq = pdu.sequence_number
    request = ReplaceRequest(
        message_id=pdu.message_id,
        source_addr=pdu.source_addr,
        body=pdu.short_message,
        schedule_delivery_time=pdu.schedule_delivery_time,
        validity_period=pdu.validity_period,
        registered_delivery=pdu.registered_delivery,
    )  # sm_default_msg_id: smsgw has no canned messages, so it is ignored
    d = protocol.server.router.operations.replace(protocol.account_settings, request)
    d.addCallbacks(
        lambda _: protocol.send_response(P.ReplaceSmResp(sequence_number=seq)),
        lambda f: protocol.send_response(P.ReplaceSmResp(
            sequence_number=seq, command_status=_status_of(f, "replace_sm", protocol))))


# --- data_sm -----------------------------------------------------------------------------------
def data_sm(protocol: SmscProtocol, pdu: P.DataSm) -> None:
    """A data_sm from the customer is a submit whose body is message_payload (or empty)."""
    seq = pdu.sequence_number

    def refuse(status: int) -> None:
        protocol.send_response(P.DataSmResp(sequence_number=seq, command_status=status))
        _count(protocol, [status])

    def accepted(message: Message) -> None:
        protocol.send_response(P.DataSmResp(sequence_number=seq, message_id=message.id))
        _count(protocol, [0])

    status = protocol.admission.admit()
    if status:
        refuse(status)
        return
    try:
        request = submit_request_from(P.SubmitSm(
            service_type=pdu.service_type,
            source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
            source_addr=pdu.source_addr,
            dest_addr_ton=pdu.dest_addr_ton, dest_addr_npi=pdu.dest_addr_npi,
            destination_addr=pdu.destination_addr,
            esm_class=pdu.esm_class, registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding, tlvs=pdu.tlvs))
    except SubmitRejected as rejected:
        refuse(rejected.status)
        return
    d = protocol.admission.track(
        protocol.server.router.submit(protocol.account_settings, request))
    d.addCallbacks(accepted, lambda f: refuse(_status_of(f, "data_sm", protocol)))


# --- submit_multi ------------------------------------------------------------------------------
def submit_multi(protocol: SmscProtocol, pdu: P.SubmitMulti) -> None:
    seq = pdu.sequence_number

    def refuse(status: int) -> None:
        protocol.send_response(P.SubmitMultiResp(sequence_number=seq, command_status=status))
        _count(protocol, [status])

    def answered(outcomes: list[Message | SubmitRejected]) -> None:
        protocol.send_response(_multi_response(seq, pdu.dest_addresses, outcomes))
        _count(protocol, [o.status if isinstance(o, SubmitRejected) else 0 for o in outcomes])

    status = protocol.admission.admit()
    if status:
        refuse(status)
        return
    if not pdu.dest_addresses:  # the codec refuses 0 already; a hand-built PDU may not
        refuse(CommandStatus.ESME_RINVNUMDESTS)
        return
    try:
        base = submit_request_from(_as_submit_sm(pdu))
    except SubmitRejected as rejected:
        refuse(rejected.status)
        return
    requests = [
        dataclasses.replace(base, destination=Address(
            ton=dest.dest_addr_ton, npi=dest.dest_addr_npi, addr=dest.destination_addr))
        for dest in pdu.dest_addresses if dest.dest_flag == DEST_SME
    ]
    d = protocol.admission.track(
        protocol.server.router.operations.submit_multi(protocol.account_settings, requests))
    d.addCallbacks(answered, lambda f: refuse(_status_of(f, "submit_multi", protocol)))


def _as_submit_sm(pdu: P.SubmitMulti) -> P.SubmitSm:
    """The submit_sm each destination amounts to, without its destination."""
    fields = {f.name: getattr(pdu, f.name) for f in dataclasses.fields(pdu)
              if f.name != "dest_addresses"}
    return P.SubmitSm(**fields)


def _multi_response(
    seq: int, dests: tuple[P.DestAddress, ...], outcomes: list[Message | SubmitRejected]
) -> P.SubmitMultiResp:
    """submit_multi_resp: the first accepted id, and an unsuccess_sme per refused destination,
    in the order the customer listed them."""
    first_id = ""
    unsuccess: list[P.UnsuccessSme] = []
    results = iter(outcomes)
    for dest in dests:
        if dest.dest_flag != DEST_SME:
            unsuccess.append(P.UnsuccessSme(
                destination_addr=dest.dl_name[:20],
                error_status_code=CommandStatus.ESME_RINVDLNAME))
            continue
        outcome = next(results)
        if isinstance(outcome, SubmitRejected):
            unsuccess.append(P.UnsuccessSme(
                dest_addr_ton=dest.dest_addr_ton, dest_addr_npi=dest.dest_addr_npi,
                destination_addr=dest.destination_addr, error_status_code=outcome.status))
        elif not first_id:
            first_id = outcome.id
    status = 0 if first_id else unsuccess[0].error_status_code
    return P.SubmitMultiResp(sequence_number=seq, command_status=status,
                             message_id=first_id, unsuccess_smes=tuple(unsuccess))


HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    P.CancelSm: cancel_sm,
    P.ReplaceSm: replace_sm,
    P.DataSm: data_sm,
    P.SubmitMulti: submit_multi,
}
