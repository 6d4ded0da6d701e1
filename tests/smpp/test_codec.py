"""Golden SMPP 3.4 vectors, written out by hand from the spec's layouts, tested both ways.

Each vector is one whole frame: the 16-octet header (command_length,
command_id, command_status, sequence_number, big-endian) and the body, one
line per field. `encode(pdu) == frame`, `decode(frame) == pdu`, and the
frames fed one byte at a time through a Framer come out whole and in order.
"""
from __future__ import annotations

import dataclasses

import pytest

from gateway.smpp.codec import decode, decode_header, encode
from gateway.smpp.constants import CommandId, CommandStatus, MessageState
from gateway.smpp.errors import FramingError, PduError
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import (
    NO_TLVS,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)

RECEIPT = (
    b"id:a1b2c3d4e5 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201"
    b" stat:DELIVRD err:000 text:Hello World"
)
SC_34 = Tlvs(sc_interface_version=0x34)

GOLDEN = [
    pytest.param(
        BindTransmitter(sequence_number=1, system_id="smppclient1", password="password"),
        "0000002a 00000002 00000000 00000001"  # length 42, bind_transmitter, ROK, seq 1
        "736d7070636c69656e7431 00"  # system_id "smppclient1"
        "70617373776f7264 00"  # password "password"
        "00"  # system_type ""
        "34"  # interface_version 3.4
        "00 00"  # addr_ton, addr_npi
        "00",  # address_range ""
        id="bind_transmitter",
    ),
    pytest.param(
        BindReceiver(
            sequence_number=2, system_id="rx", password="pw", system_type="SMPP",
            addr_ton=1, addr_npi=1, address_range="^49",
        ),
        "00000022 00000001 00000000 00000002"  # length 34, bind_receiver
        "7278 00"  # system_id "rx"
        "7077 00"  # password "pw"
        "534d5050 00"  # system_type "SMPP"
        "34"  # interface_version
        "01 01"  # addr_ton international, addr_npi ISDN
        "5e3439 00",  # address_range "^49"
        id="bind_receiver",
    ),
    pytest.param(
        BindTransceiver(sequence_number=3, system_id="trx", password="secret"),
        "00000020 00000009 00000000 00000003"  # length 32, bind_transceiver
        "747278 00"  # system_id "trx"
        "736563726574 00"  # password "secret"
        "00"  # system_type ""
        "34 00 00"  # interface_version, addr_ton, addr_npi
        "00",  # address_range ""
        id="bind_transceiver",
    ),
    pytest.param(
        BindTransmitterResp(sequence_number=1, system_id="smsgw", tlvs=SC_34),
        "0000001b 80000002 00000000 00000001"  # length 27, bind_transmitter_resp
        "736d736777 00"  # system_id "smsgw"
        "0210 0001 34",  # TLV sc_interface_version = 0x34
        id="bind_transmitter_resp",
    ),
    pytest.param(
        BindReceiverResp(sequence_number=2, system_id="smsgw", tlvs=SC_34),
        "0000001b 80000001 00000000 00000002"  # length 27, bind_receiver_resp
        "736d736777 00"  # system_id "smsgw"
        "0210 0001 34",  # sc_interface_version
        id="bind_receiver_resp",
    ),
    pytest.param(
        BindTransceiverResp(sequence_number=3, system_id="smsgw", tlvs=SC_34),
        "0000001b 80000009 00000000 00000003"  # length 27, bind_transceiver_resp
        "736d736777 00"  # system_id "smsgw"
        "0210 0001 34",  # sc_interface_version
        id="bind_transceiver_resp",
    ),
    pytest.param(
        BindTransmitterResp(sequence_number=4, command_status=CommandStatus.ESME_RINVPASWD),
        "00000010 80000002 0000000e 00000004",  # header only: error response, no body
        id="bind_transmitter_resp_error_no_body",
    ),
    pytest.param(
        Unbind(sequence_number=5),
        "00000010 00000006 00000000 00000005",
        id="unbind",
    ),
    pytest.param(
        UnbindResp(sequence_number=5),
        "00000010 80000006 00000000 00000005",
        id="unbind_resp",
    ),
    pytest.param(
        EnquireLink(sequence_number=6),
        "00000010 00000015 00000000 00000006",
        id="enquire_link",
    ),
    pytest.param(
        EnquireLinkResp(sequence_number=6),
        "00000010 80000015 00000000 00000006",
        id="enquire_link_resp",
    ),
    pytest.param(
        GenericNack(sequence_number=7, command_status=CommandStatus.ESME_RINVCMDID),
        "00000010 80000000 00000003 00000007",  # generic_nack, ESME_RINVCMDID
        id="generic_nack",
    ),
    pytest.param(
        SubmitSm(
            sequence_number=8, source_addr_ton=5, source_addr="smsgw", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4915112345678", registered_delivery=1,
            short_message=b"Hello World",
        ),
        "0000003e 00000004 00000000 00000008"  # length 62, submit_sm
        "00"  # service_type ""
        "05 00"  # source_addr_ton alphanumeric, source_addr_npi unknown
        "736d736777 00"  # source_addr "smsgw"
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr "4915112345678"
        "00 00 00"  # esm_class, protocol_id, priority_flag
        "00"  # schedule_delivery_time ""
        "00"  # validity_period ""
        "01 00 00 00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        "0b"  # sm_length 11
        "48656c6c6f20576f726c64",  # "Hello World"
        id="submit_sm",
    ),
    pytest.param(
        SubmitSm(
            sequence_number=9, service_type="CMT", source_addr_ton=1, source_addr_npi=1,
            source_addr="12345", dest_addr_ton=1, dest_addr_npi=1,
            destination_addr="4915112345678", esm_class=0x40,
            validity_period="000001000000000R", registered_delivery=1,
            short_message=bytes.fromhex("0500032a0201") + b"Part one",
        ),
        "00000054 00000004 00000000 00000009"  # length 84, submit_sm
        "434d54 00"  # service_type "CMT"
        "01 01"  # source_addr_ton, source_addr_npi
        "3132333435 00"  # source_addr "12345"
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr
        "40 00 00"  # esm_class UDHI, protocol_id, priority_flag
        "00"  # schedule_delivery_time ""
        "30303030303130303030303030303052 00"  # validity_period "000001000000000R" (1 day)
        "01 00 00 00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        "0e"  # sm_length 14
        "05 00 03 2a 02 01"  # UDH: concatenation, 8-bit ref 0x2a, 2 parts, part 1
        "5061727420 6f6e65",  # "Part one"
        id="submit_sm_udh",
    ),
    pytest.param(
        SubmitSm(
            sequence_number=10, source_addr_ton=5, source_addr="smsgw", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4915112345678", data_coding=8,
            tlvs=Tlvs(message_payload=bytes.fromhex("00480069")),
        ),
        "0000003b 00000004 00000000 0000000a"  # length 59, submit_sm
        "00"  # service_type
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr "smsgw"
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr
        "00 00 00"  # esm_class, protocol_id, priority_flag
        "00 00"  # schedule_delivery_time, validity_period
        "00 00 08 00"  # registered_delivery, replace_if_present, data_coding UCS2, default id
        "00"  # sm_length 0: the text is in message_payload
        "0424 0004 00480069",  # TLV message_payload, UCS2 "Hi"
        id="submit_sm_message_payload",
    ),
    pytest.param(
        SubmitSm(
            sequence_number=11, source_addr_ton=5, source_addr="smsgw", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4915112345678", registered_delivery=1,
            short_message=b"Part one",
            tlvs=Tlvs(sar_msg_ref_num=0x1234, sar_total_segments=2, sar_segment_seqnum=1),
        ),
        "0000004b 00000004 00000000 0000000b"  # length 75, submit_sm
        "00"  # service_type
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr "smsgw"
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr
        "00 00 00"  # esm_class, protocol_id, priority_flag
        "00 00"  # schedule_delivery_time, validity_period
        "01 00 00 00"  # registered_delivery, replace_if_present, data_coding, default id
        "08"  # sm_length 8
        "50617274206f6e65"  # "Part one"
        "020c 0002 1234"  # TLV sar_msg_ref_num 0x1234
        "020e 0001 02"  # TLV sar_total_segments 2
        "020f 0001 01",  # TLV sar_segment_seqnum 1
        id="submit_sm_sar",
    ),
    pytest.param(
        SubmitSmResp(sequence_number=8, message_id="a1b2c3d4e5"),
        "0000001b 80000004 00000000 00000008"  # length 27, submit_sm_resp
        "61316232633364346535 00",  # message_id "a1b2c3d4e5"
        id="submit_sm_resp",
    ),
    pytest.param(
        SubmitSmResp(sequence_number=9, command_status=CommandStatus.ESME_RINVBALANCE),
        "00000010 80000004 0000040b 00000009",  # error: SMPP 3.4 returns no body
        id="submit_sm_resp_error_no_body",
    ),
    pytest.param(
        DeliverSm(
            sequence_number=12, source_addr_ton=1, source_addr_npi=1,
            source_addr="4915112345678", dest_addr_ton=5, destination_addr="smsgw",
            esm_class=0x04, short_message=RECEIPT,
            tlvs=Tlvs(
                receipted_message_id="a1b2c3d4e5", network_error_code=b"\x03\x00\x00",
                message_state=MessageState.DELIVERED,
            ),
        ),
        "000000bf 00000005 00000000 0000000c"  # length 191, deliver_sm
        "00"  # service_type
        "01 01"  # source_addr_ton, source_addr_npi
        "34393135313132333435363738 00"  # source_addr "4915112345678"
        "05 00"  # dest_addr_ton, dest_addr_npi
        "736d736777 00"  # destination_addr "smsgw"
        "04 00 00"  # esm_class delivery receipt, protocol_id, priority_flag
        "00 00"  # schedule_delivery_time, validity_period
        "00 00 00 00"  # registered_delivery, replace_if_present, data_coding, default id
        "71"  # sm_length 113
        "69643a61316232633364346535207375"  # "id:a1b2c3d4e5 su"
        "623a30303120646c7672643a30303120"  # "b:001 dlvrd:001 "
        "7375626d697420646174653a32343031"  # "submit date:2401"
        "30313132303020646f6e652064617465"  # "011200 done date"
        "3a323430313031313230312073746174"  # ":2401011201 stat"
        "3a44454c49565244206572723a303030"  # ":DELIVRD err:000"
        "20746578743a48656c6c6f20576f726c"  # " text:Hello Worl"
        "64"  # "d"
        "001e 000b 61316232633364346535 00"  # TLV receipted_message_id "a1b2c3d4e5"
        "0423 0003 03 0000"  # TLV network_error_code: GSM, error 0
        "0427 0001 02",  # TLV message_state DELIVERED
        id="deliver_sm_receipt",
    ),
    pytest.param(
        DeliverSmResp(sequence_number=12),
        "00000011 80000005 00000000 0000000c"  # length 17, deliver_sm_resp
        "00",  # message_id "" (unused)
        id="deliver_sm_resp",
    ),
    pytest.param(
        QuerySm(sequence_number=13, message_id="a1b2c3d4e5", source_addr_ton=5,
                source_addr="smsgw"),
        "00000023 00000003 00000000 0000000d"  # length 35, query_sm
        "61316232633364346535 00"  # message_id
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00",  # source_addr
        id="query_sm",
    ),
    pytest.param(
        QuerySmResp(sequence_number=13, message_id="a1b2c3d4e5", final_date="240101120100000+",
                    message_state=MessageState.DELIVERED),
        "0000002e 80000003 00000000 0000000d"  # length 46, query_sm_resp
        "61316232633364346535 00"  # message_id
        "3234303130313132303130303030302b 00"  # final_date "240101120100000+"
        "02"  # message_state DELIVERED
        "00",  # error_code
        id="query_sm_resp",
    ),
    pytest.param(
        CancelSm(sequence_number=14, message_id="a1b2c3d4e5", source_addr_ton=5,
                 source_addr="smsgw", dest_addr_ton=1, dest_addr_npi=1,
                 destination_addr="4915112345678"),
        "00000034 00000008 00000000 0000000e"  # length 52, cancel_sm
        "00"  # service_type
        "61316232633364346535 00"  # message_id
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00",  # destination_addr
        id="cancel_sm",
    ),
    pytest.param(
        CancelSmResp(sequence_number=14),
        "00000010 80000008 00000000 0000000e",
        id="cancel_sm_resp",
    ),
    pytest.param(
        ReplaceSm(sequence_number=15, message_id="a1b2c3d4e5", source_addr_ton=5,
                  source_addr="smsgw", registered_delivery=1, short_message=b"New text"),
        "00000030 00000007 00000000 0000000f"  # length 48, replace_sm
        "61316232633364346535 00"  # message_id
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr
        "00 00"  # schedule_delivery_time, validity_period
        "01 00"  # registered_delivery, sm_default_msg_id
        "08"  # sm_length
        "4e657720 74657874",  # "New text"
        id="replace_sm",
    ),
    pytest.param(
        ReplaceSmResp(sequence_number=15),
        "00000010 80000007 00000000 0000000f",
        id="replace_sm_resp",
    ),
    pytest.param(
        SubmitMulti(
            sequence_number=16, source_addr_ton=5, source_addr="smsgw",
            dest_addresses=(
                DestAddress(dest_flag=1, dest_addr_ton=1, dest_addr_npi=1,
                            destination_addr="4915112345678"),
                DestAddress(dest_flag=2, dl_name="friends"),
            ),
            short_message=b"Hi",
        ),
        "00000040 00000021 00000000 00000010"  # length 64, submit_multi
        "00"  # service_type
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr
        "02"  # number_of_dests
        "01 01 01 34393135313132333435363738 00"  # SME address: flag, ton, npi, addr
        "02 66726965 6e6473 00"  # distribution list: flag, dl_name "friends"
        "00 00 00"  # esm_class, protocol_id, priority_flag
        "00 00"  # schedule_delivery_time, validity_period
        "00 00 00 00"  # registered_delivery, replace_if_present, data_coding, default id
        "02 4869",  # sm_length 2, "Hi"
        id="submit_multi",
    ),
    pytest.param(
        SubmitMultiResp(
            sequence_number=16, message_id="a1b2c3d4e5",
            unsuccess_smes=(UnsuccessSme(
                dest_addr_ton=1, dest_addr_npi=1, destination_addr="4915112345679",
                error_status_code=CommandStatus.ESME_RINVDSTADR),),
        ),
        "00000030 80000021 00000000 00000010"  # length 48, submit_multi_resp
        "61316232633364346535 00"  # message_id
        "01"  # no_unsuccess
        "01 01 34393135313132333435363739 00"  # ton, npi, destination_addr "4915112345679"
        "0000000b",  # error_status_code ESME_RINVDSTADR
        id="submit_multi_resp",
    ),
    pytest.param(
        DataSm(sequence_number=17, source_addr_ton=5, source_addr="smsgw", dest_addr_ton=1,
               dest_addr_npi=1, destination_addr="4915112345678", registered_delivery=1,
               tlvs=Tlvs(message_payload=b"Hello")),
        "00000035 00000103 00000000 00000011"  # length 53, data_sm
        "00"  # service_type
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr
        "00 01 00"  # esm_class, registered_delivery, data_coding
        "0424 0005 48656c6c6f",  # TLV message_payload "Hello"
        id="data_sm",
    ),
    pytest.param(
        DataSmResp(sequence_number=17, message_id="a1b2c3d4e5"),
        "0000001b 80000103 00000000 00000011"  # length 27, data_sm_resp
        "61316232633364346535 00",  # message_id
        id="data_sm_resp",
    ),
    pytest.param(
        Outbind(sequence_number=18, system_id="smsgw", password="pw"),
        "00000019 0000000b 00000000 00000012"  # length 25, outbind
        "736d736777 00"  # system_id
        "7077 00",  # password
        id="outbind",
    ),
    pytest.param(
        AlertNotification(sequence_number=19, source_addr_ton=1, source_addr_npi=1,
                          source_addr="4915112345678", esme_addr_ton=5, esme_addr="smsgw",
                          tlvs=Tlvs(ms_availability_status=0)),
        "0000002d 00000102 00000000 00000013"  # length 45, alert_notification
        "01 01"  # source_addr_ton, source_addr_npi
        "34393135313132333435363738 00"  # source_addr
        "05 00"  # esme_addr_ton, esme_addr_npi
        "736d736777 00"  # esme_addr
        "0422 0001 00",  # TLV ms_availability_status available
        id="alert_notification",
    ),
    pytest.param(
        SubmitSm(
            sequence_number=20, source_addr_ton=5, source_addr="smsgw", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4915112345678", short_message=b"Hi",
            tlvs=Tlvs(user_message_reference=7, unknown=((0x1400, b"ab"), (0x1401, b""))),
        ),
        "00000045 00000004 00000000 00000014"  # length 69, submit_sm
        "00"  # service_type
        "05 00"  # source_addr_ton, source_addr_npi
        "736d736777 00"  # source_addr
        "01 01"  # dest_addr_ton, dest_addr_npi
        "34393135313132333435363738 00"  # destination_addr
        "00 00 00 00 00"  # esm_class, protocol_id, priority_flag, schedule, validity
        "00 00 00 00"  # registered_delivery, replace_if_present, data_coding, default id
        "02 4869"  # sm_length 2, "Hi"
        "0204 0002 0007"  # TLV user_message_reference 7
        "1400 0002 6162"  # vendor TLV 0x1400 "ab", kept verbatim
        "1401 0000",  # vendor TLV 0x1401, empty
        id="submit_sm_vendor_tlv",
    ),
]


def golden(name: str) -> tuple:
    """(pdu, frame) of the golden vector with that id."""
    param = next(p for p in GOLDEN if p.id == name)
    return param.values[0], bytes.fromhex(param.values[1])


@pytest.mark.parametrize(("pdu", "frame_hex"), GOLDEN)
def test_encode_matches_the_golden_frame(pdu, frame_hex):
    assert encode(pdu).hex() == bytes.fromhex(frame_hex).hex()


@pytest.mark.parametrize(("pdu", "frame_hex"), GOLDEN)
def test_decode_of_the_golden_frame_gives_the_pdu(pdu, frame_hex):
    decoded = decode(bytes.fromhex(frame_hex))
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert decoded.tlvs == pdu.tlvs


@pytest.mark.parametrize(("pdu", "frame_hex"), GOLDEN)
def test_golden_frame_header_is_consistent(pdu, frame_hex):
    frame = bytes.fromhex(frame_hex)
    length, command_id, status, sequence = decode_header(frame)
    assert (length, command_id, status, sequence) == (
        len(frame), pdu.command_id, pdu.command_status, pdu.sequence_number)


def test_golden_frames_fed_byte_by_byte_come_out_whole_and_in_order():
    frames = [bytes.fromhex(p.values[1]) for p in GOLDEN]
    framer = Framer()
    out = []
    for byte in b"".join(frames):
        out += framer.feed(bytes((byte,)))
    assert out == frames
    assert framer.pending == 0
    assert [decode(f) for f in out] == [p.values[0] for p in GOLDEN]


def test_golden_frames_fed_in_one_chunk_come_out_whole_and_in_order():
    frames = [bytes.fromhex(p.values[1]) for p in GOLDEN]
    assert Framer().feed(b"".join(frames)) == frames


def test_golden_table_covers_every_command():
    assert {p.values[0].command_id for p in GOLDEN} == set(CommandId)


def test_decoded_pdu_is_a_real_frozen_instance():
    pdu = decode(golden("submit_sm")[1])
    assert type(pdu) is SubmitSm
    assert isinstance(hash(pdu), int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pdu.source_addr = "x"  # type: ignore[misc]
    assert dataclasses.replace(pdu, source_addr="x").source_addr == "x"
    assert pdu.tlvs is NO_TLVS



def test_keyword_constructor_fallback_decodes_like_the_fast_path(monkeypatch):
    from gateway.smpp import codec

    for param in GOLDEN:
        pdu, wire = param.values[0], bytes.fromhex(param.values[1])
        cls = type(pdu)
        if len(wire) == 16 and cls.LAYOUT:
            continue  # body-less error responses never reach the per-class decoder
        monkeypatch.setitem(codec._TWINS, cls, None)
        slow = codec._compile(codec._decoder_source(cls), "decode", cls)
        assert "_cls(sequence_number=seq" in codec._decoder_source(cls)
        _, _, status, sequence = decode_header(wire)
        assert slow(wire, len(wire), status, sequence) == pdu


def test_mutable_twin_declines_classes_with_post_init():
    from gateway.smpp.tlv import mutable_twin

    @dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
    class Checked:
        value: int = 0

        def __post_init__(self) -> None:
            pass

    assert mutable_twin(Checked) is None
    assert mutable_twin(SubmitSm) is not None

# -- liberal decoding --------------------------------------------------------------------

def frame(command_id: int, body_hex: str = "", status: int = 0, sequence: int = 42) -> bytes:
    body = bytes.fromhex(body_hex)
    return (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big") + \
        status.to_bytes(4, "big") + sequence.to_bytes(4, "big") + body


SUBMIT_SM_BODY = (
    "00 05 00 736d736777 00 01 01 34393135313132333435363738 00"
    "00 00 00 00 00 01 00 00 00 02 4869"
)


def test_bind_resp_without_body_and_status_ok_is_accepted():
    pdu = decode(frame(CommandId.BIND_TRANSCEIVER_RESP))
    assert pdu == BindTransceiverResp(sequence_number=42)


@pytest.mark.parametrize("command_id", [
    CommandId.SUBMIT_SM_RESP, CommandId.DELIVER_SM_RESP, CommandId.DATA_SM_RESP,
    CommandId.QUERY_SM_RESP, CommandId.SUBMIT_MULTI_RESP, CommandId.BIND_RECEIVER_RESP,
])
def test_error_response_without_body_decodes_with_defaults(command_id):
    pdu = decode(frame(command_id, status=CommandStatus.ESME_RSYSERR))
    assert pdu.command_status == CommandStatus.ESME_RSYSERR
    assert pdu.sequence_number == 42
    assert pdu == type(pdu)(sequence_number=42, command_status=CommandStatus.ESME_RSYSERR)


def test_error_response_with_a_body_keeps_it():
    pdu = decode(frame(CommandId.SUBMIT_SM_RESP, "616263 00", status=0x45))
    assert pdu == SubmitSmResp(sequence_number=42, command_status=0x45, message_id="abc")
    assert encode(pdu) == frame(CommandId.SUBMIT_SM_RESP, "616263 00", status=0x45)


def test_tlvs_in_any_order_are_accepted_and_re_encoded_in_table_order():
    wire = frame(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "1400 0001 ff 0427 0001 02 001e 0002 6100")
    pdu = decode(wire)
    assert pdu.tlvs == Tlvs(receipted_message_id="a", message_state=2, unknown=((0x1400, b"\xff"),))
    assert encode(pdu) == frame(
        CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "001e 0002 6100 0427 0001 02 1400 0001 ff")


def test_repeated_standard_tlv_keeps_the_last_value():
    pdu = decode(frame(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "0427 0001 02 0427 0001 05"))
    assert pdu.tlvs.message_state == MessageState.UNDELIVERABLE


def test_repeated_vendor_tlvs_are_all_kept_in_order():
    pdu = decode(frame(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "1500 0001 01 1500 0001 02"))
    assert pdu.tlvs.unknown == ((0x1500, b"\x01"), (0x1500, b"\x02"))


def test_cstring_tlv_without_its_nul_is_accepted():
    pdu = decode(frame(CommandId.DELIVER_SM, SUBMIT_SM_BODY + "001e 0003 616263"))
    assert pdu.tlvs.receipted_message_id == "abc"


def test_alert_on_message_delivery_presence_is_true():
    pdu = decode(frame(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "130c 0000"))
    assert pdu.tlvs.alert_on_message_delivery is True


def test_latin1_cstrings_survive_any_octet():
    pdu = decode(frame(CommandId.SUBMIT_SM_RESP, "ff e9 80 00"))
    assert pdu.message_id == "\xff\xe9\x80"
    assert encode(pdu) == frame(CommandId.SUBMIT_SM_RESP, "ff e9 80 00")


def test_request_tlvs_not_listed_for_the_command_are_still_decoded():
    pdu = decode(frame(CommandId.ENQUIRE_LINK, "0210 0001 34"))
    assert pdu == EnquireLink(sequence_number=42, tlvs=SC_34)


# -- encoder refuses what cannot go on the wire -----------------------------------------

@pytest.mark.parametrize("pdu", [
    SubmitSm(source_addr="x" * 21),
    SubmitSm(destination_addr="a\0b"),
    SubmitSm(short_message=b"x" * 255),
    SubmitSm(esm_class=256),
    SubmitSm(sequence_number=2**32),
    SubmitSm(tlvs=Tlvs(receipted_message_id="x" * 65)),
    SubmitSm(tlvs=Tlvs(network_error_code=b"\x03\x00")),
    SubmitSm(tlvs=Tlvs(sar_msg_ref_num=70000)),
    SubmitSm(tlvs=Tlvs(unknown=((0x1400, b"x" * 65536),))),
    SubmitSm(service_type="\u20ac"),
    SubmitMulti(dest_addresses=()),
    SubmitMulti(dest_addresses=(DestAddress(dest_flag=3),)),
], ids=repr)
def test_encode_rejects_values_that_do_not_fit(pdu):
    with pytest.raises(ValueError):
        encode(pdu)


def test_empty_c_strings_encode_as_a_lone_nul_and_a_non_string_still_fails():
    # the encoders skip encode() for an empty C-string: the bytes must not change
    frame = encode(SubmitSm(sequence_number=1, source_addr="", destination_addr="49170"))
    assert frame[16:19] == b"\x00\x00\x00"  # service_type, then ton and npi
    assert frame[19:20] == b"\x00"  # source_addr, empty
    assert decode(frame).destination_addr == "49170"
    with pytest.raises(AttributeError):
        encode(dataclasses.replace(SubmitSm(), service_type=None))  # type: ignore[arg-type]


def test_encode_rejects_what_is_not_a_pdu():
    with pytest.raises(TypeError):
        encode(object())  # type: ignore[arg-type]


# -- interop: a third-party client's bytes -----------------------------------------------

def test_decode_accepts_smpplib_submit_sm():
    smpp = pytest.importorskip("smpplib.smpp")
    theirs = smpp.make_pdu(
        "submit_sm", sequence=77, service_type="", source_addr_ton=5, source_addr_npi=0,
        source_addr="smsgw", dest_addr_ton=1, dest_addr_npi=1,
        destination_addr="4915112345678", esm_class=0x40, data_coding=8,
        registered_delivery=1, short_message=b"\x05\x00\x03\x2a\x02\x01\x00H\x00i",
        sar_msg_ref_num=0x2A, user_message_reference=9,
    )
    theirs.sequence = 77  # smpplib ignores the sequence keyword
    pdu = decode(theirs.generate())
    assert isinstance(pdu, SubmitSm)
    assert pdu.sequence_number == 77
    assert (pdu.source_addr, pdu.destination_addr) == ("smsgw", "4915112345678")
    assert (pdu.esm_class, pdu.data_coding, pdu.registered_delivery) == (0x40, 8, 1)
    assert pdu.short_message == b"\x05\x00\x03\x2a\x02\x01\x00H\x00i"
    assert (pdu.tlvs.sar_msg_ref_num, pdu.tlvs.user_message_reference) == (0x2A, 9)


def test_smpplib_parses_our_deliver_sm_receipt():
    smpp = pytest.importorskip("smpplib.smpp")
    ours = golden("deliver_sm_receipt")[1]
    theirs = smpp.parse_pdu(ours, sequence=0)  # a sequence spares it asking a client
    assert theirs.command == "deliver_sm"
    assert theirs.short_message == RECEIPT
    assert theirs.receipted_message_id == b"a1b2c3d4e5"


def test_framing_error_for_length_mismatch_carries_the_header():
    wire = frame(CommandId.ENQUIRE_LINK, sequence=9)
    with pytest.raises(FramingError) as info:
        decode(wire + b"\0")
    assert info.value.command_status == CommandStatus.ESME_RINVCMDLEN
    assert (info.value.command_id, info.value.sequence_number) == (CommandId.ENQUIRE_LINK, 9)
    with pytest.raises(FramingError):
        decode(wire[:15])
    assert not issubclass(FramingError, PduError)


# -- malformed bodies: the most specific command_status ---------------------------------

S = CommandStatus
SRC = "05 00 736d736777 00"  # source_addr_ton, source_addr_npi, source_addr "smsgw"
DST = "01 01 34393135313132333435363738 00"  # dest ton, npi, destination_addr
FLAGS = "00 00 00"  # esm_class, protocol_id, priority_flag
TAIL = "00 00 01 00 00 00"  # schedule, validity, registered_delivery, replace, coding, default id


def x(hex_octet: str, count: int) -> str:
    return hex_octet * count


ERRORS = [
    pytest.param(0x00000099, "", S.ESME_RINVCMDID, id="unknown_command_id"),
    pytest.param(0x80000099, "", S.ESME_RINVCMDID, id="unknown_response_id"),
    pytest.param(CommandId.BIND_TRANSMITTER, x("41", 16) + "00", S.ESME_RINVSYSID,
                 id="system_id_without_nul"),
    pytest.param(CommandId.BIND_TRANSMITTER, "4100" + x("42", 9) + "00", S.ESME_RINVPASWD,
                 id="password_without_nul"),
    pytest.param(CommandId.BIND_RECEIVER, "4100 4200" + x("43", 13) + "00", S.ESME_RINVSYSTYP,
                 id="system_type_without_nul"),
    pytest.param(CommandId.BIND_TRANSCEIVER, "4100 4200 00 34 00 00" + x("44", 41),
                 S.ESME_RINVPARLEN, id="address_range_without_nul"),
    pytest.param(CommandId.BIND_TRANSMITTER_RESP, x("41", 16), S.ESME_RINVSYSID,
                 id="bind_resp_system_id_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, x("43", 6) + "00", S.ESME_RINVSERTYP,
                 id="service_type_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, "00 05 00" + x("31", 21) + "00", S.ESME_RINVSRCADR,
                 id="source_addr_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + "01 01" + x("32", 21) + "00",
                 S.ESME_RINVDSTADR, id="destination_addr_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + "01 01 3439", S.ESME_RINVDSTADR,
                 id="body_ends_inside_destination_addr"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + FLAGS + x("31", 17) + "00",
                 S.ESME_RINVSCHED, id="schedule_delivery_time_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + FLAGS + "00" + x("31", 17) + "00",
                 S.ESME_RINVEXPIRY, id="validity_period_without_nul"),
    pytest.param(CommandId.ALERT_NOTIFICATION, "01 01 3100 05 00" + x("41", 65),
                 S.ESME_RINVDSTADR, id="esme_addr_without_nul"),
    pytest.param(CommandId.QUERY_SM, x("61", 65) + "00 00 00 00", S.ESME_RINVMSGID,
                 id="message_id_without_nul"),
    pytest.param(CommandId.QUERY_SM_RESP, "6100" + x("31", 17) + "00 02 00", S.ESME_RINVPARLEN,
                 id="final_date_without_nul"),
    pytest.param(CommandId.SUBMIT_SM_RESP, "", S.ESME_RINVMSGID,
                 id="ok_submit_sm_resp_without_message_id"),
    pytest.param(CommandId.SUBMIT_MULTI, "00" + SRC + "01 02" + x("45", 21) + "00",
                 S.ESME_RINVDLNAME, id="dl_name_without_nul"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + FLAGS + TAIL + "ff" + x("41", 255),
                 S.ESME_RINVMSGLEN, id="sm_length_255"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + FLAGS + TAIL + "05 4142",
                 S.ESME_RINVMSGLEN, id="sm_length_beyond_body"),
    pytest.param(CommandId.REPLACE_SM, "6100" + SRC + "00 00 01 00 09 41", S.ESME_RINVMSGLEN,
                 id="replace_sm_length_beyond_body"),
    pytest.param(CommandId.SUBMIT_MULTI, "00" + SRC + "00" + FLAGS + TAIL + "00",
                 S.ESME_RINVNUMDESTS, id="number_of_dests_0"),
    pytest.param(CommandId.SUBMIT_MULTI, "00" + SRC + "ff" + x("01 01 01 3100", 255),
                 S.ESME_RINVNUMDESTS, id="number_of_dests_255"),
    pytest.param(CommandId.SUBMIT_MULTI, "00" + SRC + "01 03 01 01 3100", S.ESME_RINVDESTFLAG,
                 id="dest_flag_3"),
    pytest.param(CommandId.SUBMIT_MULTI, "00" + SRC + "02 01 01 01 3100", S.ESME_RINVCMDLEN,
                 id="body_ends_before_second_dest"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + "00", S.ESME_RINVCMDLEN,
                 id="body_ends_inside_integer_fields"),
    pytest.param(CommandId.SUBMIT_SM, "00" + SRC + DST + FLAGS + "00 00 01 00 00 00",
                 S.ESME_RINVCMDLEN, id="body_ends_before_sm_length"),
    pytest.param(CommandId.QUERY_SM_RESP, "6100 00 02", S.ESME_RINVCMDLEN,
                 id="body_ends_before_error_code"),
    pytest.param(CommandId.SUBMIT_MULTI_RESP, "6100 01 01 01 3100 0000", S.ESME_RINVCMDLEN,
                 id="body_ends_inside_error_status_code"),
    pytest.param(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "04", S.ESME_RINVOPTPARSTREAM,
                 id="tlv_header_of_1_octet"),
    pytest.param(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "0424 00", S.ESME_RINVOPTPARSTREAM,
                 id="tlv_header_of_3_octets"),
    pytest.param(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "0424 0005 4142",
                 S.ESME_RINVOPTPARSTREAM, id="tlv_length_beyond_body"),
    pytest.param(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "1400 0001", S.ESME_RINVOPTPARSTREAM,
                 id="vendor_tlv_length_beyond_body"),
    pytest.param(CommandId.DELIVER_SM, SUBMIT_SM_BODY + "0427 0002 0002", S.ESME_RINVPARLEN,
                 id="message_state_of_2_octets"),
    pytest.param(CommandId.DELIVER_SM, SUBMIT_SM_BODY + "001e 0000", S.ESME_RINVPARLEN,
                 id="empty_receipted_message_id"),
    pytest.param(CommandId.DELIVER_SM, SUBMIT_SM_BODY + "001e 0042" + x("41", 65) + "00",
                 S.ESME_RINVPARLEN, id="receipted_message_id_of_66_octets"),
    pytest.param(CommandId.DELIVER_SM, SUBMIT_SM_BODY + "0423 0002 0300", S.ESME_RINVPARLEN,
                 id="network_error_code_of_2_octets"),
    pytest.param(CommandId.SUBMIT_SM, SUBMIT_SM_BODY + "130c 0001 01", S.ESME_RINVPARLEN,
                 id="alert_on_message_delivery_with_a_value"),
    pytest.param(CommandId.DATA_SM, "00" + SRC + DST + "00 00 00 0381 0002 3132",
                 S.ESME_RINVPARLEN, id="callback_num_too_short"),
]


@pytest.mark.parametrize(("command_id", "body_hex", "status"), ERRORS)
def test_malformed_body_raises_pdu_error_with_the_most_specific_status(
    command_id, body_hex, status
):
    with pytest.raises(PduError) as info:
        decode(frame(command_id, body_hex, sequence=1234))
    assert CommandStatus(info.value.command_status) == status
    assert info.value.command_id == command_id
    assert info.value.sequence_number == 1234
    assert not info.value.fatal
