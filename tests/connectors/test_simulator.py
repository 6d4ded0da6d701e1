"""The simulator connector: outcomes by rule, per-rule delays, expiry while waiting."""
from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from gateway.config import ConfigError, load_config
from gateway.connectors.simulator import OutcomeRule, SimulatorConfig, SimulatorConnector
from gateway.model import Address, Message, MessageState


class Sink:
    def __init__(self) -> None:
        self.finals: list[tuple[str, MessageState, int, float]] = []

    def message_final(self, message, state, error_code, done_at) -> None:
        self.finals.append((message.id, state, error_code, done_at))


def message(message_id: str, to: str = "4917600000001", expires_at: float | None = None):
    return Message(id=message_id, account="acme", source=Address(),
                   destination=Address(ton=1, npi=1, addr=to), body=b"hi",
                   expires_at=expires_at)


def simulator(*rules: OutcomeRule, delay: float = 1.0):
    clock, sink = Clock(), Sink()
    return SimulatorConnector(SimulatorConfig(delay=delay, rules=rules), sink, clock), sink, clock


def test_messages_are_delivered_after_the_delay_unless_a_rule_says_otherwise():
    sim, sink, clock = simulator(OutcomeRule(state=MessageState.UNDELIVERABLE, prefix="+4915",
                                             error_code=11))
    sim.send(message("1"))
    sim.send(message("2", to="4915100000000"))
    clock.advance(0.9)
    assert sink.finals == []
    clock.advance(0.1)
    assert sink.finals == [("1", MessageState.DELIVERED, 0, 1.0),
                           ("2", MessageState.UNDELIVERABLE, 11, 1.0)]
    assert sim.pending() == 0


def test_a_rule_with_its_own_delay_answers_later_without_holding_up_the_others():
    sim, sink, clock = simulator(
        OutcomeRule(state=MessageState.DELIVERED, prefix="49170", delay=30.0))
    sim.send(message("slow", to="4917000000000"))
    sim.send(message("fast"))
    clock.advance(1.0)
    assert [f[0] for f in sink.finals] == ["fast"]
    assert sim.pending() == 1
    clock.advance(29.0)
    assert [f[0] for f in sink.finals] == ["fast", "slow"]


def test_a_shorter_delay_sent_later_still_moves_the_timer_forward():
    sim, sink, clock = simulator(
        OutcomeRule(state=MessageState.DELIVERED, prefix="49170", delay=0.5), delay=10.0)
    sim.send(message("default"))
    sim.send(message("quick", to="4917000000000"))
    clock.advance(0.5)
    assert [f[0] for f in sink.finals] == ["quick"]


def test_a_message_whose_answer_comes_after_its_validity_ends_expired():
    sim, sink, clock = simulator(OutcomeRule(state=MessageState.DELIVERED, delay=120.0))
    sim.send(message("late", expires_at=60.0))
    sim.send(message("in-time", expires_at=500.0))
    clock.advance(120.0)
    assert sink.finals == [("late", MessageState.EXPIRED, 0, 120.0),
                           ("in-time", MessageState.DELIVERED, 0, 120.0)]


def test_stop_drops_the_timer():
    sim, sink, clock = simulator()
    sim.send(message("1"))
    sim.stop()
    assert clock.getDelayedCalls() == []


def test_a_rule_delay_is_configurable_and_must_not_be_negative():
    config = load_config(None, {"simulator": {"outcomes": [{"state": "DELIVRD", "delay": 90}]}})
    assert config.simulator.rules[0].delay == 90.0
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"simulator": {"outcomes": [{"state": "DELIVRD", "delay": -1}]}})
    assert caught.value.key == "simulator.outcomes[0].delay"
