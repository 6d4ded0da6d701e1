"""Fuzz harness: arbitrary bytes through framing, codec and a Session in every bind state.

Input layout (what the seed corpus in corpus/smpp/ holds):
  octet 0   the scenario: which role and state the session is put in first (SCENARIOS)
  octet 1   how the rest is cut into receive_data calls (1..64 octets, 0 = one call)
  octet 2   how the harness answers the requests it is handed (accept/reject bind, status)
  the rest  the peer's byte stream

The oracle: receive_data, handle_timer and the harness's own answers raise nothing;
every octet the session writes frames and decodes with our codec; the session's state
is CLOSED after CloseConnection and the window never holds more than its size (one more
for a forced unbind). Only documented protocol errors (gateway.smpp.errors) may escape
the codec when a frame is decoded on its own.

    python fuzz/smpp_session.py -max_total_time=600 /tmp/smpp-corpus fuzz/corpus/smpp
"""
from __future__ import annotations

import sys
from pathlib import Path

import atheris

# this checkout's gateway, not an installed copy (`python fuzz/x.py` puts fuzz/ on the path)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["gateway"]):
    from gateway.smpp import pdu as P
    from gateway.smpp.codec import decode, encode
    from gateway.smpp.constants import CommandStatus
    from gateway.smpp.errors import SmppError
    from gateway.smpp.events import CloseConnection, RequestReceived
    from gateway.smpp.framing import Framer
    from gateway.smpp.session import Session, SessionConfig, WindowFull
    from gateway.smpp.state import BIND_COMMAND_IDS, Role, State

START = 1000.0
WINDOW = 4
_BINDS = {"tx": P.BindTransmitter, "rx": P.BindReceiver, "trx": P.BindTransceiver}
_BIND_RESP = {P.BindTransmitter: P.BindTransmitterResp, P.BindReceiver: P.BindReceiverResp,
              P.BindTransceiver: P.BindTransceiverResp}


def _config(role: Role) -> SessionConfig:
    return SessionConfig(role=role, bind_timeout=10.0, response_timeout=5.0,
                         enquire_link_interval=3.0, window=WINDOW, max_pdu_size=4096)


def _smsc_bound(kind: str) -> Session:
    s = Session(_config(Role.SMSC), START)
    bind = _BINDS[kind](sequence_number=1, system_id="fuzz", password="pw")
    s.receive_data(encode(bind), START)
    s.accept_bind(bind, START)
    s.data_to_send()
    return s


def _smsc_binding() -> Session:
    s = Session(_config(Role.SMSC), START)
    s.receive_data(encode(P.BindTransceiver(sequence_number=1, system_id="f", password="p")),
                   START)
    return s


def _smsc_unbinding_ours() -> Session:
    s = _smsc_bound("trx")
    s.start_unbind(START)
    s.data_to_send()
    return s


def _smsc_unbinding_peer() -> Session:
    """The peer unbound while a submit_sm of its was still owed an answer."""
    s = _smsc_bound("trx")
    s.receive_data(encode(P.SubmitSm(sequence_number=2, destination_addr="1")), START)
    s.receive_data(encode(P.Unbind(sequence_number=3)), START)
    return s


def _smsc_delivering() -> Session:
    """Bound transceiver with three deliver_sm outstanding (sequence numbers 1..3)."""
    s = _smsc_bound("trx")
    for _ in range(3):
        s.send_request(P.DeliverSm(destination_addr="1", short_message=b"x"), START)
    s.data_to_send()
    return s


def _esme(kind: str | None) -> Session:
    s = Session(_config(Role.ESME), START)
    cls = _BINDS[kind or "trx"]
    seq = s.send_request(cls(system_id="fuzz", password="pw"), START)
    if kind is not None:
        s.receive_data(encode(_BIND_RESP[cls](sequence_number=seq, system_id="smsc")), START)
    s.data_to_send()
    return s


def _esme_submitting() -> Session:
    s = _esme("tx")
    s.send_request(P.SubmitSm(destination_addr="1", short_message=b"hi"), START)
    s.data_to_send()
    return s


def _esme_unbinding() -> Session:
    s = _esme("trx")
    s.start_unbind(START)
    s.data_to_send()
    return s


SCENARIOS = (
    ("smsc open", lambda: Session(_config(Role.SMSC), START)),
    ("smsc binding", _smsc_binding),
    ("smsc bound_tx", lambda: _smsc_bound("tx")),
    ("smsc bound_rx", lambda: _smsc_bound("rx")),
    ("smsc bound_trx", lambda: _smsc_bound("trx")),
    ("smsc unbinding (ours)", _smsc_unbinding_ours),
    ("smsc unbinding (peer's, answer owed)", _smsc_unbinding_peer),
    ("smsc bound_trx, deliver_sm outstanding", _smsc_delivering),
    ("esme binding", lambda: _esme(None)),
    ("esme bound_trx", lambda: _esme("trx")),
    ("esme bound_tx, submit_sm outstanding", _esme_submitting),
    ("esme bound_rx", lambda: _esme("rx")),
    ("esme unbinding", _esme_unbinding),
)


def _check_output(framer: Framer, data: bytes) -> None:
    """Everything the session writes is valid SMPP that our own codec reads back."""
    for frame in framer.feed(data):
        decode(frame)


def _answer(session: Session, request, policy: int, now: float) -> list:
    """Answer a request the way an application would; returns the events that causes."""
    if request.command_id in BIND_COMMAND_IDS:
        if session.state is not State.BINDING:
            return []
        if policy & 1:
            session.reject_bind(request, CommandStatus.ESME_RBINDFAIL)
        else:
            session.accept_bind(request, now)
        return []
    response_class = P.RESPONSE_CLASS.get(type(request))
    if response_class is None or policy & 2:  # leave some requests unanswered
        return []
    status = CommandStatus.ESME_RSYSERR if policy & 4 else CommandStatus.ESME_ROK
    return session.send_response(
        response_class(sequence_number=request.sequence_number, command_status=status))


def _push_deliver(session: Session, now: float) -> None:
    """While bound as a receiver, the SMSC pushes a deliver_sm when the window has room."""
    if session.role is Role.SMSC and session.state in (State.BOUND_RX, State.BOUND_TRX):
        try:
            session.send_request(P.DeliverSm(destination_addr="1", short_message=b"r"), now)
        except WindowFull:
            pass


def _handle(session: Session, events: list, policy: int, now: float) -> None:
    for event in events:
        if isinstance(event, RequestReceived):
            _handle(session, _answer(session, event.pdu, policy, now), policy, now)
        elif isinstance(event, CloseConnection):
            assert session.state is State.CLOSED, session.state


def _chunks(stream: bytes, cut: int):
    if cut == 0:
        yield stream
        return
    size = cut % 64 + 1
    for i in range(0, len(stream), size):
        yield stream[i:i + size]


def run(data: bytes) -> None:
    if len(data) < 3:
        return
    _, make = SCENARIOS[data[0] % len(SCENARIOS)]
    cut, policy, stream = data[1], data[2], data[3:]
    session = make()
    framer = Framer(1 << 20)
    now = START
    for i, chunk in enumerate(_chunks(stream, cut)):
        _handle(session, session.receive_data(chunk, now), policy, now)
        if policy & 8 and i % 3 == 0:
            _push_deliver(session, now)
        _check_output(framer, session.data_to_send())
        assert len(session._window) <= WINDOW + 1
        now += (chunk[0] % 8) * 0.5 if chunk else 0.5
        deadline = session.next_deadline()
        if deadline is not None and deadline <= now:
            _handle(session, session.handle_timer(now), policy, now)
            _check_output(framer, session.data_to_send())
        if session.state is State.CLOSED:
            break
    # the codec alone: any frame decodes or raises a documented SmppError; what decodes
    # re-encodes to a frame that decodes to the same PDU
    if len(stream) >= 16:
        try:
            pdu = decode(stream)
        except SmppError:
            return
        again = decode(encode(pdu))
        assert again == pdu, (pdu, again)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris's name)
    """Any exception is a finding: SessionUsageError too (the session misjudged its state)."""
    run(data)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
