"""SMPP 3.4 wire values: command ids, command statuses, TLV tags, message states.

Every value here is the literal number on the wire (SMPP v3.4 Issue 1.2).

Reading a member off its Enum class (`CommandStatus.ESME_ROK`) costs about 100 ns in
Python 3.11, five times a plain class attribute, because EnumType's `__getattr__` sends
every class attribute read through Python. Code that reads members per message binds
the ones it needs to module names once; a property of a member (`is_final`) is an
attribute set on each member instead (bench/profiles/smpp_e2e.md, "Enum members bound
once").
"""
from __future__ import annotations

from enum import IntEnum

HEADER_LENGTH = 16
RESPONSE_BIT = 0x80000000
INTERFACE_VERSION_34 = 0x34


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103

    @property
    def is_response(self) -> bool:
        return bool(self.value & RESPONSE_BIT)


class CommandStatus(IntEnum):
    """command_status values. The German seed's table misprints four of them
    (RINVDSTTON as 0x4a, RINVDSTNPI 0x4b, RINVSYSTYP 0x4d, RINVREPFLAG 0x4e);
    SMPP 3.4 and every real client use 0x50, 0x51, 0x53, 0x54, as here."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF
    # Vendor-specific (the seeds): the balance cannot cover the message.
    ESME_RINVBALANCE = 0x0000040B


class TlvKind(IntEnum):
    """How a TLV's value is encoded on the wire."""

    INT1 = 1
    INT2 = 2
    INT4 = 4
    CSTRING = 5  # NUL-terminated ASCII; the length includes the NUL
    OCTETS = 6
    EMPTY = 7  # presence is the value (alert_on_message_delivery)
    INT3 = 8  # network_error_code: type octet + 2-octet code, kept as bytes


class Tag(IntEnum):
    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


# tag -> (field name in pdu.Tlvs, kind, min value length, max value length)
TLV_SPECS: dict[int, tuple[str, TlvKind, int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: ("dest_addr_subunit", TlvKind.INT1, 1, 1),
    Tag.DEST_NETWORK_TYPE: ("dest_network_type", TlvKind.INT1, 1, 1),
    Tag.DEST_BEARER_TYPE: ("dest_bearer_type", TlvKind.INT1, 1, 1),
    Tag.DEST_TELEMATICS_ID: ("dest_telematics_id", TlvKind.INT2, 2, 2),
    Tag.SOURCE_ADDR_SUBUNIT: ("source_addr_subunit", TlvKind.INT1, 1, 1),
    Tag.SOURCE_NETWORK_TYPE: ("source_network_type", TlvKind.INT1, 1, 1),
    Tag.SOURCE_BEARER_TYPE: ("source_bearer_type", TlvKind.INT1, 1, 1),
    Tag.SOURCE_TELEMATICS_ID: ("source_telematics_id", TlvKind.INT1, 1, 1),
    Tag.QOS_TIME_TO_LIVE: ("qos_time_to_live", TlvKind.INT4, 4, 4),
    Tag.PAYLOAD_TYPE: ("payload_type", TlvKind.INT1, 1, 1),
    Tag.ADDITIONAL_STATUS_INFO_TEXT: ("additional_status_info_text", TlvKind.CSTRING, 1, 256),
    Tag.RECEIPTED_MESSAGE_ID: ("receipted_message_id", TlvKind.CSTRING, 1, 65),
    Tag.MS_MSG_WAIT_FACILITIES: ("ms_msg_wait_facilities", TlvKind.INT1, 1, 1),
    Tag.PRIVACY_INDICATOR: ("privacy_indicator", TlvKind.INT1, 1, 1),
    Tag.SOURCE_SUBADDRESS: ("source_subaddress", TlvKind.OCTETS, 2, 23),
    Tag.DEST_SUBADDRESS: ("dest_subaddress", TlvKind.OCTETS, 2, 23),
    Tag.USER_MESSAGE_REFERENCE: ("user_message_reference", TlvKind.INT2, 2, 2),
    Tag.USER_RESPONSE_CODE: ("user_response_code", TlvKind.INT1, 1, 1),
    Tag.SOURCE_PORT: ("source_port", TlvKind.INT2, 2, 2),
    Tag.DESTINATION_PORT: ("destination_port", TlvKind.INT2, 2, 2),
    Tag.SAR_MSG_REF_NUM: ("sar_msg_ref_num", TlvKind.INT2, 2, 2),
    Tag.LANGUAGE_INDICATOR: ("language_indicator", TlvKind.INT1, 1, 1),
    Tag.SAR_TOTAL_SEGMENTS: ("sar_total_segments", TlvKind.INT1, 1, 1),
    Tag.SAR_SEGMENT_SEQNUM: ("sar_segment_seqnum", TlvKind.INT1, 1, 1),
    Tag.SC_INTERFACE_VERSION: ("sc_interface_version", TlvKind.INT1, 1, 1),
    Tag.CALLBACK_NUM_PRES_IND: ("callback_num_pres_ind", TlvKind.INT1, 1, 1),
    Tag.CALLBACK_NUM_ATAG: ("callback_num_atag", TlvKind.OCTETS, 0, 65),
    Tag.NUMBER_OF_MESSAGES: ("number_of_messages", TlvKind.INT1, 1, 1),
    Tag.CALLBACK_NUM: ("callback_num", TlvKind.OCTETS, 4, 19),
    Tag.DPF_RESULT: ("dpf_result", TlvKind.INT1, 1, 1),
    Tag.SET_DPF: ("set_dpf", TlvKind.INT1, 1, 1),
    Tag.MS_AVAILABILITY_STATUS: ("ms_availability_status", TlvKind.INT1, 1, 1),
    Tag.NETWORK_ERROR_CODE: ("network_error_code", TlvKind.INT3, 3, 3),
    Tag.MESSAGE_PAYLOAD: ("message_payload", TlvKind.OCTETS, 0, 65535),
    Tag.DELIVERY_FAILURE_REASON: ("delivery_failure_reason", TlvKind.INT1, 1, 1),
    Tag.MORE_MESSAGES_TO_SEND: ("more_messages_to_send", TlvKind.INT1, 1, 1),
    Tag.MESSAGE_STATE: ("message_state", TlvKind.INT1, 1, 1),
    Tag.USSD_SERVICE_OP: ("ussd_service_op", TlvKind.INT1, 1, 1),
    Tag.DISPLAY_TIME: ("display_time", TlvKind.INT1, 1, 1),
    Tag.SMS_SIGNAL: ("sms_signal", TlvKind.INT2, 2, 2),
    Tag.MS_VALIDITY: ("ms_validity", TlvKind.INT1, 1, 1),
    Tag.ALERT_ON_MESSAGE_DELIVERY: ("alert_on_message_delivery", TlvKind.EMPTY, 0, 0),
    Tag.ITS_REPLY_TYPE: ("its_reply_type", TlvKind.INT1, 1, 1),
    Tag.ITS_SESSION_INFO: ("its_session_info", TlvKind.INT2, 2, 2),
}


class MessageState(IntEnum):
    """message_state values (query_sm_resp, the message_state TLV)."""

    SCHEDULED = 0  # not in 3.4's table; SMPP 5.0's value, used only inside smsgw
    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8

    is_final: bool  # set on each member below


    @property
    def receipt_stat(self) -> str:
        """The 7-letter `stat:` word of a delivery receipt."""
        return _RECEIPT_STAT[self]


# an attribute of each member, not a property (see the module's docstring): asked of every
# receipt and outcome
for _state in MessageState:
    _state.is_final = _state not in (MessageState.SCHEDULED, MessageState.ENROUTE)
del _state

# The final states as a set: `state in FINAL_STATES` also takes a plain int (an IntEnum
# hashes as its value) and costs a hash lookup, where MessageState(n).is_final costs an
# enum lookup first (the store's writer checks every finish of a batch).
FINAL_STATES: frozenset[MessageState] = frozenset(s for s in MessageState if s.is_final)


_RECEIPT_STAT = {
    MessageState.SCHEDULED: "SCHEDUL",
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
STATE_BY_RECEIPT_STAT = {stat: state for state, stat in _RECEIPT_STAT.items()}


class Ton(IntEnum):
    UNKNOWN = 0x00
    INTERNATIONAL = 0x01
    NATIONAL = 0x02
    NETWORK_SPECIFIC = 0x03
    SUBSCRIBER_NUMBER = 0x04
    ALPHANUMERIC = 0x05
    ABBREVIATED = 0x06


class Npi(IntEnum):
    UNKNOWN = 0x00
    ISDN = 0x01
    DATA = 0x03
    TELEX = 0x04
    LAND_MOBILE = 0x06
    NATIONAL = 0x08
    PRIVATE = 0x09
    ERMES = 0x0A
    INTERNET = 0x0E
    WAP_CLIENT_ID = 0x12


class DataCoding(IntEnum):
    DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38 here
    IA5 = 0x01
    BINARY_8BIT_A = 0x02
    LATIN1 = 0x03
    BINARY_8BIT = 0x04
    JIS = 0x05
    CYRILLIC = 0x06
    HEBREW = 0x07
    UCS2 = 0x08


# esm_class bits
ESM_MODE_MASK = 0x03
ESM_TYPE_MASK = 0x3C
ESM_TYPE_DELIVERY_RECEIPT = 0x04
ESM_GSM_FEATURES_MASK = 0xC0
ESM_UDHI = 0x40
ESM_REPLY_PATH = 0x80

# registered_delivery bits
REGDLV_RECEIPT_MASK = 0x03
REGDLV_RECEIPT_NONE = 0x00
REGDLV_RECEIPT_ALWAYS = 0x01
REGDLV_RECEIPT_ON_FAILURE = 0x02
REGDLV_SME_ACK_MASK = 0x0C
REGDLV_INTERMEDIATE = 0x10
