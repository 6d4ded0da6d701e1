"""The window of outstanding requests: add, pop, expire, full, drain."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.window import Window, WindowEntry, WindowFull


def test_a_new_window_is_empty():
    window = Window(3)
    assert len(window) == 0
    assert not window.is_full
    assert window.next_deadline() is None
    assert window.expire(1e9) == []
    assert window.drain() == []


def test_a_window_smaller_than_one_is_refused():
    with pytest.raises(ValueError):
        Window(0)


def test_pop_returns_the_entry_once():
    window = Window(3)
    window.add(7, "req", "ctx", 60.0)
    assert 7 in window
    assert window.get(7) == WindowEntry(sequence_number=7, request="req", context="ctx",
                                        deadline=60.0)
    assert len(window) == 1
    assert window.pop(7) == WindowEntry(sequence_number=7, request="req", context="ctx",
                                        deadline=60.0)
    assert window.pop(7) is None
    assert 7 not in window
    assert len(window) == 0


def test_pop_of_an_unknown_sequence_number_is_none():
    assert Window(1).pop(1) is None


def test_a_full_window_refuses_immediately():
    window = Window(2)
    window.add(1, "a", None, 10.0)
    window.add(2, "b", None, 11.0)
    assert window.is_full
    with pytest.raises(WindowFull):
        window.add(3, "c", None, 12.0)
    assert len(window) == 2
    window.pop(1)
    assert not window.is_full
    window.add(3, "c", None, 12.0)


def test_force_goes_past_a_full_window():
    window = Window(1)
    window.add(1, "a", None, 10.0)
    window.add(2, "unbind", None, 11.0, force=True)
    assert len(window) == 2


def test_a_sequence_number_cannot_be_outstanding_twice():
    window = Window(3)
    window.add(1, "a", None, 10.0)
    with pytest.raises(ValueError):
        window.add(1, "b", None, 11.0)


def test_expire_returns_due_entries_oldest_first_and_keeps_the_rest():
    window = Window(5)
    for seq, deadline in [(1, 10.0), (2, 20.0), (3, 20.0), (4, 30.0)]:
        window.add(seq, f"r{seq}", None, deadline)
    assert window.expire(9.99) == []
    assert [e.sequence_number for e in window.expire(20.0)] == [1, 2, 3]
    assert len(window) == 1
    assert window.next_deadline() == 30.0


def test_next_deadline_is_the_earliest_outstanding():
    window = Window(5)
    window.add(1, "a", None, 10.0)
    window.add(2, "b", None, 20.0)
    assert window.next_deadline() == 10.0
    window.pop(1)
    assert window.next_deadline() == 20.0
    window.pop(2)
    assert window.next_deadline() is None


def test_a_deadline_from_a_clock_that_stepped_back_is_clamped():
    window = Window(5)
    window.add(1, "a", None, 100.0)
    entry = window.add(2, "b", None, 50.0)
    assert entry.deadline == 100.0
    assert window.expire(60.0) == []
    assert [e.sequence_number for e in window.expire(100.0)] == [1, 2]


def test_drain_empties_the_window_oldest_first():
    window = Window(5)
    window.add(5, "a", "x", 1.0)
    window.add(3, "b", "y", 2.0)
    assert [(e.request, e.context) for e in window.drain()] == [("a", "x"), ("b", "y")]
    assert len(window) == 0
    assert window.next_deadline() is None


@given(st.lists(st.tuples(st.sampled_from(["add", "pop", "expire"]),
                          st.integers(1, 20), st.floats(0, 5)), max_size=60))
def test_the_window_behaves_like_a_plain_model(operations):
    window = Window(8)
    model: dict[int, float] = {}
    clock = 0.0
    for op, seq, step in operations:
        clock += step
        if op == "add":
            if seq in model:
                continue
            if len(model) >= 8:
                with pytest.raises(WindowFull):
                    window.add(seq, seq, None, clock + 10)
                continue
            window.add(seq, seq, None, clock + 10)
            model[seq] = clock + 10
        elif op == "pop":
            entry = window.pop(seq)
            assert (entry is not None) == (seq in model)
            model.pop(seq, None)
        else:
            due = sorted((d, s) for s, d in model.items() if d <= clock)
            got = window.expire(clock)
            assert sorted((e.deadline, e.sequence_number) for e in got) == due
            for _, s in due:
                del model[s]
        assert len(window) == len(model)
        assert window.next_deadline() == (min(model.values()) if model else None)
