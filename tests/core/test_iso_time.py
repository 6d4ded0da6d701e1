"""iso_time (core/events.py) says every instant as datetime's isoformat does, with each
second's text made once."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.events import iso_time


def datetime_says(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@pytest.mark.parametrize("ts", [
    0.0, 1.5, 1_700_000_000.25, 1_800_000_000.0005,
    0.9999994, 0.9999995, 1_800_000_000.9999996,  # micros round up into the next second
    1e-7, -0.5, -1.0000004, 253_402_300_799.9994,  # before 1970, the last second of 9999
])
def test_edges_read_as_datetime_reads_them(ts):
    assert iso_time(ts) == datetime_says(ts)


@given(st.floats(min_value=-2e9, max_value=2.5e11, allow_nan=False))
def test_any_instant_reads_as_datetime_reads_it(ts):
    assert iso_time(ts) == datetime_says(ts)


@given(st.integers(min_value=0, max_value=4_000_000_000), st.integers(0, 999_999))
def test_microsecond_instants_read_as_datetime_reads_them(seconds, micros):
    ts = seconds + micros / 1e6
    assert iso_time(ts) == datetime_says(ts)


def test_none_stays_none():
    assert iso_time(None) is None
