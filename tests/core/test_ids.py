import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.ids import MAX_NODE_ID, MessageIdGenerator, id_timestamp


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ids_are_unique_increasing_and_at_most_20_characters():
    clock = FixedClock(1_800_000_000.0)
    ids = MessageIdGenerator(5, clock)
    issued = [ids.next_id() for _ in range(10_000)]  # far more than 4096 in one millisecond
    assert len(set(issued)) == len(issued)
    assert [int(i) for i in issued] == sorted(int(i) for i in issued)
    assert all(len(i) <= 20 and i.isdigit() for i in issued)


def test_a_restart_with_the_clock_set_back_never_reissues_an_id():
    clock = FixedClock(1_800_000_000.0)
    first = MessageIdGenerator(0, clock)
    last = [first.next_id() for _ in range(100)][-1]
    clock.now -= 3600  # the clock stepped back across the restart
    second = MessageIdGenerator(0, clock, floor=last)
    assert int(second.next_id()) > int(last)


def test_nodes_never_collide_in_the_same_millisecond():
    clock = FixedClock(1_800_000_000.0)
    a = {MessageIdGenerator(1, clock).next_id() for _ in range(1)}
    b = {MessageIdGenerator(2, clock).next_id() for _ in range(1)}
    assert not a & b


def test_id_encodes_its_creation_time():
    ids = MessageIdGenerator(0, FixedClock(1_800_000_000.25))
    assert id_timestamp(ids.next_id()) == pytest.approx(1_800_000_000.25, abs=0.001)


def test_node_id_out_of_range_is_refused():
    with pytest.raises(ValueError):
        MessageIdGenerator(MAX_NODE_ID + 1, FixedClock(0))


@given(floor_sequence=st.integers(0, 4095), counts=st.lists(st.integers(0, 9000), max_size=4),
       steps=st.lists(st.sampled_from([0.0, 0.0005, 0.001, -0.002]), min_size=4, max_size=4))
def test_next_ids_gives_what_as_many_next_id_calls_would(floor_sequence, counts, steps):
    now = [1_800_000_000.0]
    floor = str((100 << 22) | floor_sequence)
    one_by_one = MessageIdGenerator(3, lambda: now[0], floor=floor)
    batched = MessageIdGenerator(3, lambda: now[0], floor=floor)
    for count, step in zip(counts, steps):
        now[0] += step
        assert batched.next_ids(count) == [one_by_one.next_id() for _ in range(count)]
    assert batched.next_id() == one_by_one.next_id()
