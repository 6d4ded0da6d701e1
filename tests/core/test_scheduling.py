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


# --- with a loader: memory holds a window of the schedule --------------------------------

class FakeBacklog:
    """The store's scheduled messages, paged like BacklogStore.scheduled_messages; `hold`
    keeps the next page's Deferred unfired until `release()`."""

    def __init__(self, messages) -> None:
        self.messages = {m.id: m for m in messages}
        self.hold = False
        self.waiting = None
        self.reads = 0

    def page(self, after, limit):
        from twisted.internet.defer import Deferred, succeed

        self.reads += 1
        ordered = sorted(self.messages.values(),
                         key=lambda m: (m.scheduled_at, len(m.id), m.id))
        if after is not None:
            key = (after[0], len(after[1]), after[1])
            ordered = [m for m in ordered if (m.scheduled_at, len(m.id), m.id) > key]
        result = ordered[:limit]
        if not self.hold:
            return succeed(result)
        self.waiting = (Deferred(), result)
        return self.waiting[0]

    def release(self) -> None:
        d, result = self.waiting
        self.waiting = None
        d.callback(result)


def windowed(backlog: FakeBacklog, page: int = 100):
    clock = Clock()
    fired: list[str] = []

    def due(m, at):
        fired.append(m.id)
        backlog.messages.pop(m.id, None)  # started: no longer SCHEDULED in the store

    scheduler = Scheduler(clock, due, loader=backlog.page, page=page)
    return clock, scheduler, fired


def test_a_large_schedule_is_paged_in_and_memory_holds_only_a_window_of_it():
    backlog = FakeBacklog([message(str(n), 10.0 + n) for n in range(1, 1001)])
    clock, scheduler, fired = windowed(backlog, page=100)
    scheduler.start()
    assert len(scheduler) == 100 and not scheduler.complete
    peak = 0
    for _ in range(1100):
        clock.advance(1)
        peak = max(peak, len(scheduler))
    assert fired == [str(n) for n in range(1, 1001)]  # each once, in due order
    assert peak <= 150 and scheduler.complete and backlog.reads >= 10


def test_a_new_message_beyond_the_window_waits_in_the_store_and_still_comes_on_time():
    backlog = FakeBacklog([message(str(n), 100.0 + n) for n in range(1, 301)])
    clock, scheduler, fired = windowed(backlog, page=100)
    scheduler.start()
    late = message("5000", 250.5)
    backlog.messages[late.id] = late  # the store has it (accepted) ...
    scheduler.add(late)
    assert "5000" not in scheduler  # ... memory does not, yet
    early = message("5001", 50.0)
    backlog.messages[early.id] = early
    scheduler.add(early)
    assert "5001" in scheduler  # inside the window: held
    clock.advance(400)
    clock.advance(1)
    assert fired.index("5001") == 0
    assert fired.index("5000") == fired.index("150") + 1 and fired.count("5000") == 1


def test_a_replace_while_a_page_is_read_wins_over_the_page_it_overlaps():
    backlog = FakeBacklog([message(str(n), 100.0 + n) for n in range(1, 11)])
    clock, scheduler, fired = windowed(backlog, page=100)
    backlog.hold = True
    scheduler.start()
    moved = message("3", 500.0)  # replace_sm moved it later; the page read had it at 103
    backlog.messages["3"] = moved
    scheduler.add(moved)
    scheduler.remove("4")  # cancel_sm of another, while the page that holds it is read
    backlog.messages.pop("4")
    backlog.release()
    clock.advance(200)
    assert "3" not in fired and "4" not in fired
    clock.advance(300)
    assert fired[-1] == "3" and fired.count("3") == 1 and "4" not in fired


def test_a_retry_is_pinned_in_memory_whatever_the_window():
    backlog = FakeBacklog([message(str(n), 100.0 + n) for n in range(1, 301)])
    clock, scheduler, fired = windowed(backlog, page=100)
    scheduler.start()
    retry = message("7", 101.0)
    scheduler.add(retry, 10_000.0, pinned=True)  # far beyond the window
    assert "7" in scheduler
