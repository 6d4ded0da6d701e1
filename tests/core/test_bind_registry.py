"""The registry of live binds (core/binds.py): which binds take receipts, and which one
the fan-out picks."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.core.binds import BindRegistry
from gateway.model import BindKind


@dataclass(eq=False)
class Channel:
    account: str
    kind: BindKind
    outstanding: int = 0
    window: int = 2

    def load(self) -> int:
        return self.outstanding

    def has_room(self) -> bool:
        return self.outstanding < self.window

    def deliver(self, item, answers):  # pragma: no cover - not pushed through here
        raise AssertionError("not used")


def test_a_transmitter_is_counted_but_takes_no_receipts():
    registry = BindRegistry()
    tx = Channel("acme", BindKind.TRANSMITTER)
    registry.add(tx)
    assert registry.count("acme") == 1
    assert not registry.has_receiver("acme")
    assert registry.receivers("acme") == []
    assert registry.least_busy_receiver("acme") is None
    assert not registry.receiver_has_room("acme")


def test_receivers_and_transceivers_take_receipts_until_removed():
    registry = BindRegistry()
    rx, trx = Channel("acme", BindKind.RECEIVER), Channel("acme", BindKind.TRANSCEIVER)
    registry.add(Channel("acme", BindKind.TRANSMITTER))
    registry.add(rx)
    registry.add(trx)
    assert registry.receivers("acme") == [rx, trx] and registry.count("acme") == 3
    registry.remove(rx)
    assert registry.receivers("acme") == [trx] and registry.has_receiver("acme")
    registry.remove(trx)
    assert not registry.has_receiver("acme") and registry.count("acme") == 1
    registry.remove(trx)  # twice: harmless
    assert registry.receivers("other") == []


def test_the_least_busy_receiver_with_room_is_picked_and_ties_rotate():
    registry = BindRegistry()
    a, b = Channel("acme", BindKind.TRANSCEIVER), Channel("acme", BindKind.RECEIVER)
    registry.add(a)
    registry.add(b)
    assert registry.least_busy_receiver("acme") is a
    assert registry.least_busy_receiver("acme") is b  # a tie: the one that waited longer
    a.outstanding = 1
    assert registry.least_busy_receiver("acme") is b
    b.outstanding = 2  # full
    assert registry.least_busy_receiver("acme") is a and registry.receiver_has_room("acme")
    a.outstanding = 2
    assert registry.least_busy_receiver("acme") is None
    assert not registry.receiver_has_room("acme") and registry.has_receiver("acme")
