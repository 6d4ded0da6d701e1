"""A sans-I/O SMPP 3.4 session, for either role: bytes and timestamps in, events and bytes out."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from gateway.smpp.codec import decode, encode, renumbered
from gateway.smpp.constants import (
    HEADER_LENGTH,
    INTERFACE_VERSION_34,
    RESPONSE_BIT,
    CommandId,
    CommandStatus,
)
from gateway.smpp.errors import FramingError, PduError, SessionUsageError
from gateway.smpp.events import (
    BindTimedOut,
    CloseConnection,
    Event,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import (
    PDU_CLASS_BY_COMMAND_ID,
    RESPONSE_CLASS,
    EnquireLink,
    Pdu,
    Tlvs,
    Unbind,
)
from gateway.smpp.state import (
    BIND_COMMAND_IDS,
    CLOSED,
    Role,
    State,
    answered,
    refusal_status,
    row,
)
from gateway.smpp.window import Window, WindowFull

__all__ = ["Session", "SessionConfig", "WindowFull"]

# Theory of operation
# -------------------
# Like h11, the session owns no socket and no clock. The adapter feeds it
# what arrived (`receive_data(data, now)`), acts on the events it returns,
# writes `data_to_send()` after every call, and keeps ONE timer armed at
# `next_deadline()` that calls `handle_timer(now)` (aioquic's pattern).
#
# Per frame the hot path is: one decode, one dict lookup in the state table
# row cached for (state, peer role), and the event. Everything protocol-level
# that needs no application decision is answered here: enquire_link, unbind,
# commands not allowed in the state (ESME_RINVBNDSTS / ESME_RALYBND), unknown
# command ids (generic_nack ESME_RINVCMDID), malformed bodies (the _resp with
# the codec's status), bad command_length (generic_nack ESME_RINVCMDLEN, close).
# Those answers are header-only PDUs (SMPP 3.4 sends no body with an error
# _resp), packed straight from the header layout.
#
# Three timers: bind_timeout (SMSC role: the peer must bind in time; the
# adapter may pause it while it decides on a pending bind), the window's
# response deadlines (no answer -> close without unbind), and enquire_link
# after enquire_link_interval of silence while bound. After CloseConnection
# the session ignores all input; only data_to_send() still returns what was
# queued before it.

_HEADER = struct.Struct(">IIII")
_MAX_SEQUENCE = 0x7FFFFFFF
_GENERIC_NACK = int(CommandId.GENERIC_NACK)
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_UNBIND = int(CommandId.UNBIND)
_BIND_RESP_IDS = frozenset(cid | RESPONSE_BIT for cid in BIND_COMMAND_IDS)
_SESSION_ANSWERED = frozenset({CommandId.ENQUIRE_LINK_RESP, CommandId.UNBIND_RESP})
# request command id -> its response's command id (outbind, alert_notification have none)
_RESPONSE_ID: dict[int, int] = {req.command_id: resp.command_id
                                for req, resp in RESPONSE_CLASS.items()}
_AUTO = object()  # context of the requests the session sends on its own


@dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """Per-session settings; every duration is in seconds."""

    role: Role
    bind_timeout: float = 10.0  # SMSC role: close unless bound within this; 0 disables
    response_timeout: float = 60.0  # every request we send must be answered within this
    enquire_link_interval: float = 30.0  # bound and silent this long -> enquire_link; 0 disables
    window: int = 10  # requests we may have outstanding
    max_pdu_size: int = 65536  # largest command_length accepted
    system_id: str = "smsgw"  # ours, sent in bind_resp

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            raise TypeError(f"role: expected Role.ESME or Role.SMSC, not {self.role!r}")
        if self.bind_timeout < 0:
            raise ValueError(f"bind_timeout: must not be negative, not {self.bind_timeout}")
        if self.response_timeout <= 0:
            raise ValueError(f"response_timeout: must be positive, not {self.response_timeout}")
        if self.enquire_link_interval < 0:
            raise ValueError("enquire_link_interval: must not be negative, "
                             f"not {self.enquire_link_interval}")
        if self.window < 1:
            raise ValueError(f"window: must be at least 1, not {self.window}")
        if self.max_pdu_size < HEADER_LENGTH:
            raise ValueError(f"max_pdu_size: must be at least {HEADER_LENGTH}, "
                             f"not {self.max_pdu_size}")
        if len(self.system_id) > 15:
            raise ValueError(f"system_id: at most 15 characters, not {self.system_id!r}")


def _name(command_id: int) -> str:
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"command 0x{command_id:08x}"


class Session:
    """One SMPP session, ESME or SMSC side. The caller owns the connection."""

    def __init__(self, config: SessionConfig, now: float) -> None:
        self.config = config
        self._role = config.role
        self._peer = config.role.peer
        self._state = State.OPEN
        self._inbound = row(State.OPEN, self._peer)  # what the peer may send now
        self._outbound = row(State.OPEN, self._role)  # what we may send now
        self._framer = Framer(config.max_pdu_size)
        self._window = Window(config.window)
        self._out: list[bytes] = []
        self._next_sequence = 1
        self._pending_bind: Pdu | None = None  # SMSC: the bind awaiting accept/reject
        # Sequence numbers of the peer's requests handed to the caller and not yet
        # answered: an unbind from the peer waits for them (see _peer_unbind).
        self._owed: set[int] = set()
        self._unbinds_owed: list[int] = []  # the peer's unbinds waiting for those answers
        self._unbind_deadline: float | None = None
        self._last_received = now
        self._enquire_outstanding = False
        self._bind_deadline: float | None = (
            now + config.bind_timeout
            if config.role is Role.SMSC and config.bind_timeout > 0 else None
        )
        self._bind_time_left: float | None = None  # while the bind timer is paused

    # --- what the caller may ask ---------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def role(self) -> Role:
        return self._role

    @property
    def is_bound(self) -> bool:
        return self._state.is_bound

    @property
    def bound_kind(self) -> State | None:
        """BOUND_TX, BOUND_RX or BOUND_TRX while bound, else None."""
        return self._state if self._state.is_bound else None

    @property
    def outstanding(self) -> int:
        """How many requests we sent are still unanswered (a measure of how busy we are)."""
        return len(self._window)

    @property
    def window_full(self) -> bool:
        return self._window.is_full

    def set_window_size(self, size: int) -> None:
        """Change how many requests we may have outstanding (per-account settings).
        Shrinking below what is outstanding just blocks new requests until answers come."""
        if size < 1:
            raise ValueError(f"window: must be at least 1, not {size}")
        self._window.size = size

    # --- input ---------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes read from the connection; return what they mean, in order."""
        if self._state is CLOSED or not data:
            return []
        self._last_received = now
        events: list[Event] = []
        try:
            frames = self._framer.feed(data)
        except FramingError as err:
            # whole frames that arrived before the bad length are still the peer's requests
            for frame in getattr(err, "frames", ()):
                self._handle_frame(frame, events)
                if self._state is CLOSED:
                    return events
            self._framing_failed(err, events)
            return events
        for frame in frames:
            self._handle_frame(frame, events)
            if self._state is CLOSED:
                break
        return events

    def _handle_frame(self, frame: bytes, events: list[Event]) -> None:
        try:
            pdu = decode(frame)
        except PduError as err:
            self._malformed(err, events)
            return
        except FramingError as err:  # the framer guarantees whole frames; belt and braces
            self._framing_failed(err, events)
            return
        command_id = pdu.command_id
        if command_id & RESPONSE_BIT:
            self._response(pdu, events)
            return
        next_state = self._inbound.get(command_id)
        if next_state is None:
            status = refusal_status(self._state, self._peer, command_id)
            self._answer_error(command_id, status, pdu.sequence_number)
            events.append(ProtocolViolation(
                command_status=status,
                detail=f"{_name(command_id)} not allowed from the {self._peer.value} "
                       f"in {self._state.value}",
                command_id=command_id, sequence_number=pdu.sequence_number))
            return
        if next_state is not self._state:
            self._set_state(next_state)
        if command_id == _ENQUIRE_LINK:
            self._out.append(_HEADER.pack(
                HEADER_LENGTH, CommandId.ENQUIRE_LINK_RESP, 0, pdu.sequence_number))
        elif command_id == _UNBIND:
            self._peer_unbind(pdu.sequence_number, events)
        else:
            if next_state is State.BINDING:
                self._pending_bind = pdu
            elif command_id in _RESPONSE_ID:
                self._owed.add(pdu.sequence_number)
            events.append(RequestReceived(pdu=pdu))

    def _peer_unbind(self, sequence_number: int, events: list[Event]) -> None:
        """Answer the peer's unbind and close, but only once every request it sent before
        is answered: a submit_sm it made just before unbinding is stored (or refused) and
        its submit_sm_resp carries the id the client needs to match the receipt. The
        state is UNBINDING meanwhile, so the peer may send nothing new."""
        first = not self._unbinds_owed
        self._unbinds_owed.append(sequence_number)
        if not self._owed:
            self._finish_peer_unbind(events, "unbind from the peer")
        elif first:
            events.append(Unbound(by_peer=True))
            self._unbind_deadline = self._last_received + self.config.response_timeout

    def _finish_peer_unbind(self, events: list[Event], reason: str) -> None:
        for sequence_number in self._unbinds_owed:
            self._out.append(_HEADER.pack(
                HEADER_LENGTH, CommandId.UNBIND_RESP, 0, sequence_number))
        if self._unbind_deadline is None:  # not announced yet
            events.append(Unbound(by_peer=True))
        self._unbinds_owed.clear()
        self._unbind_deadline = None
        self._set_state(answered(self._state, _UNBIND, True))
        self._close(events, reason)

    def _response(self, response: Pdu, events: list[Event]) -> None:
        sequence_number = response.sequence_number
        entry = self._window.get(sequence_number)
        command_id = response.command_id
        if entry is None or (command_id != _GENERIC_NACK
                             and command_id != entry.request.command_id | RESPONSE_BIT):
            events.append(ProtocolViolation(
                command_status=CommandStatus.ESME_RUNKNOWNERR,
                detail=f"unexpected {_name(command_id)}: no matching request outstanding "
                       f"with sequence_number {sequence_number}",
                command_id=command_id, sequence_number=sequence_number))
            return
        self._window.pop(sequence_number)
        request = entry.request
        request_id = request.command_id
        ok = command_id != _GENERIC_NACK and response.command_status == 0
        new_state = answered(self._state, request_id, ok)
        if new_state is not self._state:
            self._set_state(new_state)
            if new_state.is_bound:
                self._bind_deadline = None
        if entry.context is _AUTO:
            if request_id == _ENQUIRE_LINK:
                self._enquire_outstanding = False
        else:
            events.append(ResponseReceived(request=request, response=response,
                                           context=entry.context))
        if request_id == _UNBIND:
            events.append(Unbound(by_peer=False))
            self._close(events, "unbind answered")

    def _malformed(self, err: PduError, events: list[Event]) -> None:
        """A frame the codec refused: answer it as precisely as its header allows."""
        command_id = err.command_id
        sequence_number = err.sequence_number or 0
        status = err.command_status
        if (command_id is not None and command_id & RESPONSE_BIT
                and command_id in PDU_CLASS_BY_COMMAND_ID):
            detail = "malformed response, ignored"  # responses are never answered
        elif command_id is not None and command_id in PDU_CLASS_BY_COMMAND_ID:
            if command_id not in self._inbound:
                status = refusal_status(self._state, self._peer, command_id)
            self._answer_error(command_id, status, sequence_number)
            detail = "malformed request"
        else:
            self._answer_error(_GENERIC_NACK, status, sequence_number)
            detail = "unidentifiable command"
        name = _name(command_id) if command_id is not None else "PDU"
        events.append(ProtocolViolation(
            command_status=status, detail=f"{detail}: {name}: {err}",
            command_id=command_id, sequence_number=err.sequence_number))

    def _framing_failed(self, err: FramingError, events: list[Event]) -> None:
        status = err.command_status
        self._out.append(_HEADER.pack(HEADER_LENGTH, _GENERIC_NACK, status,
                                      err.sequence_number or 0))
        events.append(ProtocolViolation(
            command_status=status, detail=f"framing: {err}",
            command_id=err.command_id, sequence_number=err.sequence_number))
        self._close(events, "cannot frame the byte stream")

    # --- output --------------------------------------------------------------------------

    def send_request(self, pdu: Pdu, now: float, context: Any = None) -> int:
        """Queue a request with the next sequence number, which is returned.

        SessionUsageError if our role may not send it in this state; WindowFull
        if `window` requests are already outstanding. The peer must answer
        within response_timeout; ResponseReceived(request, response, context)
        reports the answer.
        """
        return self._send_request(pdu, now, context)

    def _send_request(self, pdu: Pdu, now: float, context: Any, force: bool = False) -> int:
        command_id = pdu.command_id
        if command_id & RESPONSE_BIT:
            raise SessionUsageError(f"{_name(command_id)} is a response: use send_response")
        next_state = self._outbound.get(command_id)
        if next_state is None:
            raise SessionUsageError(
                f"the {self._role.value} may not send {_name(command_id)} in {self._state.value}")
        expects_answer = command_id in _RESPONSE_ID
        if expects_answer and self._window.is_full and not force:
            raise WindowFull(f"{len(self._window)} requests outstanding "
                             f"(window {self._window.size})")
        sequence_number = self._next_sequence
        while sequence_number in self._window:
            sequence_number = sequence_number % _MAX_SEQUENCE + 1
        pdu = renumbered(pdu, sequence_number)
        data = encode(pdu)
        self._next_sequence = sequence_number % _MAX_SEQUENCE + 1
        self._out.append(data)
        if expects_answer:
            self._window.add(sequence_number, pdu, context,
                             now + self.config.response_timeout, force=force)
        if next_state is not self._state:
            self._set_state(next_state)
        return sequence_number

    def send_response(self, pdu: Pdu) -> list[Event]:
        """Queue the answer to a request from the peer; `pdu` carries that request's
        sequence_number. Dropped silently once the session is closed (the peer is gone).

        Returns events: the last answer owed to a peer that unbound meanwhile also
        answers its unbind and closes the session (Unbound was reported already)."""
        command_id = pdu.command_id
        if not command_id & RESPONSE_BIT:
            raise SessionUsageError(f"{_name(command_id)} is a request: use send_request")
        if command_id in _SESSION_ANSWERED:
            raise SessionUsageError(f"the session answers {_name(command_id)} itself")
        if self._state is CLOSED:
            return []
        if command_id in _BIND_RESP_IDS:
            self._answer_bind(pdu)
            return []
        self._out.append(encode(pdu))
        owed = self._owed
        owed.discard(pdu.sequence_number)
        if owed or not self._unbinds_owed:
            return []
        events: list[Event] = []
        self._finish_peer_unbind(events, "unbind from the peer, after the answers it was owed")
        return events

    def accept_bind(self, request: Pdu, now: float) -> None:
        """SMSC: answer the pending bind with ESME_ROK, our system_id and
        sc_interface_version 3.4 (whatever version the peer asked for); the session is bound."""
        response_class = RESPONSE_CLASS.get(type(request))
        if response_class is None or request.command_id not in BIND_COMMAND_IDS:
            raise SessionUsageError(f"{type(request).__name__} is not a bind")
        self._answer_bind(response_class(
            sequence_number=request.sequence_number,
            system_id=self.config.system_id,
            tlvs=Tlvs(sc_interface_version=INTERFACE_VERSION_34),
        ))
        self._last_received = now

    def reject_bind(self, request: Pdu, status: int, now: float | None = None) -> None:
        """SMSC: answer the pending bind with `status` (not ESME_ROK) and an empty body;
        the session is OPEN again and the peer may bind anew before bind_timeout. A paused
        bind timer goes on from `now` (required then) with the time it had left."""
        if status == CommandStatus.ESME_ROK:
            raise SessionUsageError("reject_bind needs an error status; use accept_bind")
        response_class = RESPONSE_CLASS.get(type(request))
        if response_class is None or request.command_id not in BIND_COMMAND_IDS:
            raise SessionUsageError(f"{type(request).__name__} is not a bind")
        if self._bind_time_left is not None and now is None:
            raise SessionUsageError("the bind timer is paused: reject_bind needs `now`")
        self._answer_bind(response_class(
            sequence_number=request.sequence_number, command_status=status))
        if self._bind_time_left is not None:
            self._bind_deadline = now + self._bind_time_left
            self._bind_time_left = None

    def pause_bind_timer(self, now: float) -> None:
        """SMSC, while a bind is pending: stop the bind timer, keeping what it had left.
        The time we take to decide on a bind (waiting for our own password checks) is not
        the peer's; the timer goes on when the bind is refused and ends when it is
        accepted. The caller bounds its decision time (core/login_limiter max_wait)."""
        if self._state is not State.BINDING:
            raise SessionUsageError(f"no pending bind in {self._state.value}")
        if self._bind_deadline is not None:
            self._bind_time_left = max(self._bind_deadline - now, 0.0)
            self._bind_deadline = None

    def _answer_bind(self, response: Pdu) -> None:
        pending = self._pending_bind
        if (self._state is not State.BINDING or pending is None
                or response.command_id != pending.command_id | RESPONSE_BIT
                or response.sequence_number != pending.sequence_number):
            raise SessionUsageError(f"no pending bind answered by {response!r}")
        ok = response.command_status == 0
        if ok:
            self._out.append(encode(response))
        else:
            self._answer_error(pending.command_id, response.command_status,
                               response.sequence_number)
        self._pending_bind = None
        self._set_state(answered(State.BINDING, pending.command_id, ok))
        if ok:
            self._bind_deadline = None
            self._bind_time_left = None

    def start_unbind(self, now: float) -> None:
        """Send unbind (even with a full window); on unbind_resp, or when it is not
        answered within response_timeout, the session asks to close."""
        self._send_request(Unbind(), now, _AUTO, force=True)

    def data_to_send(self) -> bytes:
        """Everything queued for the peer since the last call."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def _answer_error(self, command_id: int, status: int, sequence_number: int) -> None:
        """The header-only answer to `command_id`: its _resp, or generic_nack if it has none."""
        response_id = _RESPONSE_ID.get(command_id, _GENERIC_NACK)
        self._out.append(_HEADER.pack(HEADER_LENGTH, response_id, status, sequence_number))

    # --- time ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When handle_timer must next be called; None when no timer is needed."""
        if self._state is CLOSED:
            return None
        deadline = self._window.next_deadline()
        if self._bind_deadline is not None and (deadline is None
                                                or self._bind_deadline < deadline):
            deadline = self._bind_deadline
        enquire_at = self._enquire_at()
        if enquire_at is not None and (deadline is None or enquire_at < deadline):
            deadline = enquire_at
        unbind_at = self._unbind_deadline
        if unbind_at is not None and (deadline is None or unbind_at < deadline):
            deadline = unbind_at
        return deadline

    def _enquire_at(self) -> float | None:
        interval = self.config.enquire_link_interval
        if interval <= 0 or self._enquire_outstanding or not self._state.is_bound:
            return None
        return self._last_received + interval

    def handle_timer(self, now: float) -> list[Event]:
        """Act on every deadline at or before `now`."""
        if self._state is CLOSED:
            return []
        events: list[Event] = []
        expired = self._window.expire(now)
        if expired:
            for entry in expired:
                context = None if entry.context is _AUTO else entry.context
                events.append(RequestTimedOut(request=entry.request, context=context))
            self._close(events, f"no response to {_name(expired[0].request.command_id)} "
                                f"within {self.config.response_timeout:g} s")
            return events
        if self._unbind_deadline is not None and now >= self._unbind_deadline:
            self._finish_peer_unbind(
                events, f"unbind from the peer; {len(self._owed)} of its requests were "
                        f"still unanswered after {self.config.response_timeout:g} s")
            return events
        if self._bind_deadline is not None and now >= self._bind_deadline:
            events.append(BindTimedOut())
            self._close(events, f"not bound within {self.config.bind_timeout:g} s")
            return events
        enquire_at = self._enquire_at()
        if enquire_at is not None and now >= enquire_at:
            if self._window.is_full:
                # Requests are outstanding: their own deadlines watch the link.
                self._last_received = now
            else:
                self._send_request(EnquireLink(), now, _AUTO)
                self._enquire_outstanding = True
        return events

    # --- the end -------------------------------------------------------------------------

    def connection_lost(self) -> list[tuple[Pdu, Any]]:
        """The connection is gone: return (request, context) for every request we sent
        that was never answered (not the session's own enquire_link/unbind)."""
        self._set_state(CLOSED)
        self._out.clear()
        self._pending_bind = None
        return [(entry.request, entry.context) for entry in self._window.drain()
                if entry.context is not _AUTO]

    def _close(self, events: list[Event], reason: str) -> None:
        self._set_state(CLOSED)
        self._pending_bind = None
        events.append(CloseConnection(reason=reason))

    def _set_state(self, state: State) -> None:
        # The only assignment of the state; every `state` passed in comes from
        # gateway/smpp/state.py (TRANSITIONS, ANSWERS) or is CLOSED.
        self._state = state
        self._inbound = row(state, self._peer)
        self._outbound = row(state, self._role)

