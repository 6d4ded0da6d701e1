"""The bind-state table, checked exhaustively against an independently written expectation."""
from __future__ import annotations

import itertools

import pytest

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.state import (
    ANSWERS,
    TRANSITIONS,
    Role,
    State,
    allowed,
    answered,
    refusal_status,
    row,
)

C = CommandId
REQUEST_IDS = [cid for cid in CommandId if not cid.is_response]
ALL_IDS = list(CommandId) + [0x00000000, 0x0000000A, 0x00000099, 0x80000099, 0xFFFFFFFF]

# SMPP 3.4 §2.3-2.4, written out per state and sender, not derived from the module.
ESME_WHILE_TX = {"submit_sm", "submit_multi", "data_sm", "query_sm", "cancel_sm",
                 "replace_sm", "enquire_link"}
ESME_WHILE_RX = {"enquire_link"}
SMSC_WHILE_TX = {"enquire_link"}
SMSC_WHILE_RX = {"deliver_sm", "data_sm", "alert_notification", "enquire_link"}


def expected(state: State, sender: Role, command_id: int) -> State | None:
    name = C(command_id).name.lower() if command_id in C._value2member_map_ else None
    if state is State.CLOSED or name is None:
        return None
    if name == "generic_nack":
        return state
    if state is State.OPEN:
        if sender is Role.ESME and name in ("bind_transmitter", "bind_receiver",
                                            "bind_transceiver"):
            return State.BINDING
        if sender is Role.SMSC and name == "outbind":
            return State.OPEN
        return None
    if state is State.BINDING:
        return None
    if state is State.UNBINDING:
        return State.UNBINDING if name == "unbind" else None
    if name == "unbind":
        return State.UNBINDING
    tx = ESME_WHILE_TX if sender is Role.ESME else SMSC_WHILE_TX
    rx = ESME_WHILE_RX if sender is Role.ESME else SMSC_WHILE_RX
    may = {State.BOUND_TX: tx, State.BOUND_RX: rx, State.BOUND_TRX: tx | rx}[state]
    return state if name in may else None


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("sender", list(Role), ids=lambda r: r.value)
def test_every_state_sender_and_command_id_matches_the_expectation(state, sender):
    for command_id in ALL_IDS:
        assert allowed(state, sender, command_id) == expected(state, sender, command_id), (
            state, sender, hex(command_id))


def test_the_table_holds_no_entry_the_expectation_does_not_allow():
    for (state, sender, command_id), next_state in TRANSITIONS.items():
        assert expected(state, sender, command_id) is next_state


def test_the_table_counts_every_allowed_triple_once():
    allowed_triples = [t for t in itertools.product(State, Role, CommandId)
                       if expected(*t) is not None]
    assert len(TRANSITIONS) == len(allowed_triples)


def test_responses_are_not_in_the_table_except_generic_nack():
    for _state, _sender, command_id in TRANSITIONS:
        assert not C(command_id).is_response or command_id == C.GENERIC_NACK


def test_the_smsc_may_not_deliver_to_a_transmitter():
    assert allowed(State.BOUND_TX, Role.SMSC, C.DELIVER_SM) is None
    assert allowed(State.BOUND_RX, Role.SMSC, C.DELIVER_SM) is State.BOUND_RX


def test_a_receiver_may_not_submit():
    assert allowed(State.BOUND_RX, Role.ESME, C.SUBMIT_SM) is None
    assert allowed(State.BOUND_TRX, Role.ESME, C.SUBMIT_SM) is State.BOUND_TRX


def test_row_is_the_same_table_indexed_for_the_hot_path():
    for state, sender in itertools.product(State, Role):
        assert dict(row(state, sender)) == {
            cid: nxt for (s, r, cid), nxt in TRANSITIONS.items() if s is state and r is sender}


def test_allowed_takes_plain_ints_too():
    assert allowed(State.OPEN, Role.ESME, 0x00000009) is State.BINDING


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("sender", list(Role), ids=lambda r: r.value)
def test_refusal_is_ralybnd_only_for_an_esme_rebinding(state, sender):
    for command_id in REQUEST_IDS:
        rebind = (sender is Role.ESME and "BIND_" in C(command_id).name
                  and state in (State.BINDING, State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX))
        assert refusal_status(state, sender, command_id) == (
            CommandStatus.ESME_RALYBND if rebind else CommandStatus.ESME_RINVBNDSTS)


BIND_RESULT = {C.BIND_TRANSMITTER: State.BOUND_TX, C.BIND_RECEIVER: State.BOUND_RX,
               C.BIND_TRANSCEIVER: State.BOUND_TRX}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_only_bind_and_unbind_answers_move_the_state(state):
    for command_id, ok in itertools.product(REQUEST_IDS, (True, False)):
        if state is State.BINDING and command_id in BIND_RESULT:
            want = BIND_RESULT[command_id] if ok else State.OPEN
        elif state is State.UNBINDING and command_id == C.UNBIND:
            want = State.CLOSED
        else:
            want = state
        assert answered(state, command_id, ok) is want, (state, command_id, ok)
    assert len(ANSWERS) == 8


def test_roles_know_their_peer():
    assert Role.ESME.peer is Role.SMSC
    assert Role.SMSC.peer is Role.ESME


def test_bound_states_say_so():
    assert {s for s in State if s.is_bound} == {State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX}
