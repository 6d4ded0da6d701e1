"""What a Session reports to its caller: frozen values, one class per kind of happening."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.smpp.frozen_init import fast_init


class Event:
    """Base of every session event."""

    __slots__ = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestReceived(Event):
    """A request the application must handle.

    bind_* (the session is BINDING until accept_bind/reject_bind), submit_sm,
    submit_multi, data_sm, query_sm, cancel_sm, replace_sm on the SMSC side;
    deliver_sm, data_sm, alert_notification, outbind on the ESME side. Answer
    with Session.send_response (outbind and alert_notification take no answer).
    """

    pdu: Any


@fast_init  # one per deliver_sm_resp: see frozen_init.py
@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseReceived(Event):
    """The peer answered a request we sent (`response` may be a generic_nack)."""

    request: Any
    response: Any
    context: Any = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestTimedOut(Event):
    """A request we sent was not answered within response_timeout; CloseConnection follows.

    `context` is None for the session's own enquire_link and unbind.
    """

    request: Any
    context: Any = None


@dataclass(frozen=True, kw_only=True, slots=True)
class BindTimedOut(Event):
    """The peer did not bind within bind_timeout; CloseConnection follows."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Unbound(Event):
    """The session was unbound, by the peer's unbind or by the answer to ours."""

    by_peer: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolViolation(Event):
    """The peer misbehaved. Informative only: the session has already answered if an
    answer was due (with `command_status`) and carries on unless CloseConnection follows.

    `command_id` and `sequence_number` are those of the offending PDU when known.
    Responses are never answered: for a malformed one `command_status` is the
    codec's verdict, for one that matches no outstanding request ESME_RUNKNOWNERR.
    """

    command_status: int
    detail: str
    command_id: int | None = None
    sequence_number: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseConnection(Event):
    """The session is over: write Session.data_to_send(), then close the connection."""

    reason: str
