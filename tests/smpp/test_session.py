"""The sans-I/O session, both roles: an ESME session and an SMSC session talk through pipes."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import SessionUsageError
from gateway.smpp.events import (
    BindTimedOut,
    CloseConnection,
    Event,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from gateway.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Tlvs,
    Unbind,
    UnbindResp,
)
from gateway.smpp.session import Session, SessionConfig, WindowFull
from gateway.smpp.state import Role, State

S = CommandStatus
C = CommandId
HEADER = struct.Struct(">IIII")
BINDS = {
    State.BOUND_TX: BindTransmitter,
    State.BOUND_RX: BindReceiver,
    State.BOUND_TRX: BindTransceiver,
}


# --- helpers ------------------------------------------------------------------------------

def smsc(now: float = 0.0, **config) -> Session:
    return Session(SessionConfig(role=Role.SMSC, **config), now)


def esme(now: float = 0.0, **config) -> Session:
    return Session(SessionConfig(role=Role.ESME, **config), now)


def pipe(sender: Session, receiver: Session, now: float) -> list[Event]:
    """Deliver everything `sender` queued to `receiver`; return the receiver's events."""
    return receiver.receive_data(sender.data_to_send(), now)


def header(command_id: int, status: int = 0, seq: int = 1, body: bytes = b"") -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, seq) + body


def pdus(data: bytes) -> list:
    """Split the bytes a session queued into decoded PDUs."""
    out = []
    while data:
        length = struct.unpack_from(">I", data)[0]
        out.append(decode(data[:length]))
        data = data[length:]
    return out


def bind(state: State = State.BOUND_TRX, now: float = 0.0, **config) -> tuple[Session, Session]:
    """An ESME and an SMSC session bound to each other as `state`, at `now`."""
    client = esme(now, **config)
    server = smsc(now, **config)
    client.send_request(BINDS[state](system_id="acme", password="secret"), now)
    [received] = pipe(client, server, now)
    server.accept_bind(received.pdu, now)
    [answer] = pipe(server, client, now)
    assert isinstance(answer, ResponseReceived)
    assert client.state is server.state is state
    return client, server


def bound_smsc(state: State = State.BOUND_TRX, now: float = 0.0, **config) -> Session:
    """An SMSC session bound by raw bytes (seq 1), its bind_resp already taken."""
    server = smsc(now, **config)
    [event] = server.receive_data(encode(BINDS[state](system_id="acme", sequence_number=1)), now)
    server.accept_bind(event.pdu, now)
    server.data_to_send()
    return server


SUBMIT = SubmitSm(source_addr="Acme", destination_addr="359888123456", short_message=b"hi")


# --- binding ------------------------------------------------------------------------------

@pytest.mark.parametrize("state", list(BINDS), ids=lambda s: s.value)
def test_esme_binds_to_smsc_and_both_sides_agree_on_the_bound_state(state):
    client, server = esme(), smsc()
    request = BINDS[state](system_id="acme", password="secret", system_type="SMPP")
    seq = client.send_request(request, 0.0, context="bind-ctx")
    assert seq == 1
    assert client.state is State.BINDING

    [received] = pipe(client, server, 0.5)
    assert received == RequestReceived(pdu=BINDS[state](
        system_id="acme", password="secret", system_type="SMPP", sequence_number=1))
    assert server.state is State.BINDING

    server.accept_bind(received.pdu, 0.5)
    assert server.state is state
    [answer] = pipe(server, client, 0.6)
    assert isinstance(answer, ResponseReceived)
    assert answer.request == received.pdu
    assert answer.context == "bind-ctx"
    assert answer.response.system_id == "smsgw"
    assert answer.response.command_status == S.ESME_ROK
    assert client.state is state
    assert client.bound_kind is server.bound_kind is state
    assert client.is_bound and server.is_bound


@pytest.mark.parametrize("version", [0x33, 0x34, 0x50, 0x00])
def test_any_interface_version_is_accepted_and_answered_as_3_4(version):
    server = smsc()
    [event] = server.receive_data(encode(BindTransceiver(
        system_id="acme", interface_version=version, sequence_number=9)), 0.0)
    server.accept_bind(event.pdu, 0.0)
    [response] = pdus(server.data_to_send())
    assert response == BindTransceiverResp(
        sequence_number=9, system_id="smsgw", tlvs=Tlvs(sc_interface_version=0x34))


def test_bind_resp_carries_the_configured_system_id():
    server = smsc(system_id="gw-2")
    [event] = server.receive_data(encode(BindTransmitter(sequence_number=3)), 0.0)
    server.accept_bind(event.pdu, 0.0)
    assert pdus(server.data_to_send())[0].system_id == "gw-2"


def test_a_rejected_bind_answers_the_status_with_an_empty_body_and_reopens():
    client, server = esme(), smsc()
    client.send_request(BindTransmitter(system_id="acme", password="wrong"), 0.0)
    [received] = pipe(client, server, 0.0)
    server.reject_bind(received.pdu, S.ESME_RINVPASWD)
    assert server.state is State.OPEN
    wire = server.data_to_send()
    assert wire == header(C.BIND_TRANSMITTER_RESP, S.ESME_RINVPASWD, seq=1)
    [answer] = client.receive_data(wire, 0.0)
    assert answer.response.command_status == S.ESME_RINVPASWD
    assert client.state is State.OPEN
    # and the client may try again
    client.send_request(BindTransmitter(system_id="acme", password="right"), 1.0)
    [again] = pipe(client, server, 1.0)
    server.accept_bind(again.pdu, 1.0)
    pipe(server, client, 1.0)
    assert client.state is server.state is State.BOUND_TX


def test_a_bind_answered_by_generic_nack_reopens_the_esme():
    client = esme()
    client.send_request(BindTransmitter(), 0.0)
    [event] = client.receive_data(header(C.GENERIC_NACK, S.ESME_RSYSERR, seq=1), 0.0)
    assert isinstance(event, ResponseReceived) and isinstance(event.response, GenericNack)
    assert client.state is State.OPEN


def test_accept_bind_without_a_pending_bind_is_a_usage_error():
    server = smsc()
    with pytest.raises(SessionUsageError):
        server.accept_bind(BindTransmitter(sequence_number=1), 0.0)
    with pytest.raises(SessionUsageError):
        server.reject_bind(BindTransmitter(sequence_number=1), S.ESME_RBINDFAIL)


def test_reject_bind_with_rok_is_a_usage_error():
    server = smsc()
    [event] = server.receive_data(encode(BindTransmitter(sequence_number=1)), 0.0)
    with pytest.raises(SessionUsageError):
        server.reject_bind(event.pdu, S.ESME_ROK)
    assert server.state is State.BINDING


def test_a_bind_resp_through_send_response_also_binds():
    server = smsc()
    server.receive_data(encode(BindReceiver(sequence_number=4)), 0.0)
    server.send_response(BindReceiverResp(sequence_number=4, system_id="x"))
    assert server.state is State.BOUND_RX


def test_a_second_bind_on_a_bound_session_is_answered_ralybnd():
    server = bound_smsc(State.BOUND_TX)
    events = server.receive_data(encode(BindTransceiver(sequence_number=2)), 1.0)
    assert [type(e) for e in events] == [ProtocolViolation]
    assert events[0].command_status == S.ESME_RALYBND
    assert server.data_to_send() == header(C.BIND_TRANSCEIVER_RESP, S.ESME_RALYBND, seq=2)
    assert server.state is State.BOUND_TX


def test_a_bind_while_a_bind_is_pending_is_answered_ralybnd():
    server = smsc()
    server.receive_data(encode(BindTransmitter(sequence_number=1)), 0.0)
    events = server.receive_data(encode(BindReceiver(sequence_number=2)), 0.0)
    assert events[0].command_status == S.ESME_RALYBND
    assert server.data_to_send() == header(C.BIND_RECEIVER_RESP, S.ESME_RALYBND, seq=2)
    assert server.state is State.BINDING


def test_outbind_from_the_smsc_asks_the_esme_to_bind():
    client, server = esme(), smsc()
    server.send_request(Outbind(system_id="gw", password="pw"), 0.0)
    assert server.outstanding == 0  # outbind takes no response
    [event] = pipe(server, client, 0.0)
    assert event == RequestReceived(pdu=Outbind(system_id="gw", password="pw", sequence_number=1))
    assert client.state is State.OPEN
    client.send_request(BindReceiver(system_id="acme"), 0.0)
    assert client.state is State.BINDING


# --- traffic ------------------------------------------------------------------------------

def test_submit_sm_reaches_the_smsc_and_its_answer_the_esme_with_the_context():
    client, server = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0, context={"id": 7})
    [event] = pipe(client, server, 1.0)
    assert event.pdu.short_message == b"hi" and event.pdu.sequence_number == seq
    server.send_response(SubmitSmResp(sequence_number=seq, message_id="m-1"))
    [answer] = pipe(server, client, 1.1)
    assert answer == ResponseReceived(
        request=event.pdu, response=SubmitSmResp(sequence_number=seq, message_id="m-1"),
        context={"id": 7})
    assert client.outstanding == 0


@pytest.mark.parametrize("state", [State.BOUND_RX, State.BOUND_TRX], ids=lambda s: s.value)
def test_deliver_sm_goes_from_smsc_to_a_receiving_esme(state):
    client, server = bind(state)
    seq = server.send_request(DeliverSm(short_message=b"receipt"), 2.0, context="dlr-1")
    [event] = pipe(server, client, 2.0)
    assert isinstance(event, RequestReceived) and isinstance(event.pdu, DeliverSm)
    client.send_response(DeliverSmResp(sequence_number=seq))
    [answer] = pipe(client, server, 2.1)
    assert answer.context == "dlr-1"
    assert isinstance(answer.response, DeliverSmResp)


def test_the_smsc_may_not_send_deliver_sm_to_a_transmitter():
    _, server = bind(State.BOUND_TX)
    with pytest.raises(SessionUsageError):
        server.send_request(DeliverSm(), 1.0)
    assert server.data_to_send() == b""
    assert server.outstanding == 0


def test_the_esme_may_not_submit_before_binding():
    with pytest.raises(SessionUsageError):
        esme().send_request(SUBMIT, 0.0)


def test_data_sm_and_alert_notification_reach_the_esme():
    client, server = bind(State.BOUND_RX)
    server.send_request(DataSm(source_addr="1"), 1.0)
    server.send_request(AlertNotification(source_addr="2"), 1.0)
    events = pipe(server, client, 1.0)
    assert [type(e.pdu) for e in events] == [DataSm, AlertNotification]
    assert server.outstanding == 1  # alert_notification takes no response


def test_sequence_numbers_count_up_from_one_wrap_to_one_and_skip_outstanding_ones():
    client, _ = bind(State.BOUND_TX, window=5)
    assert client.send_request(SUBMIT, 0.0) == 2  # the bind took 1
    assert client.send_request(SUBMIT, 0.0) == 3
    client._next_sequence = 0x7FFFFFFF  # skip two billion requests
    assert client.send_request(SUBMIT, 0.0) == 0x7FFFFFFF
    assert client.send_request(SUBMIT, 0.0) == 1  # answered long ago: free again
    assert client.send_request(SUBMIT, 0.0) == 4  # 2 and 3 are still outstanding


def test_a_full_window_refuses_at_once_and_frees_on_answer():
    client, server = bind(State.BOUND_TX, window=2)
    first = client.send_request(SUBMIT, 1.0)
    client.send_request(SUBMIT, 1.0)
    assert client.window_full
    with pytest.raises(WindowFull):
        client.send_request(SUBMIT, 1.0)
    assert len(pipe(client, server, 1.0)) == 2  # nothing extra was queued
    server.send_response(SubmitSmResp(sequence_number=first, message_id="a"))
    pipe(server, client, 1.5)
    assert not client.window_full
    client.send_request(SUBMIT, 2.0)


def test_requests_with_a_response_are_not_sendable_as_responses_and_vice_versa():
    client, _ = bind(State.BOUND_TX)
    with pytest.raises(SessionUsageError):
        client.send_request(SubmitSmResp(), 0.0)
    with pytest.raises(SessionUsageError):
        client.send_response(SUBMIT)
    with pytest.raises(SessionUsageError):
        client.send_response(EnquireLinkResp(sequence_number=1))  # the session answers those
    with pytest.raises(SessionUsageError):
        client.send_response(UnbindResp(sequence_number=1))


def test_an_enquire_link_from_the_peer_is_answered_by_the_session():
    server = bound_smsc()
    assert server.receive_data(header(C.ENQUIRE_LINK, seq=77), 5.0) == []
    assert server.data_to_send() == header(C.ENQUIRE_LINK_RESP, seq=77)


def test_an_enquire_link_the_application_sent_is_reported_like_any_request():
    client, server = bind()
    client.send_request(EnquireLink(), 1.0, context="ping")
    pipe(client, server, 1.0)
    [answer] = pipe(server, client, 1.0)
    assert answer.context == "ping" and isinstance(answer.response, EnquireLinkResp)


# --- refusals and malformed input ---------------------------------------------------------

def test_submit_sm_before_binding_is_answered_rinvbndsts_and_the_session_goes_on():
    server = smsc()
    [event] = server.receive_data(encode(SubmitSm(sequence_number=5)), 0.0)
    assert event == ProtocolViolation(
        command_status=S.ESME_RINVBNDSTS, detail=event.detail,
        command_id=C.SUBMIT_SM, sequence_number=5)
    assert server.data_to_send() == header(C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, seq=5)
    assert server.state is State.OPEN
    [bind_event] = server.receive_data(encode(BindTransmitter(sequence_number=6)), 0.1)
    assert isinstance(bind_event, RequestReceived)


@pytest.mark.parametrize("pdu, answer_id", [
    (SubmitSm(sequence_number=3), C.SUBMIT_SM_RESP),
    (QuerySm(sequence_number=3), C.QUERY_SM_RESP),
    (DeliverSm(sequence_number=3), C.DELIVER_SM_RESP),  # only the SMSC delivers
    (Outbind(sequence_number=3), C.GENERIC_NACK),  # no _resp of its own
], ids=lambda v: type(v).__name__ if not isinstance(v, int) else "")
def test_commands_not_allowed_on_a_receiver_bind_get_rinvbndsts(pdu, answer_id):
    server = bound_smsc(State.BOUND_RX)
    [event] = server.receive_data(encode(pdu), 1.0)
    assert isinstance(event, ProtocolViolation)
    assert server.data_to_send() == header(answer_id, S.ESME_RINVBNDSTS, seq=3)
    assert server.state is State.BOUND_RX


def test_enquire_link_before_binding_is_refused():
    server = smsc()
    server.receive_data(header(C.ENQUIRE_LINK, seq=2), 0.0)
    assert server.data_to_send() == header(C.ENQUIRE_LINK_RESP, S.ESME_RINVBNDSTS, seq=2)


def test_an_unknown_command_id_gets_generic_nack_rinvcmdid_and_the_session_goes_on():
    server = bound_smsc()
    [event] = server.receive_data(header(0x00000099, seq=42, body=b"\x01\x02"), 1.0)
    assert event.command_status == S.ESME_RINVCMDID
    assert server.data_to_send() == bytes.fromhex("00000010 80000000 00000003 0000002a")
    assert server.receive_data(header(C.ENQUIRE_LINK, seq=43), 1.1) == []
    assert server.data_to_send() == header(C.ENQUIRE_LINK_RESP, seq=43)
    assert server.state is State.BOUND_TRX


@pytest.mark.parametrize("length", [0, 15, 65537, 0xFFFFFFFF])
def test_a_bad_command_length_gets_generic_nack_rinvcmdlen_and_closes(length):
    server = bound_smsc()
    data = struct.pack(">IIII", length, C.SUBMIT_SM, 0, 8) + b"\0" * 16
    events = server.receive_data(data, 1.0)
    assert [type(e) for e in events] == [ProtocolViolation, CloseConnection]
    assert events[0].command_status == S.ESME_RINVCMDLEN
    wire = server.data_to_send()
    assert wire[:12] == header(C.GENERIC_NACK, S.ESME_RINVCMDLEN)[:12]
    assert server.state is State.CLOSED
    # closed: all further input and time is ignored
    assert server.receive_data(header(C.ENQUIRE_LINK, seq=9), 2.0) == []
    assert server.handle_timer(1e6) == []
    assert server.next_deadline() is None
    assert server.data_to_send() == b""


def test_frames_before_a_bad_command_length_are_still_handled():
    server = bound_smsc()
    data = header(C.ENQUIRE_LINK, seq=5) + struct.pack(">IIII", 8, 0, 0, 0)
    events = server.receive_data(data, 1.0)
    assert [type(e) for e in events] == [ProtocolViolation, CloseConnection]
    wire = server.data_to_send()
    assert wire[:16] == header(C.ENQUIRE_LINK_RESP, seq=5)
    assert wire[16:28] == header(C.GENERIC_NACK, S.ESME_RINVCMDLEN)[:12]


def test_a_command_length_limit_is_configurable():
    server = bound_smsc(max_pdu_size=100)
    big = encode(SubmitSm(sequence_number=2, short_message=b"x" * 200))
    events = server.receive_data(big, 1.0)
    assert isinstance(events[-1], CloseConnection)


def submit_body(**fields) -> bytes:
    """A submit_sm frame with its mandatory body fields patched by raw bytes."""
    return encode(SubmitSm(sequence_number=12, **fields))


@pytest.mark.parametrize("frame, status", [
    # sm_length says 200 but only 2 octets follow
    (submit_body(short_message=b"hi")[:-3] + b"\xc8hi", S.ESME_RINVMSGLEN),
    # source_addr with no NUL within its 21 octets
    (header(C.SUBMIT_SM, seq=12, body=b"\0\x01\x01" + b"9" * 40), S.ESME_RINVSRCADR),
], ids=["sm_length", "source_addr"])
def test_a_malformed_body_gets_its_resp_with_the_specific_status(frame, status):
    server = bound_smsc()
    [event] = server.receive_data(frame, 1.0)
    assert isinstance(event, ProtocolViolation) and event.command_status == status
    assert server.data_to_send() == header(C.SUBMIT_SM_RESP, status, seq=12)
    assert server.state is State.BOUND_TRX


def test_a_malformed_bind_gets_bind_resp_with_the_status_and_no_bind():
    server = smsc()
    frame = header(C.BIND_TRANSMITTER, seq=3, body=b"a" * 30 + b"\0")  # system_id too long
    [event] = server.receive_data(frame, 0.0)
    assert event.command_status == S.ESME_RINVSYSID
    assert server.data_to_send() == header(C.BIND_TRANSMITTER_RESP, S.ESME_RINVSYSID, seq=3)
    assert server.state is State.OPEN


def test_a_malformed_request_not_allowed_in_the_state_gets_rinvbndsts():
    server = smsc()
    server.receive_data(header(C.SUBMIT_SM, seq=4, body=b"\0\x01"), 0.0)
    assert server.data_to_send() == header(C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, seq=4)


def test_a_response_nobody_asked_for_is_reported_and_never_answered():
    server = smsc()
    [event] = server.receive_data(header(C.SUBMIT_SM_RESP, seq=1, body=b"x\0"), 0.0)
    assert isinstance(event, ProtocolViolation)
    [event] = server.receive_data(header(C.GENERIC_NACK, S.ESME_RINVCMDID, seq=0), 0.0)
    assert isinstance(event, ProtocolViolation)
    assert server.data_to_send() == b""
    assert server.state is State.OPEN


def test_a_response_of_the_wrong_kind_leaves_the_request_outstanding():
    client, _ = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0)
    [event] = client.receive_data(encode(DeliverSmResp(sequence_number=seq)), 1.0)
    assert isinstance(event, ProtocolViolation)
    assert client.outstanding == 1
    [answer] = client.receive_data(encode(SubmitSmResp(sequence_number=seq)), 1.0)
    assert isinstance(answer, ResponseReceived)


def test_a_malformed_response_is_reported_and_not_answered():
    client, _ = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0)
    client.data_to_send()
    [event] = client.receive_data(header(C.SUBMIT_SM_RESP, seq=seq, body=b"no-nul"), 1.0)
    assert isinstance(event, ProtocolViolation)
    assert client.data_to_send() == b""


def test_a_generic_nack_answers_the_request_with_its_sequence_number():
    client, _ = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0, context="c")
    client.data_to_send()
    [answer] = client.receive_data(header(C.GENERIC_NACK, S.ESME_RTHROTTLED, seq=seq), 1.0)
    assert answer == ResponseReceived(
        request=answer.request,
        response=GenericNack(sequence_number=seq, command_status=S.ESME_RTHROTTLED),
        context="c")
    assert client.data_to_send() == b""


# --- unbind -------------------------------------------------------------------------------

def test_unbind_from_the_esme_is_answered_and_both_sides_close():
    client, server = bind()
    client.start_unbind(5.0)
    assert client.state is State.UNBINDING
    events = pipe(client, server, 5.0)
    assert events == [Unbound(by_peer=True), CloseConnection(reason=events[1].reason)]
    assert server.state is State.CLOSED
    events = pipe(server, client, 5.1)
    assert events == [Unbound(by_peer=False), CloseConnection(reason=events[1].reason)]
    assert client.state is State.CLOSED


def test_unbind_from_the_smsc_is_answered_and_both_sides_close():
    client, server = bind(State.BOUND_RX)
    server.start_unbind(5.0)
    assert [type(e) for e in pipe(server, client, 5.0)] == [Unbound, CloseConnection]
    assert [type(e) for e in pipe(client, server, 5.0)] == [Unbound, CloseConnection]
    assert client.state is server.state is State.CLOSED


def test_unbind_resp_bytes_answer_the_unbind():
    server = bound_smsc()
    server.receive_data(header(C.UNBIND, seq=31), 1.0)
    assert server.data_to_send() == header(C.UNBIND_RESP, seq=31)


def test_both_sides_unbinding_at_once_answer_each_other():
    client, server = bind()
    client.start_unbind(5.0)
    server.start_unbind(5.0)
    to_server, to_client = client.data_to_send(), server.data_to_send()
    assert [type(e) for e in server.receive_data(to_server, 5.0)] == [Unbound, CloseConnection]
    assert [type(e) for e in client.receive_data(to_client, 5.0)] == [Unbound, CloseConnection]
    assert pdus(server.data_to_send()) == [UnbindResp(sequence_number=2)]


def test_unbind_goes_out_even_with_a_full_window():
    client, _ = bind(State.BOUND_TX, window=1)
    client.send_request(SUBMIT, 1.0)
    client.start_unbind(1.0)
    assert [type(p) for p in pdus(client.data_to_send())] == [SubmitSm, Unbind]


def test_start_unbind_before_binding_is_a_usage_error():
    with pytest.raises(SessionUsageError):
        esme().start_unbind(0.0)


def test_an_unanswered_unbind_closes_after_the_response_timeout():
    client, _ = bind()
    client.start_unbind(5.0)
    assert client.next_deadline() == 65.0
    events = client.handle_timer(65.0)
    assert events == [RequestTimedOut(request=Unbind(sequence_number=2), context=None),
                      CloseConnection(reason=events[1].reason)]


def test_responses_to_earlier_requests_still_arrive_while_unbinding():
    client, server = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0)
    pipe(client, server, 1.0)
    client.start_unbind(1.0)
    server.send_response(SubmitSmResp(sequence_number=seq, message_id="late"))
    [answer] = pipe(server, client, 1.0)
    assert answer.response.message_id == "late"


# --- timers -------------------------------------------------------------------------------

def test_an_smsc_session_not_bound_within_10_s_is_closed():
    server = smsc(now=100.0)
    assert server.next_deadline() == 110.0
    assert server.handle_timer(109.99) == []
    events = server.handle_timer(110.0)
    assert events == [BindTimedOut(), CloseConnection(reason=events[1].reason)]
    assert server.data_to_send() == b""
    assert server.state is State.CLOSED


def test_the_bind_timer_runs_on_while_a_bind_is_pending_or_after_a_rejection():
    server = smsc()
    [event] = server.receive_data(encode(BindTransmitter(sequence_number=1)), 4.0)
    server.reject_bind(event.pdu, S.ESME_RINVPASWD)
    assert server.next_deadline() == 10.0
    assert isinstance(server.handle_timer(10.0)[0], BindTimedOut)


def test_a_paused_bind_timer_waits_while_the_smsc_decides_then_goes_on_after_a_rejection():
    server = smsc()
    [event] = server.receive_data(encode(BindTransmitter(sequence_number=1)), 4.0)
    server.pause_bind_timer(4.0)  # our password check: 6 s were left
    assert server.next_deadline() is None
    assert server.handle_timer(30.0) == []
    server.reject_bind(event.pdu, S.ESME_RINVPASWD, 40.0)
    assert server.next_deadline() == 46.0
    assert isinstance(server.handle_timer(46.0)[0], BindTimedOut)


def test_accepting_a_bind_while_its_timer_is_paused_ends_the_timer():
    server = smsc(enquire_link_interval=0)
    [event] = server.receive_data(encode(BindTransceiver(sequence_number=1)), 1.0)
    server.pause_bind_timer(1.0)
    server.accept_bind(event.pdu, 50.0)
    assert server.is_bound and server.next_deadline() is None


def test_the_bind_timer_is_paused_only_for_a_pending_bind_and_resumed_with_a_time():
    server = smsc()
    with pytest.raises(SessionUsageError):
        server.pause_bind_timer(1.0)
    [event] = server.receive_data(encode(BindTransmitter(sequence_number=1)), 1.0)
    server.pause_bind_timer(1.0)
    with pytest.raises(SessionUsageError):
        server.reject_bind(event.pdu, S.ESME_RBINDFAIL)  # without `now` it could not resume
    server.reject_bind(event.pdu, S.ESME_RBINDFAIL, 2.0)
    assert server.next_deadline() == 11.0


def test_binding_in_time_stops_the_bind_timer():
    server = bound_smsc(now=0.0, enquire_link_interval=0)
    assert server.next_deadline() is None
    assert server.handle_timer(10.0) == []


def test_a_zero_bind_timeout_disables_it():
    assert smsc(bind_timeout=0).next_deadline() is None


def test_an_esme_session_has_no_bind_timer():
    assert esme().next_deadline() is None


def test_an_unanswered_request_closes_after_60_s_without_unbind():
    _, server = bind(State.BOUND_RX, now=0.0)
    server.send_request(DeliverSm(short_message=b"dlr"), 1.0, context="dlr-9")
    server.data_to_send()
    assert server.next_deadline() == 30.0  # the enquire_link comes first
    server.handle_timer(30.0)  # window has room: enquire_link at 30 s
    assert [type(p) for p in pdus(server.data_to_send())] == [EnquireLink]
    assert server.next_deadline() == 61.0
    assert server.handle_timer(60.99) == []
    events = server.handle_timer(61.0)
    assert [type(e) for e in events] == [RequestTimedOut, CloseConnection]
    assert events[0].context == "dlr-9" and isinstance(events[0].request, DeliverSm)
    assert server.data_to_send() == b""  # no unbind
    assert server.state is State.CLOSED


def test_every_request_expired_by_then_is_reported():
    client, _ = bind(State.BOUND_TX, enquire_link_interval=0)
    client.send_request(SUBMIT, 1.0, context=1)
    client.send_request(SUBMIT, 2.0, context=2)
    client.send_request(SUBMIT, 30.0, context=3)
    events = client.handle_timer(62.0)
    assert [getattr(e, "context", None) for e in events[:-1]] == [1, 2]
    assert isinstance(events[-1], CloseConnection)
    assert [ctx for _, ctx in client.connection_lost()] == [3]


def test_the_response_timeout_is_configurable():
    client, _ = bind(State.BOUND_TX, response_timeout=5.0, enquire_link_interval=0)
    client.send_request(SUBMIT, 1.0)
    assert client.next_deadline() == 6.0


def test_an_idle_bound_session_sends_enquire_link_and_takes_its_answer_silently():
    client, server = bind(now=0.0)
    assert server.next_deadline() == 30.0
    assert server.handle_timer(29.0) == []
    assert server.handle_timer(30.0) == []
    assert pdus(server.data_to_send()) == [EnquireLink(sequence_number=1)]
    assert server.next_deadline() == 90.0  # its response deadline; no second enquire_link
    server.handle_timer(60.0)
    assert server.data_to_send() == b""
    client.receive_data(encode(EnquireLink(sequence_number=1)), 31.0)
    assert server.receive_data(client.data_to_send(), 31.0) == []  # answered: no event
    assert server.outstanding == 0
    assert server.next_deadline() == 61.0


def test_traffic_from_the_peer_postpones_enquire_link():
    client, server = bind(State.BOUND_TX, now=0.0)
    client.send_request(SUBMIT, 20.0)
    pipe(client, server, 20.0)
    assert server.next_deadline() == 50.0


def test_an_enquire_link_left_unanswered_closes_the_session():
    _, server = bind(now=0.0)
    server.handle_timer(30.0)
    events = server.handle_timer(90.0)
    assert events == [RequestTimedOut(request=EnquireLink(sequence_number=1), context=None),
                      CloseConnection(reason=events[1].reason)]
    assert server.data_to_send()[:16] == header(C.ENQUIRE_LINK)  # only the enquire_link


def test_the_esme_role_sends_enquire_link_too():
    client, _ = bind(now=0.0, enquire_link_interval=15.0)
    client.handle_timer(15.0)
    assert pdus(client.data_to_send()) == [EnquireLink(sequence_number=2)]


def test_no_enquire_link_while_the_window_is_full():
    _, server = bind(State.BOUND_RX, now=0.0, window=1)
    server.send_request(DeliverSm(), 1.0)
    server.data_to_send()
    assert server.handle_timer(30.0) == []
    assert server.data_to_send() == b""
    assert server.next_deadline() == 60.0  # the next try, then the deliver_sm's deadline


def test_a_zero_enquire_link_interval_disables_it():
    _, server = bind(enquire_link_interval=0)
    assert server.next_deadline() is None


def test_no_enquire_link_before_binding():
    assert smsc(bind_timeout=0).next_deadline() is None


# --- end of the connection ----------------------------------------------------------------

def test_connection_lost_returns_what_was_never_answered_and_closes():
    _, server = bind(State.BOUND_RX)
    server.send_request(DeliverSm(short_message=b"a"), 1.0, context="a")
    server.send_request(DeliverSm(short_message=b"b"), 1.0, context="b")
    server.handle_timer(31.0)  # its own enquire_link is not reported
    lost = server.connection_lost()
    assert [(type(r), ctx) for r, ctx in lost] == [(DeliverSm, "a"), (DeliverSm, "b")]
    assert server.state is State.CLOSED
    assert server.data_to_send() == b""
    assert server.next_deadline() is None
    assert server.receive_data(header(C.ENQUIRE_LINK), 32.0) == []


def test_responses_after_close_are_dropped_and_requests_refused():
    client, server = bind(State.BOUND_TX)
    client.send_request(SUBMIT, 1.0)
    [event] = pipe(client, server, 1.0)
    server.connection_lost()
    server.send_response(SubmitSmResp(sequence_number=event.pdu.sequence_number))
    assert server.data_to_send() == b""
    with pytest.raises(SessionUsageError):
        server.send_request(EnquireLink(), 2.0)


# --- byte streams -------------------------------------------------------------------------

def client_script() -> bytes:
    """What a busy client might send: bind, submits, junk, enquire_link, unbind."""
    return b"".join([
        encode(BindTransceiver(system_id="acme", password="pw", sequence_number=1)),
        encode(SubmitSm(sequence_number=2, short_message=b"before bind")),
        header(0x00000099, seq=3),
        header(C.ENQUIRE_LINK, seq=4),
        encode(DeliverSmResp(sequence_number=5)),
        header(C.SUBMIT_SM, seq=6, body=b"\0\x01"),
    ])


def test_data_fed_byte_by_byte_gives_the_same_events_and_answers():
    whole, trickle = smsc(), smsc()
    script = client_script()
    events_whole = whole.receive_data(script, 1.0)
    events_trickle = [e for i in range(len(script))
                      for e in trickle.receive_data(script[i:i + 1], 1.0)]
    assert events_whole == events_trickle
    assert [type(e) for e in events_whole] == [RequestReceived] + [ProtocolViolation] * 5
    assert whole.data_to_send() == trickle.data_to_send()


def test_a_client_conversation_fed_byte_by_byte_binds_and_submits():
    server = smsc()
    [bind_event] = [e for b in encode(BindTransmitter(sequence_number=1))
                    for e in server.receive_data(bytes([b]), 0.0)]
    server.accept_bind(bind_event.pdu, 0.0)
    frame = encode(SubmitSm(sequence_number=2, short_message=b"x" * 140))
    events = [e for b in frame for e in server.receive_data(bytes([b]), 0.1)]
    assert [type(e) for e in events] == [RequestReceived]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_into_an_smsc_session_give_only_events(chunks):
    server = smsc()
    now = 0.0
    for chunk in chunks:
        now += 0.5
        for event in server.receive_data(chunk, now):
            assert isinstance(event, Event)
        server.data_to_send()
        for event in server.handle_timer(now):
            assert isinstance(event, Event)


frame_strategy = st.builds(
    lambda cid, status, seq, body: header(cid, status, seq, body),
    st.sampled_from([int(c) for c in CommandId] + [0x99, 0x80000099, 0x8000000B]),
    st.sampled_from([0, 1, 0x45]),
    st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=80),
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(frame_strategy, max_size=15),
       state=st.sampled_from([None, State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX]))
def test_well_framed_random_pdus_into_an_smsc_session_give_only_events(frames, state):
    server = smsc() if state is None else bound_smsc(state)
    for i, frame in enumerate(frames):
        for event in server.receive_data(frame, float(i)):
            assert isinstance(event, Event)
            assert not isinstance(event, CloseConnection) or server.state is State.CLOSED
    server.data_to_send()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(frame_strategy, max_size=15))
def test_well_framed_random_pdus_into_a_bound_esme_session_give_only_events(frames):
    client, _ = bind()
    client.send_request(SUBMIT, 0.0)
    for i, frame in enumerate(frames):
        for event in client.receive_data(frame, float(i)):
            assert isinstance(event, Event)


# --- configuration ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {"role": "SMSC"}, {"bind_timeout": -1}, {"response_timeout": 0},
    {"enquire_link_interval": -1}, {"window": 0}, {"max_pdu_size": 15},
    {"system_id": "x" * 16},
])
def test_a_bad_session_config_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        SessionConfig(**{"role": Role.SMSC, **bad})


# --- unbind from a peer still owed answers ------------------------------------------------

def test_unbind_from_the_peer_waits_for_the_answers_it_is_owed():
    client, server = bind(State.BOUND_TX)
    seq = client.send_request(SUBMIT, 1.0)
    client.start_unbind(1.0)
    events = pipe(client, server, 1.0)
    assert [type(e) for e in events] == [RequestReceived, Unbound]
    assert server.state is State.UNBINDING and server.data_to_send() == b""
    assert server.next_deadline() == 61.0
    closing = server.send_response(SubmitSmResp(sequence_number=seq, message_id="42"))
    assert closing == [CloseConnection(reason=closing[0].reason)]
    assert server.state is State.CLOSED
    answers = pdus(server.data_to_send())
    assert [type(p) for p in answers] == [SubmitSmResp, UnbindResp]
    client_events = client.receive_data(encode(answers[0]) + encode(answers[1]), 1.1)
    assert client_events[0].response.message_id == "42"
    assert [type(e) for e in client_events[1:]] == [Unbound, CloseConnection]


def test_the_peer_may_send_nothing_new_while_its_unbind_waits():
    server = bound_smsc()
    server.receive_data(encode(SubmitSm(sequence_number=7, destination_addr="1")), 1.0)
    server.receive_data(header(C.UNBIND, seq=8), 1.0)
    events = server.receive_data(encode(SubmitSm(sequence_number=9, destination_addr="1")), 1.0)
    assert [type(e) for e in events] == [ProtocolViolation]
    assert server.data_to_send() == header(C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS, seq=9)


def test_an_unbind_whose_answers_never_come_is_answered_after_the_response_timeout():
    server = bound_smsc()
    server.receive_data(encode(SubmitSm(sequence_number=7, destination_addr="1")), 1.0)
    server.receive_data(header(C.UNBIND, seq=8), 2.0)
    assert server.handle_timer(61.9) == []
    events = server.handle_timer(62.0)
    assert [type(e) for e in events] == [CloseConnection]
    assert server.data_to_send() == header(C.UNBIND_RESP, seq=8)
    assert server.send_response(SubmitSmResp(sequence_number=7)) == []  # too late: dropped
    assert server.data_to_send() == b""


def test_answers_given_before_the_unbind_are_not_waited_for():
    server = bound_smsc()
    server.receive_data(encode(SubmitSm(sequence_number=7, destination_addr="1")), 1.0)
    assert server.send_response(SubmitSmResp(sequence_number=7, message_id="1")) == []
    server.data_to_send()
    events = server.receive_data(header(C.UNBIND, seq=8), 1.0)
    assert [type(e) for e in events] == [Unbound, CloseConnection]
    assert server.data_to_send() == header(C.UNBIND_RESP, seq=8)
