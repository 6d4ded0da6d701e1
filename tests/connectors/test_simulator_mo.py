"""MO from the simulator: echoes of delivered messages, and `inject` with its split, order
and drop, handed to a recording inbound sink one part at a time."""
from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from gateway.connectors.simulator import OutcomeRule, SimulatorConfig, SimulatorConnector
from gateway.core.ports import InboundRejected
from gateway.model import Address, Message, MessageState
from gateway.smpp.constants import CommandStatus
from gateway.text.concat import Sar, Segment, reassemble
from gateway.text.encoding import decode_body, encode_text
from gateway.text.udh import parse_udh

SENDER = Address(ton=5, npi=0, addr="ACME")
HANDSET = Address(ton=1, npi=1, addr="4917600000001")
LONG = "0123456789" * 40  # 400 GSM characters: 3 parts


class Outcomes:
    def message_final(self, message, state, error_code, done_at) -> None:
        pass


class Inbound:
    """Records the MO handed to it; answers each with `answer(message)`."""

    def __init__(self, answer=lambda message: succeed(None)) -> None:
        self.received: list = []
        self._answer = answer

    def message_received(self, message) -> Deferred[None]:
        self.received.append(message)
        return self._answer(message)


def simulator(echo: bool = True, *rules: OutcomeRule, inbound: Inbound | None = None):
    clock = Clock()
    sim = SimulatorConnector(SimulatorConfig(delay=1.0, echo=echo, rules=rules), Outcomes(),
                             clock)
    sink = inbound or Inbound()
    sim.set_inbound(sink)
    return sim, sink, clock


def message(text: str = "hello", to: str = HANDSET.addr, **changes) -> Message:
    fields = dict(id="1", account="acme", source=SENDER,
                  destination=Address(ton=1, npi=1, addr=to), body=encode_text(text, 0))
    fields.update(changes)
    return Message(**fields)


def text_of(messages) -> str:
    segments = [Segment(body=m.body, esm_class_udhi=bool(m.esm_class & 0x40),
                        sar=Sar(ref=m.sar[0], total=m.sar[1], seq=m.sar[2])
                        if m.sar[0] is not None else None) for m in messages]
    return decode_body(reassemble(segments), messages[0].data_coding)


# --- echo -------------------------------------------------------------------------------------

def test_echo_answers_a_delivered_message_from_its_destination_to_its_source():
    sim, sink, clock = simulator()
    sim.send(message("hello"))
    clock.advance(0.9)
    assert sink.received == []
    clock.advance(0.1)
    [mo] = sink.received
    assert (mo.source, mo.destination) == (Address(ton=1, npi=1, addr=HANDSET.addr), SENDER)
    assert (mo.body, mo.esm_class, mo.sar) == (b"hello", 0, (None, None, None))
    assert (mo.connector, mo.received_at) == ("simulator", 1.0)


def test_a_long_echo_comes_as_concatenated_udh_parts():
    sim, sink, clock = simulator()
    sim.send(message(LONG))
    clock.advance(1.0)
    assert len(sink.received) == 3
    assert all(m.esm_class == 0x40 for m in sink.received)
    assert [parse_udh(m.body)[0].concat.seq for m in sink.received] == [1, 2, 3]
    assert text_of(sink.received) == LONG


def test_echo_repeats_the_text_of_a_part_without_its_udh():
    sim, sink, clock = simulator()
    udh = bytes([5, 0x00, 3, 9, 2, 1])
    sim.send(message(esm_class=0x40, body=udh + b"part one"))
    clock.advance(1.0)
    [mo] = sink.received
    assert (mo.body, mo.esm_class) == (b"part one", 0)


def test_no_echo_when_off_or_for_a_message_that_was_not_delivered():
    sim, sink, clock = simulator(False)
    sim.send(message())
    clock.advance(1.0)
    assert sink.received == []
    sim, sink, clock = simulator(True, OutcomeRule(state=MessageState.UNDELIVERABLE))
    sim.send(message())
    clock.advance(1.0)
    assert sink.received == []


def test_a_refused_echo_is_only_logged():
    refuse = Inbound(lambda m: fail(InboundRejected(CommandStatus.ESME_RINVDSTADR, "nobody")))
    sim, sink, clock = simulator(inbound=refuse)
    sim.send(message())
    clock.advance(1.0)
    assert len(sink.received) == 1


# --- inject -----------------------------------------------------------------------------------

def test_inject_hands_a_short_text_on_as_one_message_and_fires_with_the_sinks_answer():
    sim, sink, _ = simulator(inbound=Inbound(lambda message: succeed("mo-1")))
    d = sim.inject("4917600000001", "12345", text="hi")
    assert d.result == ["mo-1"]
    [mo] = sink.received
    assert (mo.source.addr, mo.destination.addr, mo.body, mo.data_coding) == (
        "4917600000001", "12345", b"hi", 0)


def test_inject_splits_a_long_text_into_udh_parts_in_reverse_without_the_dropped_ones():
    sim, sink, _ = simulator()
    sim.inject("4917600000001", "12345", text=LONG, order="reverse", drop=(2,))
    assert [parse_udh(m.body)[0].concat.seq for m in sink.received] == [3, 1]


def test_inject_numbers_parts_by_sar_when_asked_and_picks_ucs2_for_such_text():
    sim, sink, _ = simulator()
    text = "Grüße 😀 " * 20
    sim.inject("4917600000001", "12345", text=text, split="sar", ref=0x1234)
    assert all(m.esm_class == 0 and m.data_coding == 8 for m in sink.received)
    assert [m.sar for m in sink.received] == [(0x1234, len(sink.received), seq)
                                              for seq in range(1, len(sink.received) + 1)]
    assert text_of(sink.received) == text


def test_inject_without_split_hands_on_the_whole_body_and_hex_is_binary_by_default():
    sim, sink, _ = simulator()
    sim.inject("4917600000001", "12345", hex="00ff" * 200, split="none")
    sim.inject("4917600000001", "12345", hex=b"\x00\xff", data_coding=0xF5)
    first, second = sink.received
    assert (first.body, first.data_coding, first.esm_class) == (bytes.fromhex("00ff" * 200),
                                                                4, 0)
    assert (second.body, second.data_coding) == (b"\x00\xff", 0xF5)


def test_inject_hands_each_part_on_only_once_the_one_before_is_durable():
    answers: list[Deferred] = []

    def later(message):
        answers.append(Deferred())
        return answers[-1]

    def answer(n: int) -> None:
        answers[n].callback(f"mo-{n}")

    sim, sink, _ = simulator(inbound=Inbound(later))
    done: list = []
    sim.inject("4917600000001", "12345", text=LONG).addCallback(done.append)
    assert len(sink.received) == 1
    answer(0)
    answer(1)
    assert len(sink.received) == 3 and done == []
    answer(2)
    assert done == [["mo-0", "mo-1", "mo-2"]]


def test_inject_fails_with_the_refusal_and_hands_on_nothing_more():
    refuse = Inbound(lambda m: fail(InboundRejected(CommandStatus.ESME_RINVDSTADR, "nobody")))
    sim, sink, _ = simulator(inbound=refuse)
    d = sim.inject("4917600000001", "99999", text=LONG)
    assert len(sink.received) == 1
    failure = []
    d.addErrback(failure.append)
    assert failure[0].value.command_status == CommandStatus.ESME_RINVDSTADR


@pytest.mark.parametrize("kwargs", [
    {}, {"text": "a", "hex": "00"}, {"text": "a", "drop": (2,)}, {"text": "a", "split": "x"},
    {"text": "a", "order": "random"}, {"hex": "zz"}, {"text": "a", "ref": 70000},
])
def test_inject_refuses_bad_arguments_before_handing_anything_on(kwargs):
    sim, sink, _ = simulator()
    with pytest.raises(ValueError):
        sim.inject("4917600000001", "12345", **kwargs)
    assert sink.received == []
