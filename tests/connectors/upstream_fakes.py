"""Fakes for the upstream connector's unit tests: an in-memory UpstreamStore, an outcome
sink, an endpoint that connects to StringTransports, and a scripted upstream SMSC built on
the sans-I/O Session in the SMSC role."""
from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import StringTransport

from gateway.core.upstream_ids import best_match
from gateway.model import Message, MessageState
from gateway.smpp import pdu as P
from gateway.smpp.events import RequestReceived, ResponseReceived
from gateway.smpp.session import Role, Session, SessionConfig


class MemoryUpstreamStore:
    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.records: dict[str, dict] = {}
        self.keys: list[tuple[str, str, str]] = []  # connector, key, message_id
        self.refunds: list[str] = []
        self.hold: list[Deferred] | None = None  # set to a list to hold the marks
        self.calls: list[tuple[str, int]] = []  # (method, calls in it) of the *_each calls

    def mark_submitting_each(self, calls: list[tuple[str, str, float]]) -> Deferred:
        self.calls.append(("mark_submitting_each", len(calls)))
        for message_id, connector, _ in calls:
            self.records[message_id] = {"status": "submitting", "connector": connector}
        if self.hold is not None:
            d: Deferred = Deferred()
            self.hold.append(d)
            return d
        return succeed([(True, None)] * len(calls))

    def record_submitted(self, message_id, connector, upstream_id, keys, at) -> Deferred:
        self.records[message_id] = {"status": "submitted", "upstream_id": upstream_id}
        self.keys += [(connector, key, message_id) for key in keys]
        return succeed(None)

    def record_submitted_each(self, calls: list[tuple]) -> Deferred:
        self.calls.append(("record_submitted_each", len(calls)))
        for call in calls:
            self.record_submitted(*call)
        return succeed([(True, None)] * len(calls))

    def release_submit(self, message_id: str) -> Deferred:
        self.records.pop(message_id, None)
        return succeed(None)

    def find_by_upstream_id(self, connector: str, keys: list[str]) -> Deferred:
        found = [(k, m) for c, k, m in self.keys if c == connector and k in keys]
        message_id = best_match(keys, found)
        return succeed(self.messages.get(message_id) if message_id else None)

    def refund(self, message_id: str) -> Deferred:
        self.refunds.append(message_id)
        return succeed(None)


class RecordingSink:
    def __init__(self, store: MemoryUpstreamStore) -> None:
        self.finals: list[tuple[str, MessageState, int]] = []
        self.store = store
        self.pending: list[Deferred] | None = None  # set to a list to hold durability

    def message_final(self, message: Message, state: MessageState, error_code: int,
                      done_at: float) -> Deferred:
        self.finals.append((message.id, state, error_code))
        import dataclasses
        self.store.messages[message.id] = dataclasses.replace(message, state=state)
        if self.pending is not None:
            d: Deferred = Deferred()
            self.pending.append(d)
            return d
        return succeed(None)


class FakeEndpoint:
    """Every connect() builds the protocol on a fresh StringTransport."""

    def __init__(self) -> None:
        self.connections: list[tuple[Any, StringTransport]] = []

    def connect(self, factory: Any) -> Deferred:
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.connections.append((protocol, transport))
        return succeed(protocol)


class ScriptedSmsc:
    """The far end of one FakeEndpoint connection: a real Session in the SMSC role."""

    def __init__(self, protocol: Any, transport: StringTransport, clock: Any) -> None:
        self.protocol = protocol
        self.transport = transport
        self.clock = clock
        self.session = Session(SessionConfig(role=Role.SMSC, bind_timeout=0,
                                             enquire_link_interval=0), clock.seconds())
        self.requests: list[Any] = []
        self.responses: list[Any] = []

    def pump(self) -> None:
        """Read what the connector wrote; bind requests are accepted at once."""
        data = self.transport.value()
        self.transport.clear()
        for event in self.session.receive_data(data, self.clock.seconds()):
            if isinstance(event, RequestReceived):
                if isinstance(event.pdu, (P.BindTransceiver, P.BindTransmitter,
                                          P.BindReceiver)):
                    self.session.accept_bind(event.pdu, self.clock.seconds())
                else:
                    self.requests.append(event.pdu)
            elif isinstance(event, ResponseReceived):
                self.responses.append(event.response)
        self.flush()

    def flush(self) -> None:
        data = self.session.data_to_send()
        if data:
            self.protocol.dataReceived(data)

    def answer_submit(self, submit: Any, message_id: str = "", status: int = 0) -> None:
        self.session.send_response(P.SubmitSmResp(
            sequence_number=submit.sequence_number, message_id=message_id,
            command_status=status))
        self.flush()

    def deliver(self, pdu: Any) -> None:
        self.session.send_request(pdu, self.clock.seconds())
        self.flush()
        self.pump()

    def take_submits(self) -> list[Any]:
        self.pump()
        submits = [r for r in self.requests if isinstance(r, P.SubmitSm)]
        self.requests = [r for r in self.requests if not isinstance(r, P.SubmitSm)]
        return submits
