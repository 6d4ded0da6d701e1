"""One frozen dataclass per SMPP 3.4 PDU, fields named as in the specification.

Each class also declares `LAYOUT`, the ordered mandatory body fields the codec
reads and writes; optional parameters (TLVs) live in a typed `Tlvs` value.
C-octet strings are `str` (decoded as Latin-1, so any byte survives a round
trip); octet strings are `bytes`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import ClassVar, Union

from gateway.smpp.constants import CommandId
from gateway.smpp.frozen_init import fast_init


class F(Enum):
    """Kinds of mandatory body fields."""

    INT1 = 1
    INT4 = 4
    CSTRING = 5  # with a max length (NUL included) in the layout
    SHORT_MESSAGE = 6  # sm_length octet followed by that many octets
    DEST_ADDRESSES = 7  # submit_multi: number_of_dests + dest_address entries
    UNSUCCESS_SMES = 8  # submit_multi_resp: no_unsuccess + unsuccess_sme entries


Layout = tuple[tuple[str, F, int], ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Tlvs:
    """Optional parameters. None means absent. `unknown` keeps vendor TLVs verbatim."""

    dest_addr_subunit: int | None = None
    dest_network_type: int | None = None
    dest_bearer_type: int | None = None
    dest_telematics_id: int | None = None
    source_addr_subunit: int | None = None
    source_network_type: int | None = None
    source_bearer_type: int | None = None
    source_telematics_id: int | None = None
    qos_time_to_live: int | None = None
    payload_type: int | None = None
    additional_status_info_text: str | None = None
    receipted_message_id: str | None = None
    ms_msg_wait_facilities: int | None = None
    privacy_indicator: int | None = None
    source_subaddress: bytes | None = None
    dest_subaddress: bytes | None = None
    user_message_reference: int | None = None
    user_response_code: int | None = None
    source_port: int | None = None
    destination_port: int | None = None
    sar_msg_ref_num: int | None = None
    language_indicator: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    sc_interface_version: int | None = None
    callback_num_pres_ind: int | None = None
    callback_num_atag: bytes | None = None
    number_of_messages: int | None = None
    callback_num: bytes | None = None
    dpf_result: int | None = None
    set_dpf: int | None = None
    ms_availability_status: int | None = None
    network_error_code: bytes | None = None  # 3 octets: network type, 2-octet error code
    message_payload: bytes | None = None
    delivery_failure_reason: int | None = None
    more_messages_to_send: int | None = None
    message_state: int | None = None
    ussd_service_op: int | None = None
    display_time: int | None = None
    sms_signal: int | None = None
    ms_validity: int | None = None
    alert_on_message_delivery: bool | None = None
    its_reply_type: int | None = None
    its_session_info: int | None = None
    unknown: tuple[tuple[int, bytes], ...] = ()


NO_TLVS = Tlvs()
TLV_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Tlvs) if f.name != "unknown")


@dataclass(frozen=True, kw_only=True, slots=True)
class DestAddress:
    """One submit_multi destination: an SME address (dest_flag 1) or a list name (2)."""

    dest_flag: int = 1
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    dl_name: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class UnsuccessSme:
    """One submit_multi_resp entry for a destination that failed."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0




@dataclass(frozen=True, kw_only=True, slots=True)
class _Pdu:
    command_id: ClassVar[CommandId]
    LAYOUT: ClassVar[Layout] = ()
    sequence_number: int = 0
    command_status: int = 0
    tlvs: Tlvs = field(default=NO_TLVS, repr=False)


_BIND_LAYOUT: Layout = (
    ("system_id", F.CSTRING, 16),
    ("password", F.CSTRING, 9),
    ("system_type", F.CSTRING, 13),
    ("interface_version", F.INT1, 0),
    ("addr_ton", F.INT1, 0),
    ("addr_npi", F.INT1, 0),
    ("address_range", F.CSTRING, 41),
)
_BIND_RESP_LAYOUT: Layout = (("system_id", F.CSTRING, 16),)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Bind(_Pdu):
    LAYOUT: ClassVar[Layout] = _BIND_LAYOUT
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class BindTransmitter(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, kw_only=True, slots=True)
class BindReceiver(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER


@dataclass(frozen=True, kw_only=True, slots=True)
class BindTransceiver(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, kw_only=True, slots=True)
class _BindResp(_Pdu):
    LAYOUT: ClassVar[Layout] = _BIND_RESP_LAYOUT
    system_id: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class BindReceiverResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class Outbind(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.OUTBIND
    LAYOUT: ClassVar[Layout] = (("system_id", F.CSTRING, 16), ("password", F.CSTRING, 9))
    system_id: str = ""
    password: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Unbind(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.UNBIND


@dataclass(frozen=True, kw_only=True, slots=True)
class UnbindResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class EnquireLink(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, kw_only=True, slots=True)
class EnquireLinkResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class GenericNack(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


_SM_LAYOUT: Layout = (
    ("service_type", F.CSTRING, 6),
    ("source_addr_ton", F.INT1, 0),
    ("source_addr_npi", F.INT1, 0),
    ("source_addr", F.CSTRING, 21),
    ("dest_addr_ton", F.INT1, 0),
    ("dest_addr_npi", F.INT1, 0),
    ("destination_addr", F.CSTRING, 21),
    ("esm_class", F.INT1, 0),
    ("protocol_id", F.INT1, 0),
    ("priority_flag", F.INT1, 0),
    ("schedule_delivery_time", F.CSTRING, 17),
    ("validity_period", F.CSTRING, 17),
    ("registered_delivery", F.INT1, 0),
    ("replace_if_present_flag", F.INT1, 0),
    ("data_coding", F.INT1, 0),
    ("sm_default_msg_id", F.INT1, 0),
    ("short_message", F.SHORT_MESSAGE, 254),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class _ShortMessage(_Pdu):
    LAYOUT: ClassVar[Layout] = _SM_LAYOUT
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@fast_init  # one of each per message: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitSm(_ShortMessage):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM


@fast_init  # one of each per message: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class DeliverSm(_ShortMessage):
    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM


_MESSAGE_ID_LAYOUT: Layout = (("message_id", F.CSTRING, 65),)


@fast_init  # one of each per message: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitSmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP
    LAYOUT: ClassVar[Layout] = _MESSAGE_ID_LAYOUT
    message_id: str = ""


@fast_init  # one of each per message: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class DeliverSmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP
    LAYOUT: ClassVar[Layout] = _MESSAGE_ID_LAYOUT
    message_id: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class DataSm(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.DATA_SM
    LAYOUT: ClassVar[Layout] = (
        ("service_type", F.CSTRING, 6),
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 65),
        ("dest_addr_ton", F.INT1, 0),
        ("dest_addr_npi", F.INT1, 0),
        ("destination_addr", F.CSTRING, 65),
        ("esm_class", F.INT1, 0),
        ("registered_delivery", F.INT1, 0),
        ("data_coding", F.INT1, 0),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DataSmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.DATA_SM_RESP
    LAYOUT: ClassVar[Layout] = _MESSAGE_ID_LAYOUT
    message_id: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class QuerySm(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.QUERY_SM
    LAYOUT: ClassVar[Layout] = (
        ("message_id", F.CSTRING, 65),
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 21),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class QuerySmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.QUERY_SM_RESP
    LAYOUT: ClassVar[Layout] = (
        ("message_id", F.CSTRING, 65),
        ("final_date", F.CSTRING, 17),
        ("message_state", F.INT1, 0),
        ("error_code", F.INT1, 0),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelSm(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM
    LAYOUT: ClassVar[Layout] = (
        ("service_type", F.CSTRING, 6),
        ("message_id", F.CSTRING, 65),
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 21),
        ("dest_addr_ton", F.INT1, 0),
        ("dest_addr_npi", F.INT1, 0),
        ("destination_addr", F.CSTRING, 21),
    )
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelSmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplaceSm(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM
    LAYOUT: ClassVar[Layout] = (
        ("message_id", F.CSTRING, 65),
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 21),
        ("schedule_delivery_time", F.CSTRING, 17),
        ("validity_period", F.CSTRING, 17),
        ("registered_delivery", F.INT1, 0),
        ("sm_default_msg_id", F.INT1, 0),
        ("short_message", F.SHORT_MESSAGE, 254),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplaceSmResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM_RESP


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitMulti(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI
    LAYOUT: ClassVar[Layout] = (
        ("service_type", F.CSTRING, 6),
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 21),
        ("dest_addresses", F.DEST_ADDRESSES, 254),
        ("esm_class", F.INT1, 0),
        ("protocol_id", F.INT1, 0),
        ("priority_flag", F.INT1, 0),
        ("schedule_delivery_time", F.CSTRING, 17),
        ("validity_period", F.CSTRING, 17),
        ("registered_delivery", F.INT1, 0),
        ("replace_if_present_flag", F.INT1, 0),
        ("data_coding", F.INT1, 0),
        ("sm_default_msg_id", F.INT1, 0),
        ("short_message", F.SHORT_MESSAGE, 254),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addresses: tuple[DestAddress, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitMultiResp(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI_RESP
    LAYOUT: ClassVar[Layout] = (
        ("message_id", F.CSTRING, 65),
        ("unsuccess_smes", F.UNSUCCESS_SMES, 254),
    )
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertNotification(_Pdu):
    command_id: ClassVar[CommandId] = CommandId.ALERT_NOTIFICATION
    LAYOUT: ClassVar[Layout] = (
        ("source_addr_ton", F.INT1, 0),
        ("source_addr_npi", F.INT1, 0),
        ("source_addr", F.CSTRING, 65),
        ("esme_addr_ton", F.INT1, 0),
        ("esme_addr_npi", F.INT1, 0),
        ("esme_addr", F.CSTRING, 65),
    )
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""


Pdu = Union[
    BindTransmitter, BindReceiver, BindTransceiver,
    BindTransmitterResp, BindReceiverResp, BindTransceiverResp,
    Outbind, Unbind, UnbindResp, EnquireLink, EnquireLinkResp, GenericNack,
    SubmitSm, SubmitSmResp, DeliverSm, DeliverSmResp, DataSm, DataSmResp,
    QuerySm, QuerySmResp, CancelSm, CancelSmResp, ReplaceSm, ReplaceSmResp,
    SubmitMulti, SubmitMultiResp, AlertNotification,
]

ALL_PDU_CLASSES: tuple[type, ...] = Pdu.__args__  # type: ignore[attr-defined]
PDU_CLASS_BY_COMMAND_ID: dict[int, type] = {cls.command_id: cls for cls in ALL_PDU_CLASSES}

# request class -> its response class (outbind and alert_notification have none)
RESPONSE_CLASS: dict[type, type] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
    Unbind: UnbindResp,
    EnquireLink: EnquireLinkResp,
    SubmitSm: SubmitSmResp,
    DeliverSm: DeliverSmResp,
    DataSm: DataSmResp,
    QuerySm: QuerySmResp,
    CancelSm: CancelSmResp,
    ReplaceSm: ReplaceSmResp,
    SubmitMulti: SubmitMultiResp,
}

BIND_CLASSES = (BindTransmitter, BindReceiver, BindTransceiver)
