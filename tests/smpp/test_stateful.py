"""Hypothesis stateful tests: the SMSC session against a model of the bind-state table, and
the window against a plain dict. Hypothesis drives random sequences of peer PDUs, our
answers, our requests and the passing of time, and checks every step."""
from __future__ import annotations

import dataclasses

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from gateway.smpp import pdu as P
from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.events import (
    BindTimedOut,
    CloseConnection,
    ProtocolViolation,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from gateway.smpp.framing import Framer
from gateway.smpp.session import Session, SessionConfig, WindowFull
from gateway.smpp.state import Role, State
from gateway.smpp.window import Window
from gateway.smpp.window import WindowFull as WindowIsFull

BIND_TIMEOUT = 10.0
RESPONSE_TIMEOUT = 5.0
WINDOW = 3
BINDS = {"tx": (P.BindTransmitter, State.BOUND_TX), "rx": (P.BindReceiver, State.BOUND_RX),
         "trx": (P.BindTransceiver, State.BOUND_TRX)}
BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
CAN_SUBMIT = (State.BOUND_TX, State.BOUND_TRX)
CAN_RECEIVE = (State.BOUND_RX, State.BOUND_TRX)


class SmscSessionMachine(RuleBasedStateMachine):
    """The model: the state the table says, the peer's requests we owe an answer, our
    requests outstanding with their deadlines, the bind and unbind deadlines."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.session = Session(SessionConfig(
            role=Role.SMSC, bind_timeout=BIND_TIMEOUT, response_timeout=RESPONSE_TIMEOUT,
            enquire_link_interval=0, window=WINDOW), self.now)
        self.state = State.OPEN
        self.pending_bind = None
        self.owed: list[int] = []
        self.outstanding: dict[int, float] = {}  # our sequence number -> deadline
        self.our_unbind: int | None = None
        self.bind_deadline: float | None = BIND_TIMEOUT
        self.unbind_deadline: float | None = None
        self.peer_sequence = 0
        self.framer = Framer()

    # --- helpers ---------------------------------------------------------------------------
    def output(self) -> list:
        """What the session wrote since the last call, decoded (it must always decode)."""
        return [decode(frame) for frame in self.framer.feed(self.session.data_to_send())]

    def peer_sends(self, pdu) -> list:
        self.peer_sequence += 1
        pdu = dataclasses.replace(pdu, sequence_number=self.peer_sequence)
        return self.session.receive_data(encode(pdu), self.now)

    def refused(self, events: list, status: int) -> None:
        assert [type(e) for e in events] == [ProtocolViolation], events
        (answer,) = self.output()
        assert answer.sequence_number == self.peer_sequence
        assert answer.command_status == status, (answer, status)

    def closed(self) -> None:
        self.state = State.CLOSED
        self.outstanding.clear()
        self.owed.clear()

    @property
    def live(self) -> bool:
        return self.state is not State.CLOSED

    # --- the peer's requests -----------------------------------------------------------------
    @precondition(lambda self: self.live)
    @rule(kind=st.sampled_from(sorted(BINDS)))
    def peer_binds(self, kind: str) -> None:
        cls, _ = BINDS[kind]
        events = self.peer_sends(cls(system_id="acct", password="pw"))
        if self.state is State.OPEN:
            (event,) = events
            assert isinstance(event, RequestReceived) and isinstance(event.pdu, cls)
            assert self.output() == []
            self.state, self.pending_bind = State.BINDING, event.pdu
        elif self.state is State.BINDING or self.state in BOUND:
            self.refused(events, S.ESME_RALYBND)
        else:
            self.refused(events, S.ESME_RINVBNDSTS)

    @precondition(lambda self: self.state is State.BINDING)
    @rule(accept=st.booleans())
    def we_answer_the_bind(self, accept: bool) -> None:
        request = self.pending_bind
        if accept:
            self.session.accept_bind(request, self.now)
            self.state = next(s for c, s in BINDS.values() if isinstance(request, c))
            self.bind_deadline = None
        else:
            self.session.reject_bind(request, S.ESME_RBINDFAIL)
            self.state = State.OPEN
        (answer,) = self.output()
        assert answer.sequence_number == request.sequence_number
        assert answer.command_status == (S.ESME_ROK if accept else S.ESME_RBINDFAIL)
        self.pending_bind = None

    @precondition(lambda self: self.live)
    @rule()
    def peer_submits(self) -> None:
        events = self.peer_sends(P.SubmitSm(destination_addr="4917000000", short_message=b"x"))
        if self.state in CAN_SUBMIT:
            (event,) = events
            assert isinstance(event, RequestReceived) and isinstance(event.pdu, P.SubmitSm)
            self.owed.append(event.pdu.sequence_number)
            assert self.output() == []
        else:
            self.refused(events, S.ESME_RINVBNDSTS)

    @precondition(lambda self: self.owed)
    @rule(data=st.data())
    def we_answer_a_submit(self, data) -> None:
        seq = data.draw(st.sampled_from(self.owed))
        self.owed.remove(seq)
        events = self.session.send_response(P.SubmitSmResp(sequence_number=seq,
                                                           message_id="1"))
        answers = self.output()
        assert answers[0] == P.SubmitSmResp(sequence_number=seq, message_id="1")
        if self.unbind_deadline is not None and not self.owed:
            # the last answer the unbinding peer waited for: its unbind_resp, then close
            assert isinstance(answers[1], P.UnbindResp)
            assert [type(e) for e in events] == [CloseConnection]
            self.closed()
        else:
            assert len(answers) == 1 and events == []

    @precondition(lambda self: self.live)
    @rule()
    def peer_sends_an_unknown_command(self) -> None:
        self.peer_sequence += 1
        frame = (16).to_bytes(4, "big") + (0x0000_0123).to_bytes(4, "big") + bytes(4) + \
            self.peer_sequence.to_bytes(4, "big")
        events = self.session.receive_data(frame, self.now)
        assert [type(e) for e in events] == [ProtocolViolation]
        (nack,) = self.output()
        assert isinstance(nack, P.GenericNack) and nack.command_status == S.ESME_RINVCMDID

    @precondition(lambda self: self.live)
    @rule()
    def peer_unbinds(self) -> None:
        events = self.peer_sends(P.Unbind())
        if self.state in BOUND or self.state is State.UNBINDING:
            if self.unbind_deadline is not None:  # a second unbind: answered with the first
                assert events == [] and self.output() == []
                return
            if not self.owed:
                assert [type(e) for e in events] == [Unbound, CloseConnection]
                assert isinstance(self.output()[-1], P.UnbindResp)
                self.closed()
            else:
                assert [type(e) for e in events] == [Unbound]
                assert self.output() == []
                self.state = State.UNBINDING
                self.unbind_deadline = self.now + RESPONSE_TIMEOUT
        else:
            self.refused(events, S.ESME_RINVBNDSTS)

    # --- our requests and the peer's answers ---------------------------------------------
    @precondition(lambda self: self.state in CAN_RECEIVE)
    @rule()
    def we_deliver(self) -> None:
        request = P.DeliverSm(destination_addr="4930123456", short_message=b"receipt")
        if len(self.outstanding) >= WINDOW:
            try:
                self.session.send_request(request, self.now)
            except WindowFull:
                return
            raise AssertionError("a full window took another request")
        seq = self.session.send_request(request, self.now)
        assert seq not in self.outstanding
        self.outstanding[seq] = self.now + RESPONSE_TIMEOUT
        (sent,) = self.output()
        assert isinstance(sent, P.DeliverSm) and sent.sequence_number == seq

    @precondition(lambda self: self.live and self.outstanding)
    @rule(data=st.data(), status=st.sampled_from([S.ESME_ROK, S.ESME_RSYSERR]))
    def peer_answers_our_request(self, data, status: int) -> None:
        seq = data.draw(st.sampled_from(sorted(self.outstanding)))
        del self.outstanding[seq]
        if seq == self.our_unbind:
            events = self.session.receive_data(encode(P.UnbindResp(sequence_number=seq)),
                                               self.now)
            assert [type(e) for e in events] == [ResponseReceived, Unbound, CloseConnection] \
                or [type(e) for e in events] == [Unbound, CloseConnection]
            self.closed()
            return
        events = self.session.receive_data(
            encode(P.DeliverSmResp(sequence_number=seq, command_status=status)), self.now)
        (event,) = events
        assert isinstance(event, ResponseReceived)
        assert event.response.command_status == status

    @precondition(lambda self: self.live)
    @rule(seq=st.integers(100_000, 200_000))
    def peer_answers_something_never_asked(self, seq: int) -> None:
        events = self.session.receive_data(encode(P.DeliverSmResp(sequence_number=seq)),
                                           self.now)
        assert [type(e) for e in events] == [ProtocolViolation]
        assert self.output() == []

    @precondition(lambda self: self.state in BOUND and self.our_unbind is None)
    @rule()
    def we_unbind(self) -> None:
        self.session.start_unbind(self.now)
        (unbind,) = self.output()
        assert isinstance(unbind, P.Unbind)
        self.our_unbind = unbind.sequence_number
        self.outstanding[unbind.sequence_number] = self.now + RESPONSE_TIMEOUT
        self.state = State.UNBINDING

    # --- time ------------------------------------------------------------------------------
    @precondition(lambda self: self.live)
    @rule(seconds=st.sampled_from([0.5, 2.0, 4.9, 5.0, 11.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        deadline = self.session.next_deadline()
        expected = [d for d in (*self.outstanding.values(), self.bind_deadline,
                                self.unbind_deadline) if d is not None]
        assert deadline == (min(expected) if expected else None), (deadline, expected)
        events = self.session.handle_timer(self.now)
        kinds = [type(e) for e in events]
        if any(d <= self.now for d in self.outstanding.values()):
            assert kinds[-1] is CloseConnection and RequestTimedOut in kinds, kinds
            self.closed()
        elif self.unbind_deadline is not None and self.now >= self.unbind_deadline:
            assert kinds == [CloseConnection], kinds
            assert isinstance(self.output()[-1], P.UnbindResp)
            self.closed()
        elif self.bind_deadline is not None and self.now >= self.bind_deadline:
            assert kinds == [BindTimedOut, CloseConnection], kinds
            self.closed()
        else:
            assert events == [], events

    @precondition(lambda self: not self.live)
    @rule(seconds=st.sampled_from([1.0, 100.0]))
    def a_closed_session_stays_closed(self, seconds: float) -> None:
        self.now += seconds
        assert self.session.handle_timer(self.now) == []
        assert self.session.receive_data(encode(P.Unbind(sequence_number=1)), self.now) == []

    # --- what always holds ---------------------------------------------------------------
    @invariant()
    def the_state_is_the_models(self) -> None:
        assert self.session.state is self.state, (self.session.state, self.state)

    @invariant()
    def the_window_holds_what_is_unanswered(self) -> None:
        if self.live:
            assert self.session.outstanding == len(self.outstanding)
            assert self.session.outstanding <= WINDOW + 1  # + a forced unbind

    @invariant()
    def a_closed_session_ignores_its_peer(self) -> None:
        if not self.live:
            assert self.session.receive_data(encode(P.EnquireLink(sequence_number=9)),
                                             self.now) == []
            assert self.session.next_deadline() is None
            self.output()


TestSmscSession = SmscSessionMachine.TestCase
TestSmscSession.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


class WindowMachine(RuleBasedStateMachine):
    """The window against a dict in insertion order with the same deadline clamping."""

    def __init__(self) -> None:
        super().__init__()
        self.window = Window(4)
        self.size = 4
        self.model: dict[int, float] = {}
        self.last_deadline = float("-inf")

    @rule(seq=st.integers(1, 12), deadline=st.floats(0, 100), force=st.booleans())
    def add(self, seq: int, deadline: float, force: bool) -> None:
        if len(self.model) >= self.size and not force:
            try:
                self.window.add(seq, "req", None, deadline)
            except WindowIsFull:
                return
            raise AssertionError("a full window took another request")
        if seq in self.model:
            try:
                self.window.add(seq, "req", None, deadline, force=force)
            except ValueError:
                return
            raise AssertionError("a sequence number was added twice")
        entry = self.window.add(seq, "req", None, deadline, force=force)
        deadline = max(deadline, self.last_deadline)
        self.last_deadline = deadline
        assert entry.deadline == deadline
        self.model[seq] = deadline

    @rule(seq=st.integers(1, 12))
    def pop(self, seq: int) -> None:
        entry = self.window.pop(seq)
        expected = self.model.pop(seq, None)
        assert (entry is None) == (expected is None)
        if entry is not None:
            assert entry.sequence_number == seq and entry.deadline == expected

    @rule(now=st.floats(0, 120))
    def expire(self, now: float) -> None:
        expired = [entry.sequence_number for entry in self.window.expire(now)]
        due = [seq for seq, deadline in self.model.items() if deadline <= now]
        assert expired == due
        for seq in due:
            del self.model[seq]

    @rule(size=st.integers(1, 6))
    def resize(self, size: int) -> None:
        self.window.size = self.size = size

    @rule()
    def drain(self) -> None:
        assert [e.sequence_number for e in self.window.drain()] == list(self.model)
        self.model.clear()

    @invariant()
    def it_matches_the_model(self) -> None:
        assert len(self.window) == len(self.model)
        assert self.window.is_full == (len(self.model) >= self.size)
        assert self.window.next_deadline() == (min(self.model.values()) if self.model else None)
        for seq in self.model:
            assert seq in self.window


TestWindow = WindowMachine.TestCase
TestWindow.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
