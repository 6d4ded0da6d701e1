"""The upstream SMPP connector with its transport faked (StringTransport, task.Clock) and a
scripted upstream SMSC on the sans-I/O session: submits, answers, receipts in every id
spelling, receipts that overtake their submit_sm_resp, throttling, unknown outcomes,
fairness across accounts, and MO."""
from __future__ import annotations

import os
import sys
from decimal import Decimal

import pytest
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import capturedLogs

from gateway.connectors.smpp import SmppConnector
from gateway.core.connector_settings import ConnectorSettings
from gateway.core.ports import InboundRejected
from gateway.model import Address, Message, MessageState
from gateway.smpp import pdu as P
from gateway.smpp.constants import CommandStatus
from gateway.smpp.tlv import make_tlvs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream_fakes import (  # noqa: E402
    FakeEndpoint,
    MemoryUpstreamStore,
    RecordingSink,
    ScriptedSmsc,
)


class RefusingInbound:
    def __init__(self) -> None:
        self.received = []

    def message_received(self, message):
        self.received.append(message)
        return fail(InboundRejected(CommandStatus.ESME_RINVDSTADR, "nobody"))


class Rig:
    def __init__(self, **settings) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryUpstreamStore()
        self.sink = RecordingSink(self.store)
        self.inbound = RefusingInbound()
        self.endpoint = FakeEndpoint()
        base = {"name": "up", "host": "127.0.0.1", "system_id": "a", "password": "b",
                "response_timeout": 30.0, "enquire_link": 0, "receipt_hold": 10.0}
        base.update(settings)
        self.connector = SmppConnector(
            ConnectorSettings(**base), sink=self.sink, store=self.store, inbound=self.inbound,
            clock=self.clock, reactor=None, endpoint=self.endpoint)
        self.connector.start()
        self.smscs = [ScriptedSmsc(p, t, self.clock) for p, t in self.endpoint.connections]
        for smsc in self.smscs:
            smsc.pump()  # accept the bind
        self.smsc = self.smscs[0]
        self._ids = 0

    def message(self, account: str = "acme", destination: str = "4917000000") -> Message:
        self._ids += 1
        return Message(id=str(1000 + self._ids), account=account,
                       source=Address(ton=1, npi=1, addr="4930123456"),
                       destination=Address(ton=1, npi=1, addr=destination),
                       body=b"hello", registered_delivery=1, price=Decimal("0.05"))

    def send(self, *messages: Message) -> None:
        for m in messages:
            self.store.messages[m.id] = m
            self.connector.send(m)
        self.clock.advance(0)  # send pumps after the caller's turn


def receipt_pdu(upstream_id: str, stat: str = "DELIVRD", *, tlv_id: str | None = None,
                state: int | None = None, err: str = "000") -> P.DeliverSm:
    text = (f"id:{upstream_id} sub:001 dlvrd:001 submit date:2611220000 "
            f"done date:2611220001 stat:{stat} err:{err} text:hello").encode()
    return P.DeliverSm(esm_class=0x04, short_message=text,
                       tlvs=make_tlvs(receipted_message_id=tlv_id, message_state=state))


def test_binds_and_reports_up():
    rig = Rig()
    assert rig.connector.is_up
    assert rig.connector.health()["binds"][0]["state"] == "bound"


def test_pair_opens_a_transmitter_and_a_receiver_per_bind():
    rig = Rig(bind="pair", binds=2)
    kinds = sorted(b.kind for b in rig.connector.binds)
    assert kinds == ["receiver", "receiver", "transmitter", "transmitter"]
    assert len(rig.endpoint.connections) == 4


def test_submit_is_marked_durably_before_it_leaves():
    rig = Rig()
    rig.store.hold = []
    m = rig.message()
    rig.send(m)
    assert rig.smsc.take_submits() == []  # the mark is not durable yet: nothing sent
    assert rig.store.records[m.id]["status"] == "submitting"
    rig.store.hold[0].callback([(True, None)])
    [submit] = rig.smsc.take_submits()
    assert submit.destination_addr == "4917000000" and submit.registered_delivery == 1


def test_a_pump_run_is_marked_in_one_store_call_and_its_answers_recorded_in_one():
    rig = Rig(window=10)
    rig.store.hold = []
    messages = [rig.message(destination=f"491700000{i}") for i in range(3)]
    rig.send(*messages)
    assert rig.store.calls == [("mark_submitting_each", 3)]
    assert rig.smsc.take_submits() == []
    rig.store.hold[0].callback([(True, None)] * 3)
    submits = rig.smsc.take_submits()
    assert [s.destination_addr for s in submits] == [m.destination.addr for m in messages]
    for n, submit in enumerate(submits):  # the three answers arrive in one read
        rig.smsc.session.send_response(P.SubmitSmResp(
            sequence_number=submit.sequence_number, message_id=f"AB{n}"))
    rig.smsc.flush()
    assert rig.store.calls[1:] == [("record_submitted_each", 3)]
    assert [rig.store.records[m.id]["upstream_id"] for m in messages] == ["AB0", "AB1", "AB2"]


def test_a_message_whose_mark_failed_waits_while_the_rest_of_its_run_goes():
    rig = Rig(window=10, throttle_backoff=5.0)
    rig.store.hold = []
    first, second = rig.message(destination="4917000001"), rig.message(destination="4917000002")
    rig.send(first, second)
    rig.store.hold[0].callback([(False, OSError("disk full")), (True, None)])
    [submit] = rig.smsc.take_submits()
    assert submit.destination_addr == "4917000002"
    assert rig.connector.health()["queued"] == 1  # again, after the pause
    rig.store.hold = None
    rig.clock.advance(5.0)
    [again] = rig.smsc.take_submits()
    assert again.destination_addr == "4917000001"


def test_a_receipt_in_the_read_of_its_answer_is_matched_in_another_spelling():
    rig = Rig()
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.session.send_response(P.SubmitSmResp(sequence_number=submit.sequence_number,
                                                  message_id="1A2B3C"))
    rig.smsc.session.send_request(receipt_pdu(str(0x1A2B3C)), rig.clock.seconds())
    rig.smsc.flush()  # the answer and its receipt in one read, nothing else in flight
    assert rig.sink.finals == [(m.id, MessageState.DELIVERED, 0)]


def test_messages_whose_marks_failed_go_again_in_their_order():
    rig = Rig(window=10, throttle_backoff=5.0)
    rig.store.hold = []
    messages = [rig.message(destination=f"491700000{i}") for i in range(3)]
    rig.send(*messages)
    with capturedLogs() as events:
        rig.store.hold[0].callback([(False, OSError("disk full"))] * 3)
    assert rig.smsc.take_submits() == []
    [event] = events  # one line for the run, not one traceback per message
    assert (event["count"], event["total"], event["id"]) == (3, 3, messages[0].id)
    assert event["log_failure"].check(OSError)
    rig.store.hold = None
    rig.clock.advance(5.0)
    assert [s.destination_addr for s in rig.smsc.take_submits()] == [
        m.destination.addr for m in messages]


@pytest.mark.parametrize("resp_id, receipt_id", [
    ("1A2B3C", "1A2B3C"),          # the same
    ("1a2b3c", "1A2B3C"),          # case
    ("0001A2B3C", "1A2B3C"),       # leading zeros
    ("1A2B3C", str(0x1A2B3C)),     # hex answered, decimal in the receipt
    ("12345", format(12345, "x")),  # decimal answered, hex in the receipt
    ("12345", "0000012345"),       # zero-padded decimal
])
def test_receipts_match_however_the_id_is_spelled(resp_id, receipt_id):
    rig = Rig()
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, resp_id)
    rig.smsc.deliver(receipt_pdu(receipt_id))
    assert rig.sink.finals == [(m.id, MessageState.DELIVERED, 0)]
    assert [r.command_status for r in rig.smsc.responses] == [0]


def test_receipt_by_tlvs_only_with_an_error_code():
    rig = Rig()
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, "77")
    pdu = P.DeliverSm(esm_class=0x04, tlvs=make_tlvs(
        receipted_message_id="77", message_state=5, network_error_code=b"\x03\x00\x22"))
    rig.smsc.deliver(pdu)
    assert rig.sink.finals == [(m.id, MessageState.UNDELIVERABLE, 0x22)]


def test_exact_text_match_wins_over_a_numeric_reading():
    rig = Rig()
    first, second = rig.message(), rig.message()
    rig.send(first, second)
    s1, s2 = rig.smsc.take_submits()
    rig.smsc.answer_submit(s1, "10")  # reads as 10 and as 0x10 = 16
    rig.smsc.answer_submit(s2, "16")
    rig.smsc.deliver(receipt_pdu("16"))
    assert rig.sink.finals == [(second.id, MessageState.DELIVERED, 0)]


def test_deliver_sm_resp_waits_until_the_final_state_is_durable():
    rig = Rig()
    rig.sink.pending = []
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, "abc")
    rig.smsc.deliver(receipt_pdu("abc"))
    assert rig.smsc.responses == []
    rig.sink.pending[0].callback(None)
    rig.smsc.pump()
    assert [r.command_status for r in rig.smsc.responses] == [0]


def test_receipt_that_overtakes_its_submit_sm_resp_is_held_and_matched():
    rig = Rig()
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.deliver(receipt_pdu("00ff"))  # before the answer
    assert rig.sink.finals == [] and rig.smsc.responses == []
    assert rig.connector.health()["held_receipts"] == 1
    rig.smsc.answer_submit(submit, "FF")
    rig.smsc.pump()
    assert rig.sink.finals == [(m.id, MessageState.DELIVERED, 0)]
    assert [r.command_status for r in rig.smsc.responses] == [0]
    assert rig.connector.health()["held_receipts"] == 0


def test_unmatched_receipt_is_acknowledged_after_the_hold():
    rig = Rig(receipt_hold=5.0)
    m = rig.message()
    rig.send(m)
    rig.smsc.take_submits()  # left unanswered: the receipt may be its
    rig.smsc.deliver(receipt_pdu("999"))
    assert rig.smsc.responses == []
    rig.clock.advance(5.0)
    rig.smsc.pump()
    assert [r.command_status for r in rig.smsc.responses] == [0]
    assert rig.sink.finals == [] and rig.connector.counters.unmatched_receipts == 1


@pytest.mark.parametrize("status", [CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL,
                                    CommandStatus.ESME_RINVBNDSTS])
def test_throttled_submit_backs_off_and_goes_again(status):
    # RINVBNDSTS: what an upstream that is unbinding (shutting down) answers to a submit that
    # crossed its unbind; it did not take the message, so it goes again, never REJECTD
    rig = Rig(throttle_backoff=2.0)
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, status=status)
    assert m.id not in rig.store.records  # never accepted upstream: the mark is released
    assert rig.smsc.take_submits() == []
    rig.clock.advance(1.9)
    assert rig.smsc.take_submits() == []
    rig.clock.advance(0.2)
    [again] = rig.smsc.take_submits()
    rig.smsc.answer_submit(again, "5")
    assert rig.store.records[m.id]["status"] == "submitted" and rig.sink.finals == []


def test_permanent_refusal_rejects_and_refunds():
    rig = Rig()
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, status=CommandStatus.ESME_RINVDSTADR)
    assert rig.sink.finals == [(m.id, MessageState.REJECTED, CommandStatus.ESME_RINVDSTADR)]
    assert rig.store.refunds == [m.id]


def test_refund_can_be_turned_off():
    rig = Rig(refund_rejected=False)
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, status=CommandStatus.ESME_RSUBMITFAIL)
    assert rig.sink.finals[0][1] is MessageState.REJECTED and rig.store.refunds == []


@pytest.mark.parametrize("enquire_link", [0, 30.0])
def test_no_answer_in_time_ends_unknown_and_is_not_sent_again(enquire_link):
    rig = Rig(response_timeout=5.0, enquire_link=enquire_link)
    m = rig.message()
    rig.send(m)
    assert len(rig.smsc.take_submits()) == 1
    rig.clock.advance(5.0)
    assert rig.sink.finals == [(m.id, MessageState.UNKNOWN, 0)]
    assert rig.store.refunds == []
    # the connection was closed; a new one binds and nothing is re-sent
    protocol, transport = rig.endpoint.connections[0]
    protocol.connectionLost(None)
    rig.clock.advance(60)
    for p, t in rig.endpoint.connections[1:]:
        smsc = ScriptedSmsc(p, t, rig.clock)
        smsc.pump()
        assert smsc.take_submits() == []


def test_connection_lost_with_submits_outstanding_ends_them_unknown_once():
    rig = Rig()
    first, second = rig.message(), rig.message()
    rig.send(first, second)
    s1, s2 = rig.smsc.take_submits()
    rig.smsc.answer_submit(s1, "1")
    protocol, _ = rig.endpoint.connections[0]
    protocol.connectionLost(None)
    assert rig.sink.finals == [(second.id, MessageState.UNKNOWN, 0)]
    assert not rig.connector.is_up


def test_messages_wait_while_no_bind_is_up_and_go_when_one_binds():
    rig = Rig()
    protocol, _ = rig.endpoint.connections[0]
    protocol.connectionLost(None)
    m = rig.message()
    rig.send(m)
    assert rig.connector.health()["queued"] == 1
    rig.clock.advance(60)  # ClientService reconnects
    p, t = rig.endpoint.connections[-1]
    smsc = ScriptedSmsc(p, t, rig.clock)
    smsc.pump()
    [submit] = smsc.take_submits()
    assert submit.destination_addr == m.destination.addr


def test_accounts_are_served_round_robin_not_in_order_of_arrival():
    rig = Rig(window=2)
    bulk = [rig.message("bulk", destination=f"49170000{i:02}") for i in range(10)]
    small = [rig.message("small", destination=f"49171000{i:02}") for i in range(2)]
    rig.send(*bulk)  # the window takes two; eight wait
    rig.send(*small)  # and the small ones after them
    by_destination = {m.destination.addr: m.account for m in bulk + small}
    sent: list[str] = []
    for round_ in range(3):
        submits = rig.smsc.take_submits()
        for submit in submits:
            sent.append(by_destination[submit.destination_addr])
            rig.smsc.answer_submit(submit, f"{round_}{len(sent)}")
    # first window: bulk, bulk; then the small account gets every other slot
    assert sent == ["bulk", "bulk", "bulk", "small", "bulk", "small"]


def test_throughput_cap_spaces_submits():
    rig = Rig(throughput=2.0, window=100)
    rig.send(*[rig.message() for _ in range(6)])
    assert len(rig.smsc.take_submits()) == 2  # the burst
    rig.clock.advance(0.5)
    assert len(rig.smsc.take_submits()) == 1
    rig.clock.advance(1.0)
    assert len(rig.smsc.take_submits()) == 2


def test_mo_goes_to_the_inbound_sink_and_its_refusal_is_answered():
    rig = Rig()
    mo = P.DeliverSm(source_addr="4917000000", destination_addr="12345", short_message=b"hi")
    rig.smsc.deliver(mo)
    assert rig.inbound.received[0].body == b"hi"
    assert rig.inbound.received[0].connector == "up"
    assert [r.command_status for r in rig.smsc.responses] == [CommandStatus.ESME_RINVDSTADR]


def test_stop_hands_back_what_was_queued():
    rig = Rig(window=1)
    a, b = rig.message(), rig.message()
    rig.send(a, b)
    d = rig.connector.stop()
    rig.smsc.pump()
    queued = []
    d.addCallback(queued.extend)
    protocol, _ = rig.endpoint.connections[0]
    protocol.connectionLost(None)
    assert [m.id for m in queued] == [b.id]


def test_receipt_for_a_submit_answered_here_needs_no_store_lookup():
    rig = Rig()
    lookups = []
    find = rig.store.find_by_upstream_id
    rig.store.find_by_upstream_id = lambda *args: lookups.append(args) or find(*args)
    m = rig.message()
    rig.send(m)
    [submit] = rig.smsc.take_submits()
    rig.smsc.answer_submit(submit, "abc")
    rig.smsc.deliver(receipt_pdu("abc", "ENROUTE"))  # intermediate: still awaited
    rig.smsc.deliver(receipt_pdu("abc"))
    assert lookups == []
    assert rig.sink.finals == [(m.id, MessageState.DELIVERED, 0)]
    rig.smsc.deliver(receipt_pdu("abc"))  # a repeat: the store says it is final already
    assert len(lookups) == 1
    assert rig.sink.finals == [(m.id, MessageState.DELIVERED, 0)]
    assert [r.command_status for r in rig.smsc.responses] == [0, 0, 0]


class BatchingSink(RecordingSink):
    """A sink that records a read's receipts together, as Router.messages_final does."""

    def __init__(self, store) -> None:
        super().__init__(store)
        self.batches: list[list[str]] = []
        self.held: list[Deferred] = []

    def messages_final(self, outcomes):
        self.batches.append([message.id for message, *_ in outcomes])
        for outcome in outcomes:
            super().message_final(*outcome)
        d: Deferred = Deferred()
        self.held.append(d)
        return d


def test_receipts_of_one_read_are_recorded_together_and_answered_once_durable():
    rig = Rig()
    rig.sink = rig.connector._sink = BatchingSink(rig.store)
    messages = [rig.message() for _ in range(3)]
    rig.send(*messages)
    for n, submit in enumerate(rig.smsc.take_submits()):
        rig.smsc.answer_submit(submit, f"id{n}")
    for n, stat in enumerate(("DELIVRD", "UNDELIV", "DELIVRD")):
        rig.smsc.session.send_request(receipt_pdu(f"id{n}", stat), rig.clock.seconds())
    rig.smsc.flush()  # the three deliver_sm reach the connector in one read
    rig.smsc.pump()
    assert rig.sink.batches == [[m.id for m in messages]]
    assert rig.smsc.responses == []  # nothing answered before the store has them
    rig.sink.held[0].callback(None)
    rig.smsc.pump()
    assert [r.command_status for r in rig.smsc.responses] == [0, 0, 0]
