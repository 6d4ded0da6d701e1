"""The SMPP server against a raw socket, PDUs built with gateway.smpp.codec or by hand:
bind state (S6), unknown commands (S3), framing and malformed bodies (S8), bind versions
(S2), timers (S5) and isolation of misbehaving connections."""
from __future__ import annotations

import os
import random
import socket
import struct
import time

import pytest
from gateway_harness import (
    ESME_RALYBND,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVCMDLEN,
    ESME_RINVMSGLEN,
    ESME_RINVSRCADR,
    ESME_ROK,
    Esme,
    P,
    RawClient,
    raw_client,
    raw_receipt_fields,
    receipt_fields,
    submit_sm,
)

from gateway.smpp.codec import encode

pytestmark = pytest.mark.integration

BIND_TIMEOUT = 1.0
RESPONSE_TIMEOUT = 2.0
ENQUIRE_LINK_INTERVAL = 1.5

GATEWAY_CONFIG = {
    "smpp": {
        "bind_timeout": BIND_TIMEOUT,
        "response_timeout": RESPONSE_TIMEOUT,
        "enquire_link_interval": ENQUIRE_LINK_INTERVAL,
    },
}

ESME_RINVOPTPARSTREAM = 0xC0
ESME_RINVPARLEN = 0xC2
SUBMIT_SM = 0x00000004
ENQUIRE_LINK = 0x00000015
_HEADER = struct.Struct(">IIII")


def frame(command_id: int, body: bytes, sequence: int, status: int = 0) -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, sequence) + body


def submit_body(**fields) -> bytes:
    return encode(submit_sm(**fields))[16:]


@pytest.fixture(scope="module")
def shared_account(gateway):
    """One account for the tests that only need a bound session (made once: the CLI's
    start-up is the slow part). Plenty of binds; transmitters, so no receipt of one test
    ever lands in another's session."""
    return gateway.add_account("shared", "secret1", "1000", "--throughput", "0",
                               "--max-binds", "100")


@pytest.fixture
def bound(gateway, shared_account):
    """A raw transmitter session: (client, system_id, password)."""
    system_id, password = shared_account
    client = raw_client(gateway)
    resp = client.bind(system_id, password, "transmitter")
    assert resp.command_status == ESME_ROK
    yield client, system_id, password
    client.close()


def assert_session_alive(client: RawClient) -> None:
    resp = client.request(P.EnquireLink())
    assert isinstance(resp, P.EnquireLinkResp) and resp.command_status == ESME_ROK


# --- bind state ----------------------------------------------------------------------------

def test_commands_before_bind_get_rinvbndsts(gateway, shared_account):
    system_id, password = shared_account
    with raw_client(gateway) as client:
        resp = client.request(submit_sm(sequence_number=41))
        assert isinstance(resp, P.SubmitSmResp)
        assert (resp.command_status, resp.sequence_number) == (ESME_RINVBNDSTS, 41)
        resp = client.request(P.QuerySm(message_id="1", sequence_number=42))
        assert isinstance(resp, P.QuerySmResp) and resp.command_status == ESME_RINVBNDSTS
        # refused, not disconnected: the client may still bind
        assert client.bind(system_id, password, "transmitter").command_status == ESME_ROK
        assert client.submit().command_status == ESME_ROK


def test_submit_on_a_receiver_bind_is_rinvbndsts(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password, "receiver").command_status == ESME_ROK
        resp = client.submit()
        assert isinstance(resp, P.SubmitSmResp) and resp.command_status == ESME_RINVBNDSTS
        assert_session_alive(client)


def test_second_bind_on_a_bound_session_is_ralybnd(bound):
    client, system_id, password = bound
    resp = client.bind(system_id, password, "transceiver")
    assert isinstance(resp, P.BindTransceiverResp) and resp.command_status == ESME_RALYBND
    assert client.submit().command_status == ESME_ROK  # still bound as before


@pytest.mark.parametrize("version", [0x33, 0x34, 0x50])
def test_bind_interface_versions_are_answered_as_3_4(gateway, shared_account, version):
    system_id, password = shared_account
    with raw_client(gateway) as client:
        resp = client.bind(system_id, password, "transmitter", interface_version=version)
        assert resp.command_status == ESME_ROK
        assert resp.system_id == "smsgw"
        assert resp.tlvs.sc_interface_version == 0x34


# --- commands the server does not offer ----------------------------------------------------

def test_unknown_command_id_gets_generic_nack_and_the_session_goes_on(bound):
    client, _, _ = bound
    client.send_bytes(frame(0x00000099, b"", 77))
    nack = client.expect(P.GenericNack)
    assert (nack.command_status, nack.sequence_number) == (ESME_RINVCMDID, 77)
    client.send_bytes(frame(0x00000099, b"some body", 78))
    assert client.expect(P.GenericNack).sequence_number == 78
    assert_session_alive(client)


@pytest.mark.parametrize("pdu", [
    P.CancelSm(message_id="1", source_addr="4930123456", destination_addr="4917000000"),
    P.ReplaceSm(message_id="1", source_addr="4930123456", short_message=b"x"),
    P.DataSm(source_addr="4930123456", destination_addr="4917000000", source_addr_ton=1,
             source_addr_npi=1, dest_addr_ton=1, dest_addr_npi=1),
    P.SubmitMulti(source_addr="4930123456", short_message=b"x", dest_addresses=(
        P.DestAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="4917000000"),)),
], ids=["cancel_sm", "replace_sm", "data_sm", "submit_multi"])
def test_commands_beyond_the_core_set_are_answered_and_the_session_goes_on(bound, pdu):
    """S3: cancel_sm, replace_sm, data_sm, submit_multi "come later": until a command is
    offered it gets generic_nack ESME_RINVCMDID; once offered, its own _resp. Either way
    the session goes on."""
    client, _, _ = bound
    resp = client.request(pdu)
    if isinstance(resp, P.GenericNack):
        assert resp.command_status == ESME_RINVCMDID
    else:
        assert resp.command_id == pdu.command_id | 0x80000000, resp
    assert_session_alive(client)


# --- framing -------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [8, 15, 65536 + 1, 10 * 1024 * 1024],
                         ids=["8", "15", "64KiB+1", "10MB"])
def test_bad_command_length_gets_generic_nack_then_close(bound, length):
    client, _, _ = bound
    client.send_bytes(_HEADER.pack(length, ENQUIRE_LINK, 0, 5))
    nack = client.expect(P.GenericNack)
    assert nack.command_status == ESME_RINVCMDLEN
    assert client.wait_closed(5) < 5


def test_bad_command_length_before_bind_closes_too(gateway):
    with raw_client(gateway) as client:
        client.send_bytes(_HEADER.pack(8, 0x00000009, 0, 1) + b"\0" * 32)
        assert client.expect(P.GenericNack).command_status == ESME_RINVCMDLEN
        client.wait_closed(5)


# --- malformed bodies ----------------------------------------------------------------------

def _no_nul_source(body: bytes) -> bytes:
    # service_type "\0", ton, npi, then a source_addr with no NUL in its 21 octets
    return b"\x00\x01\x01" + b"4" * 30 + body[3:]


def _sm_length_past_end(body: bytes) -> bytes:
    # the last 6 octets are sm_length (5) and "Hello": claim 200 octets instead
    assert body[-6] == 5
    return body[:-6] + b"\xc8" + body[-5:]


@pytest.mark.parametrize(("corrupt", "status"), [
    (_no_nul_source, ESME_RINVSRCADR),
    (_sm_length_past_end, ESME_RINVMSGLEN),
    (lambda body: body + b"\x04\x24\x00\x10abc", ESME_RINVOPTPARSTREAM),  # TLV past the end
    (lambda body: body + b"\x02\x0c\x00\x01\x07", ESME_RINVPARLEN),  # sar_msg_ref_num: 2 octets
], ids=["source-without-nul", "sm_length-past-end", "tlv-past-end", "tlv-bad-length"])
def test_malformed_submit_gets_a_specific_error_and_the_session_goes_on(bound, corrupt,
                                                                       status):
    client, _, _ = bound
    client.send_bytes(frame(SUBMIT_SM, corrupt(submit_body(body=b"Hello")), 1000))
    resp = client.expect(P.SubmitSmResp, sequence=1000)
    assert resp.command_status == status
    assert client.submit().command_status == ESME_ROK
    assert_session_alive(client)


def test_bad_udh_in_message_payload_is_refused_not_fatal(bound):
    """S8: esm_class says UDHI but the payload's UDH runs past its end: the submit must be
    answered with an error and the session go on. (In commit 0c1bdf0 the UdhError escaped
    Router.submit and the connection was dropped without a submit_sm_resp.)"""
    client, _, _ = bound
    resp = client.request(submit_sm(body=b"", esm_class=0x40,
                                     tlvs=P.Tlvs(message_payload=b"\x05\x00\x03")))
    assert isinstance(resp, P.SubmitSmResp)
    assert resp.command_status != ESME_ROK
    assert_session_alive(client)


# --- timers --------------------------------------------------------------------------------

def test_silent_connection_is_closed_after_bind_timeout(gateway):
    with raw_client(gateway) as client:
        elapsed = client.wait_closed(BIND_TIMEOUT + 4)
    assert BIND_TIMEOUT - 0.2 <= elapsed <= BIND_TIMEOUT + 2, elapsed


def test_bound_connection_outlives_the_bind_timeout(bound):
    client, _, _ = bound
    time.sleep(BIND_TIMEOUT + 0.3)
    assert_session_alive(client)


def test_gateway_sends_enquire_link_when_idle_and_closes_if_unanswered(bound):
    client, _, _ = bound
    client.answer_enquire_link = False
    started = time.monotonic()
    request = client.expect(P.EnquireLink, timeout=ENQUIRE_LINK_INTERVAL + 2)
    assert time.monotonic() - started >= ENQUIRE_LINK_INTERVAL - 0.3
    assert request.sequence_number > 0
    elapsed = client.wait_closed(RESPONSE_TIMEOUT + 3)  # no enquire_link_resp: closed
    assert RESPONSE_TIMEOUT - 0.5 <= elapsed <= RESPONSE_TIMEOUT + 2, elapsed


def test_unanswered_deliver_sm_closes_the_bind_and_is_redelivered(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as silent:
        assert silent.bind(system_id, password, "transceiver").command_status == ESME_ROK
        message_id = silent.submit(body=b"answer me").message_id
        deliver = silent.expect(P.DeliverSm)
        received = time.monotonic()
        assert raw_receipt_fields(deliver)["id"] == message_id
        # enquire_links keep being answered; only the deliver_sm goes unanswered
        elapsed = silent.wait_closed(RESPONSE_TIMEOUT + 4)
        assert RESPONSE_TIMEOUT - 0.5 <= time.monotonic() - received <= RESPONSE_TIMEOUT + 2.5
        assert elapsed > 0
    with Esme(gateway, system_id, password, "receiver") as rx:
        again = rx.wait_receipts([message_id])[message_id]
    assert receipt_fields(again)["id"] == message_id


# --- robustness ----------------------------------------------------------------------------

def test_byte_by_byte_bind_and_submit(gateway, shared_account):
    system_id, password = shared_account
    with raw_client(gateway) as client:
        bind = encode(P.BindTransmitter(system_id=system_id, password=password,
                                        sequence_number=1))
        for i in range(len(bind)):
            client.send_bytes(bind[i:i + 1])
            time.sleep(0.01)  # slow, and still within bind_timeout
        assert client.expect(P.BindTransmitterResp, sequence=1).command_status == ESME_ROK
        submit = encode(submit_sm(body=b"one byte at a time", sequence_number=2))
        for i in range(len(submit)):
            client.send_bytes(submit[i:i + 1])
        resp = client.expect(P.SubmitSmResp, sequence=2)
        assert resp.command_status == ESME_ROK and resp.message_id


def test_many_pdus_in_one_write(bound):
    client, _, _ = bound
    enquire = b"".join(encode(P.EnquireLink(sequence_number=100 + i)) for i in range(50))
    submits = b"".join(encode(submit_sm(body=b"batch", registered_delivery=0,
                                        sequence_number=200 + i)) for i in range(20))
    client.send_bytes(enquire + submits)
    answers = {}
    while len(answers) < 70:
        pdu = client.read_pdu()
        answers[pdu.sequence_number] = pdu
    assert all(isinstance(answers[100 + i], P.EnquireLinkResp) for i in range(50))
    ids = {answers[200 + i].message_id for i in range(20)}
    assert all(answers[200 + i].command_status == ESME_ROK for i in range(20))
    assert len(ids) == 20  # unique message ids


def _garbage_connections(gateway, system_id: str, password: str) -> None:
    rng = random.Random(1234)
    # 1. pure noise before any bind
    with raw_client(gateway) as noisy:
        noisy.send_bytes(os.urandom(4096))
        noisy.wait_closed(5)
    # 2. plausible headers with random bodies, unbound then bound
    for bound_first in (False, True):
        with raw_client(gateway) as fuzzy:
            if bound_first:
                assert fuzzy.bind(system_id, password, "transmitter").command_status == ESME_ROK
            for seq in range(1, 60):
                command_id = rng.choice([0x01, 0x02, 0x03, 0x04, 0x06, 0x09, 0x15, 0x21,
                                         0x103, 0x80000004, 0x80000005, 0x7777])
                body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 120)))
                try:
                    fuzzy.send_bytes(frame(command_id, body, seq))
                except OSError:
                    break  # the gateway may close on a random unbind: fine
            try:
                while True:
                    fuzzy.read_pdu(0.3)
            except Exception:  # timeout or closed: either is acceptable
                pass
    # 3. half a PDU, then hang up
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as half:
        half.sendall(_HEADER.pack(100, SUBMIT_SM, 0, 1) + b"\x00\x01")


def test_garbage_on_one_connection_does_not_disturb_another(gateway, new_account):
    system_id, password = new_account()
    with raw_client(gateway) as good:
        assert good.bind(system_id, password, "transceiver").command_status == ESME_ROK
        before = good.submit(body=b"before the noise")
        _garbage_connections(gateway, system_id, password)
        after = good.submit(body=b"after the noise")
        assert before.command_status == after.command_status == ESME_ROK
        wanted, got = {before.message_id, after.message_id}, set()
        while not wanted <= got:
            deliver = good.expect(P.DeliverSm)
            good.send(P.DeliverSmResp(sequence_number=deliver.sequence_number))
            got.add(deliver.tlvs.receipted_message_id)
        assert_session_alive(good)
    assert gateway.alive


def test_submits_sent_just_before_an_unbind_are_still_answered(gateway, new_account):
    """A client that pipelines submits and its unbind gets every submit_sm_resp (with the
    ids it needs to match receipts later) before the unbind_resp; each one is stored."""
    system_id, password = new_account()
    with raw_client(gateway) as client:
        assert client.bind(system_id, password).command_status == ESME_ROK
        burst = [submit_sm(f"49171200{n:02d}", sequence_number=10 + n) for n in range(20)]
        client.send_bytes(b"".join(encode(p) for p in burst)
                          + encode(P.Unbind(sequence_number=99)))
        answers = [client.read_pdu() for _ in range(21)]
        client.wait_closed(5.0)
    assert isinstance(answers[-1], P.UnbindResp) and answers[-1].sequence_number == 99
    resps = answers[:-1]
    assert all(isinstance(r, P.SubmitSmResp) and r.command_status == ESME_ROK for r in resps)
    assert sorted(r.sequence_number for r in resps) == list(range(10, 30))
    for resp in resps:
        assert gateway.query_db("SELECT count(*) FROM messages WHERE id = ?",
                                (resp.message_id,)) == [(1,)]
