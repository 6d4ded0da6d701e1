"""The built-in SMSC simulator: the default connector, so a fresh install works end to end.

It takes every message and, after a fixed delay, reports a final state:
DELIVRD unless an outcome rule (by destination prefix and/or percentage)
says otherwise, so customers can exercise their error handling.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from gateway.core.ports import OutcomeSink
from gateway.model import Message, MessageState


@dataclass(frozen=True, kw_only=True)
class OutcomeRule:
    """Messages whose destination starts with `prefix` ('' = any) end in `state` with
    `error_code`, for `percent` of them (100 = all)."""

    state: MessageState
    prefix: str = ""
    percent: float = 100.0
    error_code: int = 0


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    delay: float = 0.05
    rules: tuple[OutcomeRule, ...] = ()
    seed: int | None = None


class SimulatorConnector:
    name = "simulator"

    def __init__(self, config: SimulatorConfig, sink: OutcomeSink, clock: IReactorTime) -> None:
        self._config = config
        self._sink = sink
        self._clock = clock
        self._random = random.Random(config.seed)
        # every message waits the same delay, so arrival order is completion order:
        # one timer over a FIFO instead of one DelayedCall per message
        self._due: deque[tuple[float, Message]] = deque()
        self._timer: IDelayedCall | None = None

    def set_sink(self, sink: OutcomeSink) -> None:
        self._sink = sink

    def send(self, message: Message) -> Deferred[None]:
        self._due.append((self._clock.seconds() + self._config.delay, message))
        if self._timer is None:
            self._timer = self._clock.callLater(self._config.delay, self._fire)
        return succeed(None)

    def outcome(self, message: Message) -> tuple[MessageState, int]:
        destination = message.destination.addr.lstrip("+")
        for rule in self._config.rules:
            if destination.startswith(rule.prefix.lstrip("+")) and (
                rule.percent >= 100 or self._random.random() * 100 < rule.percent
            ):
                return rule.state, rule.error_code
        return MessageState.DELIVERED, 0

    def pending(self) -> int:
        return len(self._due)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.seconds()
        due = self._due
        while due and due[0][0] <= now:
            _, message = due.popleft()
            state, error = self.outcome(message)
            self._sink.message_final(message, state, error, now)
        if due:
            self._timer = self._clock.callLater(max(due[0][0] - now, 0), self._fire)
