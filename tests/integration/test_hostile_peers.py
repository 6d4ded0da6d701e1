"""Slow and hostile SMPP peers against the real gateway on loopback (issue 12, item 3):
a receiver that stops reading while 50,000 receipts are due, a peer writing one byte at a
time, 1,000 connections that never bind, and receivers that answer receipts with errors
or not at all."""
from __future__ import annotations

import select
import socket
import sqlite3
import statistics
import threading
import time

import psutil
import pytest
from gateway_harness import (
    ESME_ROK,
    ConnectionClosed,
    Esme,
    Gateway,
    RawClient,
    raw_client,
    wait_for,
)

from gateway.smpp import pdu as P
from gateway.smpp.codec import encode
from gateway.smpp.framing import Framer

pytestmark = pytest.mark.integration

ESME_RSYSERR = 0x08
WINDOW = 10


def queue_receipts(gw: Gateway, account: str, count: int) -> None:
    """Write `count` undelivered SMPP receipts for `account` straight into the stopped
    gateway's store (the outbox table its schema created), ids "r1".."r<count>"."""
    now = time.time()
    rows = [(account, "receipt", 1, 1, "4917000000", 1, 1, "4930123456",
             f"id:r{i} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
             f"stat:DELIVRD err:000 text:x".encode(), 4, 0, f"r{i}", 2, None, now)
            for i in range(1, count + 1)]
    connection = sqlite3.connect(gw.db_path)
    with connection:
        connection.executemany(
            "INSERT INTO outbox (account, kind, source_ton, source_npi, source_addr,"
            " destination_ton, destination_npi, destination_addr, body, esm_class,"
            " data_coding, message_id, message_state, network_error_code, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.close()


def outbox_count(gw: Gateway, account: str) -> int:
    return gw.query_db("SELECT count(*) FROM outbox WHERE account = ?", (account,))[0][0]


def read_deliver_sms(client: RawClient, timeout: float) -> list[P.DeliverSm]:
    """The next deliver_sm and every other one already received, unanswered."""
    batch = [client.read_pdu(timeout)]
    while client.buffer or client.inbox:  # whatever else is already here
        try:
            batch.append(client.read_pdu(0.001))
        except TimeoutError:
            break
    assert all(isinstance(pdu, P.DeliverSm) for pdu in batch), batch
    return batch


def acknowledge(client: RawClient, receipts: list[P.DeliverSm]) -> None:
    client.send_bytes(b"".join(encode(P.DeliverSmResp(sequence_number=r.sequence_number))
                               for r in receipts))


def read_receipts(client: RawClient, wanted: int, timeout: float) -> list[str]:
    """Read and acknowledge deliver_sm until `wanted` arrived; their receipted ids."""
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    while len(ids) < wanted:
        batch = read_deliver_sms(client, max(deadline - time.monotonic(), 0.001))
        ids += [pdu.tlvs.receipted_message_id for pdu in batch]
        acknowledge(client, batch)
    return ids


def rss(gw: Gateway) -> int:
    return psutil.Process(gw.proc.pid).memory_info().rss


def sample_rss_after(gw: Gateway, seconds: float) -> int:
    time.sleep(seconds)
    return rss(gw)


def round_trips(esme: Esme, count: int) -> float:
    """Seconds for `count` submits from `esme` and all their receipts."""
    started = time.monotonic()
    ids = [esme.submit_ok() for _ in range(count)]
    esme.wait_receipts(ids, timeout=30)
    esme.receipts.clear()
    return time.monotonic() - started


def test_a_receiver_that_stops_reading_stays_bounded_and_gets_every_receipt_later(
        start_gateway):
    gw = start_gateway()
    gw.add_account("stuck", "secret1", "10", "--throughput", "0", "--window", str(WINDOW))
    gw.add_account("other", "secret1", "100", "--throughput", "0")
    gw.stop()
    queue_receipts(gw, "stuck", 50_000)
    gw.start()
    with Esme(gw, "other", "secret1") as other:
        alone = round_trips(other, 200)
        baseline = rss(gw)
        stuck = raw_client(gw)
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert stuck.bind("stuck", "secret1", "receiver").command_status == ESME_ROK
        # it reads nothing now; another account's traffic goes on as before
        beside = round_trips(other, 200)
        assert beside < 3 * alone + 2.0, f"200 round trips: {beside:.2f} s, alone {alone:.2f} s"
        peak = max(rss(gw), *(sample_rss_after(gw, 0.1) for _ in range(20)))
        assert peak - baseline < 40 * 2**20, f"RSS grew {(peak - baseline) / 2**20:.1f} MB"
    # the window held: exactly WINDOW receipts went out unanswered
    early: list[P.DeliverSm] = []
    while len(early) < WINDOW:
        early += read_deliver_sms(stuck, 5)
    assert len(early) == WINDOW
    with pytest.raises(TimeoutError):
        stuck.read_pdu(0.5)
    # it reads again: the stream flows; half way it drops the connection without a word
    acknowledge(stuck, early)
    got = [r.tlvs.receipted_message_id for r in early] + read_receipts(stuck, 25_000, 120)
    acknowledged = set(got)
    stuck.send_bytes(encode(P.DeliverSmResp(sequence_number=1)))  # no harm: unknown answer
    stuck.close()
    wait_for(lambda: outbox_count(gw, "stuck") <= 50_000 - len(acknowledged) + WINDOW,
             10, message="the acknowledged receipts removed from the store")
    with raw_client(gw) as again:
        assert again.bind("stuck", "secret1", "receiver").command_status == ESME_ROK
        remaining = 50_000 - len(acknowledged)
        rest = read_receipts(again, remaining, 120)
        duplicates = acknowledged & set(rest)
        assert not duplicates, f"{len(duplicates)} acknowledged receipts sent again"
        assert acknowledged | set(rest) == {f"r{i}" for i in range(1, 50_001)}
        wait_for(lambda: outbox_count(gw, "stuck") == 0, 10, message="an empty outbox")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _answer_times(client: RawClient, count: int) -> list[float]:
    """Round-trip times of alternating enquire_link and submit_sm requests."""
    times = []
    for i in range(count):
        request = P.EnquireLink() if i % 2 else P.SubmitSm(
            source_addr_ton=1, source_addr_npi=1, source_addr="4930123456", dest_addr_ton=1,
            dest_addr_npi=1, destination_addr="4917000000", short_message=b"probe")
        started = time.monotonic()
        response = client.request(request)
        times.append(time.monotonic() - started)
        assert response.command_status == ESME_ROK, response
    return times


def test_a_byte_at_a_time_peer_and_a_thousand_idle_connections_delay_no_one(start_gateway):
    gw = start_gateway({"smpp": {"bind_timeout": 10.0}})
    gw.add_account("probe", "secret1", "100", "--throughput", "0")
    gw.add_account("slow", "secret1", "100", "--throughput", "0")
    with raw_client(gw) as probe, raw_client(gw, timeout=30) as slow:
        assert probe.bind("probe", "secret1").command_status == ESME_ROK
        assert slow.bind("slow", "secret1", "transmitter").command_status == ESME_ROK
        baseline = _answer_times(probe, 200)
        idle = []
        stop = threading.Event()
        sent = []

        def trickle() -> None:  # one valid submit_sm after another, a byte every 2 ms
            seq = 100
            while not stop.is_set():
                seq += 1
                frame = encode(P.SubmitSm(sequence_number=seq, source_addr="4930123456",
                                          destination_addr="4917000000", short_message=b"s"))
                for octet in frame:
                    slow.sock.sendall(bytes([octet]))
                    time.sleep(0.002)
                sent.append(seq)

        writer = threading.Thread(target=trickle, daemon=True)
        writer.start()
        try:
            for _ in range(1000):
                idle.append(socket.create_connection((gw.host, gw.port), timeout=5))
            opened = time.monotonic()
            hostile = _answer_times(probe, 200)
            measured = time.monotonic() - opened
            # a fast measurement can end inside the trickle's first frame: let two complete
            trickled = time.monotonic() + 10
            while len(sent) < 2 and writer.is_alive() and time.monotonic() < trickled:
                time.sleep(0.01)
        finally:
            stop.set()
            writer.join(10)
        assert measured < 10, "the measurement outlasted the bind timeout"
        calm_p99, hostile_p99 = _percentile(baseline, 0.99), _percentile(hostile, 0.99)
        assert hostile_p99 < calm_p99 + 0.1, (
            f"p99 {hostile_p99 * 1000:.1f} ms among hostile peers, {calm_p99 * 1000:.1f} ms "
            f"before (median {statistics.median(hostile) * 1000:.1f} ms)")
        # the trickled submits were framed and answered like any other
        answered = {slow.expect(P.SubmitSmResp, timeout=10).sequence_number for _ in sent}
        assert answered == set(sent) and len(sent) >= 2
    # the connections that never bound are closed after bind_timeout
    deadline = time.monotonic() + 30
    open_ = list(idle)
    while open_ and time.monotonic() < deadline:
        readable, _, _ = select.select(open_, [], [], 1.0)
        for sock in readable:
            try:
                data = sock.recv(64)
            except OSError:
                data = b""
            if not data:
                open_.remove(sock)
                sock.close()
    assert not open_, f"{len(open_)} connections that never bound are still open"
    for sock in idle:
        sock.close()


def test_receipts_answered_with_errors_are_retried_per_the_policy_and_never_after_ack(
        start_gateway):
    gw = start_gateway({"receipts": {"retry_delay": 1.0}})
    gw.add_account("picky", "secret1", "10", "--throughput", "0")
    with raw_client(gw) as client:
        assert client.bind("picky", "secret1").command_status == ESME_ROK
        ids = {client.submit().message_id for _ in range(3)}
        refused_at = {}
        while len(refused_at) < 3:  # every first delivery answered with an error
            receipt = client.expect(P.DeliverSm)
            refused_at[receipt.tlvs.receipted_message_id] = time.monotonic()
            client.send(P.DeliverSmResp(sequence_number=receipt.sequence_number,
                                        command_status=ESME_RSYSERR))
        assert set(refused_at) == ids
        retried = set()
        while len(retried) < 3:  # sent again after retry_delay, then acknowledged
            receipt = client.expect(P.DeliverSm, timeout=10)
            message_id = receipt.tlvs.receipted_message_id
            assert time.monotonic() - refused_at[message_id] >= 0.9
            retried.add(message_id)
            client.send(P.DeliverSmResp(sequence_number=receipt.sequence_number))
        assert retried == ids
        wait_for(lambda: outbox_count(gw, "picky") == 0, 10, message="receipts acknowledged")
        with pytest.raises(TimeoutError):  # acknowledged: never sent again
            client.read_pdu(3.0)


def test_a_receiver_that_never_answers_is_closed_and_the_receipt_comes_again_once(
        start_gateway):
    gw = start_gateway({"smpp": {"response_timeout": 2.0}})
    gw.add_account("mute", "secret1", "10", "--throughput", "0")
    with raw_client(gw) as client:
        assert client.bind("mute", "secret1").command_status == ESME_ROK
        message_id = client.submit().message_id
        first = client.expect(P.DeliverSm)
        assert first.tlvs.receipted_message_id == message_id
        closed_after = client.wait_closed(10)  # never answered: the bind is dropped
        assert 1.0 < closed_after < 5.0
    with raw_client(gw) as again:
        assert again.bind("mute", "secret1", "receiver").command_status == ESME_ROK
        resent = again.expect(P.DeliverSm)
        assert resent.tlvs.receipted_message_id == message_id
        again.send(P.DeliverSmResp(sequence_number=resent.sequence_number))
        wait_for(lambda: outbox_count(gw, "mute") == 0, 10, message="the receipt acknowledged")
    gw.restart()
    with raw_client(gw) as after:
        assert after.bind("mute", "secret1", "receiver").command_status == ESME_ROK
        with pytest.raises((TimeoutError, ConnectionClosed)):
            after.read_pdu(2.0)


def test_a_peer_that_writes_but_never_reads_is_paused_not_buffered_without_bound(
        start_gateway):
    gw = start_gateway()
    gw.add_account("deaf", "secret1", "10", "--throughput", "0")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    sock.connect((gw.host, gw.port))
    sock.settimeout(10)
    sock.sendall(encode(P.BindTransceiver(sequence_number=1, system_id="deaf",
                                          password="secret1")))
    framer = Framer()
    while not (frames := framer.feed(sock.recv(4096))):
        pass
    assert int.from_bytes(frames[0][8:12], "big") == ESME_ROK
    baseline = rss(gw)
    count = 400_000  # 6.4 MB of answers: past the kernel's buffers and the transport's
    requests = b"".join(encode(P.EnquireLink(sequence_number=n)) for n in range(2, count + 2))
    sender = threading.Thread(target=sock.sendall, args=(requests,), daemon=True)
    sender.start()  # blocks once the gateway stops reading us
    gw.wait_log(r"not reading; write buffer full, pausing the session", timeout=60)
    time.sleep(1.0)
    assert sender.is_alive(), "the gateway read everything without pausing"
    assert rss(gw) - baseline < 40 * 2**20, f"RSS grew {(rss(gw) - baseline) / 2**20:.1f} MB"
    # it reads now: every request is answered, in order, and the session goes on
    answered, expected = 0, 2
    deadline = time.monotonic() + 120
    while answered < count:
        assert time.monotonic() < deadline, f"{answered} of {count} answered"
        for frame in framer.feed(sock.recv(1 << 16)):
            assert int.from_bytes(frame[4:8], "big") == 0x80000015  # enquire_link_resp
            assert int.from_bytes(frame[12:16], "big") == expected
            answered += 1
            expected += 1
    sender.join(10)
    gw.wait_log(r"write buffer drained, resuming the session", timeout=10)
    sock.close()
