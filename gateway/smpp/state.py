"""SMPP 3.4 bind states and the one table of what each side may send in each state."""
from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from gateway.smpp.constants import CommandId, CommandStatus

# Theory of operation
# -------------------
# An SMPP session (SMPP 3.4 §2.3-2.4) is one TCP connection between an ESME
# (the client: binds, submits) and an SMSC (the server: accepts binds,
# delivers). Both ends walk the same states; only who may send what differs:
#
#   OPEN ──bind_*──► BINDING ──bind_resp ROK──► BOUND_TX / BOUND_RX / BOUND_TRX
#    ▲                  │                              │
#    └──bind_resp error─┘                           unbind
#                                                      ▼
#   CLOSED ◄──────────────unbind_resp─────────── UNBINDING
#
# BINDING and UNBINDING mean "the request was sent or received and its answer
# is pending": the ESME enters BINDING when it sends a bind, the SMSC when it
# receives one, and both leave it when the bind_resp goes by. The same holds
# for UNBINDING, which either side may enter.
#
# TRANSITIONS below is the whole protocol grammar for *requests* (and the
# unsolicited generic_nack): it is keyed by (state, sender role, command id)
# and gives the state after that PDU. Any triple missing from it is a
# protocol violation: the session answers ESME_RINVBNDSTS (ESME_RALYBND for a
# bind on a session already binding or bound, see `refusal_status`) and goes
# on. The session applies the same table to what it sends (sender = its own
# role; a miss is a bug in the caller) and to what it receives (sender = the
# peer's role).
#
# Responses are matched to the requests they answer by the window (by
# sequence number), not by this table; a response nobody asked for — which
# includes every response in OPEN before any request — is a violation found
# there. Only two kinds of answer move the state, and ANSWERS says where:
# a bind_resp (ROK -> bound, anything else -> back to OPEN) and an
# unbind_resp (-> CLOSED).
#
# Closing is not a PDU: any state goes to CLOSED when the session decides to
# close (timeouts, fatal framing errors, unbind) or the connection is lost.


class Role(Enum):
    """Which end of the session a sender is."""

    ESME = "ESME"
    SMSC = "SMSC"

    @property
    def peer(self) -> Role:
        return Role.SMSC if self is Role.ESME else Role.ESME


class State(Enum):
    OPEN = "OPEN"
    BINDING = "BINDING"
    BOUND_TX = "BOUND_TX"
    BOUND_RX = "BOUND_RX"
    BOUND_TRX = "BOUND_TRX"
    UNBINDING = "UNBINDING"
    CLOSED = "CLOSED"

    is_bound: bool  # set on each member below


_BOUND_STATES = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
# an attribute of each member, not a property (smpp/constants.py says why): asked per PDU,
# the property with its set lookup (an Enum member hashes its name in Python) cost 135 ns
for _state in State:
    _state.is_bound = _state in _BOUND_STATES
del _state

_C = CommandId
ESME, SMSC = Role.ESME, Role.SMSC
OPEN, BINDING, UNBINDING, CLOSED = State.OPEN, State.BINDING, State.UNBINDING, State.CLOSED
BOUND_TX, BOUND_RX, BOUND_TRX = State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX

BIND_COMMAND_IDS = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})

# What an ESME may send while bound, besides unbind and generic_nack.
_ESME_TX = (_C.SUBMIT_SM, _C.SUBMIT_MULTI, _C.DATA_SM, _C.QUERY_SM, _C.CANCEL_SM,
            _C.REPLACE_SM, _C.ENQUIRE_LINK)
_ESME_RX = (_C.ENQUIRE_LINK,)
# What an SMSC may send while bound, besides unbind and generic_nack.
_SMSC_TX = (_C.ENQUIRE_LINK,)
_SMSC_RX = (_C.DELIVER_SM, _C.DATA_SM, _C.ALERT_NOTIFICATION, _C.ENQUIRE_LINK)


def _bound(state: State, esme: tuple[CommandId, ...], smsc: tuple[CommandId, ...]):
    rows = {(state, ESME, cid): state for cid in esme}
    rows.update({(state, SMSC, cid): state for cid in smsc})
    rows[state, ESME, _C.UNBIND] = UNBINDING
    rows[state, SMSC, _C.UNBIND] = UNBINDING
    return rows


TRANSITIONS: Mapping[tuple[State, Role, CommandId], State] = MappingProxyType({
    # Not bound yet: the ESME binds; an SMSC that dialled out asks it to (outbind).
    (OPEN, ESME, _C.BIND_TRANSMITTER): BINDING,
    (OPEN, ESME, _C.BIND_RECEIVER): BINDING,
    (OPEN, ESME, _C.BIND_TRANSCEIVER): BINDING,
    (OPEN, SMSC, _C.OUTBIND): OPEN,
    **_bound(BOUND_TX, _ESME_TX, _SMSC_TX),
    **_bound(BOUND_RX, _ESME_RX, _SMSC_RX),
    **_bound(BOUND_TRX, tuple(dict.fromkeys(_ESME_TX + _ESME_RX)),
             tuple(dict.fromkeys(_SMSC_TX + _SMSC_RX))),
    # Both sides unbinding at once: each answers the other's unbind.
    (UNBINDING, ESME, _C.UNBIND): UNBINDING,
    (UNBINDING, SMSC, _C.UNBIND): UNBINDING,
    # generic_nack may be sent by either side in any live state.
    **{(state, role, _C.GENERIC_NACK): state
       for state in State if state is not State.CLOSED for role in Role},
})

# (state, request command id, answered with ESME_ROK?) -> state after its response.
# Responses not listed here leave the state as it is.
ANSWERS: Mapping[tuple[State, CommandId, bool], State] = MappingProxyType({
    (BINDING, _C.BIND_TRANSMITTER, True): BOUND_TX,
    (BINDING, _C.BIND_RECEIVER, True): BOUND_RX,
    (BINDING, _C.BIND_TRANSCEIVER, True): BOUND_TRX,
    (BINDING, _C.BIND_TRANSMITTER, False): OPEN,
    (BINDING, _C.BIND_RECEIVER, False): OPEN,
    (BINDING, _C.BIND_TRANSCEIVER, False): OPEN,
    (UNBINDING, _C.UNBIND, True): State.CLOSED,
    (UNBINDING, _C.UNBIND, False): State.CLOSED,
})

_ANSWERED_IDS = frozenset(cid for _, cid, _ in ANSWERS)

# The hot path: state -> sender -> {command id: next state}, one dict lookup per PDU.
_ROWS: dict[State, dict[Role, dict[int, State]]] = {
    state: {role: {} for role in Role} for state in State
}
for (_state, _role, _cid), _next in TRANSITIONS.items():
    _ROWS[_state][_role][_cid] = _next


def allowed(state: State, sender: Role, command_id: int) -> State | None:
    """The state after `sender` sends `command_id` in `state`, or None if that is a violation."""
    return _ROWS[state][sender].get(command_id)


def row(state: State, sender: Role) -> Mapping[int, State]:
    """Everything `sender` may send in `state`: {command id: next state}. Do not mutate."""
    return _ROWS[state][sender]


def answered(state: State, request_command_id: int, ok: bool) -> State:
    """The state after the response to `request_command_id` (ok = ESME_ROK) went by."""
    if request_command_id not in _ANSWERED_IDS:
        return state
    return ANSWERS.get((state, request_command_id, ok), state)  # type: ignore[call-overload]


def refusal_status(state: State, sender: Role, command_id: int) -> CommandStatus:
    """The command_status for a request the table refuses: RALYBND for a rebind, else RINVBNDSTS."""
    if (sender is ESME and command_id in BIND_COMMAND_IDS
            and (state is BINDING or state in _BOUND_STATES)):
        return CommandStatus.ESME_RALYBND
    return CommandStatus.ESME_RINVBNDSTS
