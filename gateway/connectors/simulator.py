"""The built-in SMSC simulator: the default connector, so a fresh install works end to end.

It takes every message and, after a delay, reports a final state:
DELIVRD unless an outcome rule (by destination prefix and/or percentage)
says otherwise, so customers can exercise their error handling. A rule may
also set its own delay; a message whose answer would come after its
validity period ends (Message.expires_at) ends EXPIRED instead, as on a
real network where the SMSC gives up on an unreachable handset.

MO (simulator_mo.py): `inject` hands a handset's text to the inbound sink, and with
`echo` every delivered message is answered by an MO from its destination with its text.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from gateway.connectors.simulator_mo import MoSource, Order, Split
from gateway.core.ports import InboundSink, OutcomeSink
from gateway.model import Address, Message, MessageState


@dataclass(frozen=True, kw_only=True)
class OutcomeRule:
    """Messages whose destination starts with `prefix` ('' = any) end in `state` with
    `error_code`, for `percent` of them (100 = all), after `delay` seconds (None = the
    simulator's delay)."""

    state: MessageState
    prefix: str = ""
    percent: float = 100.0
    error_code: int = 0
    delay: float | None = None


_Pending = tuple[float, Message, OutcomeRule | None]  # due time, message, its rule
# Enum members read per message, bound once (smpp/constants.py says why)
_DELIVERED, _EXPIRED = MessageState.DELIVERED, MessageState.EXPIRED


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """`echo`: every message delivered is answered by an MO from its destination to its
    source with the same text (an auto-reply), so MO can be tried end to end."""

    delay: float = 0.05
    rules: tuple[OutcomeRule, ...] = ()
    seed: int | None = None
    echo: bool = False


class SimulatorConnector:
    name = "simulator"

    def __init__(self, config: SimulatorConfig, sink: OutcomeSink, clock: IReactorTime,
                 inbound: InboundSink | None = None) -> None:
        self._config = config
        self._sink = sink
        self._clock = clock
        self._random = random.Random(config.seed)
        # messages with the same delay complete in arrival order: one FIFO per distinct
        # delay (the default and the rules' own: a handful) and one timer over their heads,
        # instead of one DelayedCall per message
        self._queues: dict[float, deque[_Pending]] = {}
        self._timer: IDelayedCall | None = None
        self._mo = MoSource(clock, inbound)

    def set_sink(self, sink: OutcomeSink) -> None:
        self._sink = sink

    def set_inbound(self, inbound: InboundSink) -> None:
        """Where MO (injected, or echoes) go: the MO path."""
        self._mo.set_inbound(inbound)

    def inject(self, source: str | Address, destination: str | Address,
               text: str | None = None, hex: str | bytes | None = None,
               data_coding: int | None = None, split: Split = "udh",
               order: Order = "given", drop: Sequence[int] = (),
               ref: int | None = None) -> Deferred[list[Any]]:
        """An MO from handset `source` to `destination`: see MoSource.inject."""
        return self._mo.inject(source, destination, text=text, hex=hex,
                               data_coding=data_coding, split=split, order=order, drop=drop,
                               ref=ref)

    def send(self, message: Message) -> None:
        rule = self._rule_for(message)
        delay = self._config.delay if rule is None or rule.delay is None else rule.delay
        due = self._clock.seconds() + delay
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = deque()
        queue.append((due, message, rule))
        timer = self._timer
        if timer is None:
            self._timer = self._clock.callLater(delay, self._fire)
        elif timer.getTime() > due:
            timer.reset(delay)

    def outcome(self, message: Message) -> tuple[MessageState, int]:
        """The final state and error code the rules give `message` (drawing its percentage)."""
        rule = self._rule_for(message)
        return (_DELIVERED, 0) if rule is None else (rule.state, rule.error_code)

    def _rule_for(self, message: Message) -> OutcomeRule | None:
        rules = self._config.rules
        if not rules:
            return None  # the default simulator: no destination to look at per message
        destination = message.destination.addr.lstrip("+")
        for rule in rules:
            if destination.startswith(rule.prefix.lstrip("+")) and (
                rule.percent >= 100 or self._random.random() * 100 < rule.percent
            ):
                return rule
        return None

    def pending(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.seconds()
        echo = self._mo.echo if self._config.echo else None
        outcomes: list[tuple[Message, MessageState, int, float]] = []
        echoes: list[Message] = []
        next_due = None
        for queue in self._queues.values():
            while queue and queue[0][0] <= now:
                due, message, rule = queue.popleft()
                expires_at = message.expires_at
                if expires_at is not None and due > expires_at:
                    outcomes.append((message, _EXPIRED, 0, now))
                elif rule is None:
                    outcomes.append((message, _DELIVERED, 0, now))
                    if echo is not None:
                        echoes.append(message)
                else:
                    outcomes.append((message, rule.state, rule.error_code, now))
                    if echo is not None and rule.state is _DELIVERED:
                        echoes.append(message)
            if queue and (next_due is None or queue[0][0] < next_due):
                next_due = queue[0][0]
        self._report(outcomes)
        for message in echoes:
            echo(message)
        if next_due is not None:
            self._timer = self._clock.callLater(max(next_due - now, 0), self._fire)

    def _report(self, outcomes: list[tuple[Message, MessageState, int, float]]) -> None:
        # a tick's outcomes go to the sink together when it takes them so (Router does:
        # one store operation each, queued at once, one callback for all)
        if not outcomes:
            return
        together = getattr(self._sink, "messages_final", None)
        if together is not None and len(outcomes) > 1:
            together(outcomes)
            return
        final = self._sink.message_final
        for outcome in outcomes:
            final(*outcome)
