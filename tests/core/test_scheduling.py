"""The schedule of SCHEDULED messages: a pure heap with lazy deletion, driven by one timer."""
from __future__ import annotations

from twisted.internet.task import Clock

from gateway.core.scheduling import Schedule, Scheduler
from gateway.model import Address, Message


def message(message_id: str, scheduled_at: float | None = None) -> Message:
    return Message(id=message_id, account="acme", source=Address(), destination=Address(),
                   body=b"", scheduled_at=scheduled_at)


def test_pop_due_takes_what_is_due_earliest_first_and_leaves_the_rest():
    schedule: Schedule[str] = Schedule()
    for key, due in (("c", 30.0), ("a", 10.0), ("b", 20.0), ("d", 40.0)):
        schedule.add(key, due, key.upper())
    assert schedule.next_due() == 10.0
    assert schedule.pop_due(25.0) == [(10.0, "A"), (20.0, "B")]
    assert len(schedule) == 2 and "c" in schedule and "a" not in schedule
    assert schedule.next_due() == 30.0


def test_removed_entries_never_come_due():
    schedule: Schedule[str] = Schedule()
    schedule.add("a", 10.0, "A")
    schedule.add("b", 20.0, "B")
    assert schedule.remove("a") is True
    assert schedule.remove("a") is False
    assert schedule.next_due() == 20.0
    assert schedule.pop_due(100.0) == [(20.0, "B")]
    assert schedule.next_due() is None


def test_adding_a_key_again_moves_it_instead_of_duplicating_it():
    schedule: Schedule[str] = Schedule()
    schedule.add("a", 10.0, "old")
    schedule.add("a", 50.0, "new")
    assert len(schedule) == 1
    assert schedule.pop_due(20.0) == []
    assert schedule.pop_due(50.0) == [(50.0, "new")]


def test_many_stale_entries_are_compacted_away():
    schedule: Schedule[int] = Schedule()
    for n in range(1000):
        schedule.add("same", float(n), n)
    assert len(schedule) == 1
    assert len(schedule._heap) < 200  # stale entries do not pile up
    assert schedule.pop_due(1e9) == [(999.0, 999)]


def scheduler(clock: Clock) -> tuple[Scheduler, list[tuple[str, float]]]:
    fired: list[tuple[str, float]] = []
    return Scheduler(clock, lambda m, due: fired.append((m.id, due))), fired


def test_scheduler_calls_back_each_message_at_its_time_with_one_timer():
    clock = Clock()
    sched, fired = scheduler(clock)
    for n in range(100):
        sched.add(message(str(n), scheduled_at=10.0 + n))
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(10.0)
    assert fired == [("0", 10.0)]
    clock.advance(9.0)
    assert [m for m, _ in fired] == [str(n) for n in range(10)]
    assert len(clock.getDelayedCalls()) == 1


def test_an_earlier_message_moves_the_timer_forward():
    clock = Clock()
    sched, fired = scheduler(clock)
    sched.add(message("late", scheduled_at=100.0))
    sched.add(message("early", scheduled_at=5.0))
    clock.advance(5.0)
    assert fired == [("early", 5.0)]


def test_a_removed_message_does_not_fire_and_a_past_one_fires_at_once():
    clock = Clock()
    clock.advance(50.0)
    sched, fired = scheduler(clock)
    sched.add(message("gone", scheduled_at=60.0))
    sched.add(message("past", scheduled_at=10.0))
    sched.add(message("unscheduled"))  # no time: due now
    assert sched.remove("gone")
    clock.advance(0)
    assert sorted(fired) == [("past", 10.0), ("unscheduled", 50.0)]
    clock.advance(100)
    assert len(fired) == 2 and len(sched) == 0


def test_a_failing_callback_does_not_strand_the_others():
    clock = Clock()
    fired: list[str] = []

    def on_due(m: Message, due: float) -> None:
        fired.append(m.id)
        if m.id == "1":
            raise RuntimeError("boom")

    sched = Scheduler(clock, on_due)
    sched.add(message("1", scheduled_at=1.0))
    sched.add(message("2", scheduled_at=1.0))
    clock.advance(1.0)
    assert fired == ["1", "2"]


def test_stop_cancels_the_timer_and_forgets_everything():
    clock = Clock()
    sched, fired = scheduler(clock)
    sched.add(message("1", scheduled_at=1.0))
    sched.stop()
    assert clock.getDelayedCalls() == [] and len(sched) == 0
    clock.advance(10)
    assert fired == []
