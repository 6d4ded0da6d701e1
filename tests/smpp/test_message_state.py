"""MessageState's final states, as a set that plain ints are looked up in too."""
from gateway.model import FINAL_STATES, MessageState


def test_the_final_states_are_those_is_final_names_and_take_plain_ints():
    assert FINAL_STATES == {s for s in MessageState if s.is_final}
    for n in range(-1, 12):
        known = n in MessageState._value2member_map_
        assert (n in FINAL_STATES) == (known and MessageState(n).is_final), n
    assert MessageState.SCHEDULED not in FINAL_STATES and 1 not in FINAL_STATES


def test_only_scheduled_and_enroute_are_not_final():
    # is_final is an attribute set on each member (constants.py): every member has it
    assert {s for s in MessageState if not s.is_final} == {
        MessageState.SCHEDULED, MessageState.ENROUTE}
    assert all(type(s.is_final) is bool for s in MessageState)
