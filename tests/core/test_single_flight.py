"""Identical calls in flight share one (core/single_flight.py)."""
from __future__ import annotations

import pytest
from twisted.internet.defer import CancelledError, Deferred

from gateway.core.single_flight import SingleFlight


def outcome(d: Deferred):
    out = []
    d.addBoth(out.append)
    return out[0] if out else None


def test_calls_with_one_key_in_flight_share_one_run_and_its_result():
    runs: list[Deferred] = []

    def fn(x):
        runs.append(Deferred())
        return runs[-1]

    flights = SingleFlight()
    a, b = flights.call("k", fn, 1), flights.call("k", fn, 1)
    other = flights.call("other", fn, 2)
    assert len(runs) == 2 and len(flights) == 2
    runs[0].callback("r")
    assert outcome(a) == outcome(b) == "r" and other.called is False
    assert flights.call("k", fn, 1) is not None and len(runs) == 3  # a new run after it ended


def test_a_failure_reaches_every_caller_and_one_cancelling_leaves_the_others():
    run: Deferred = Deferred()
    flights = SingleFlight()
    a, b, c = (flights.call("k", lambda: run) for _ in range(3))
    a.cancel()
    run.errback(ValueError("no"))
    assert outcome(a).check(CancelledError)
    assert outcome(b).check(ValueError) and outcome(c).check(ValueError)


def test_a_call_that_raises_leaves_nothing_in_flight():
    flights = SingleFlight()

    def broken():
        raise RuntimeError("down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            flights.call("k", broken)
    assert len(flights) == 0
