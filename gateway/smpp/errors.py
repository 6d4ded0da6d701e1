"""Errors of the SMPP layer. A peer's misbehaviour carries the command_status to answer with.

Two families, as in hyper-h2: `SmppError` is the peer's fault (answer it and
go on, or close when `fatal`); `SessionUsageError` is ours (a bug in the caller).
"""
from __future__ import annotations

from gateway.smpp.constants import CommandStatus


class SmppError(Exception):
    """The peer sent something we must answer with `command_status`.

    `command_id` and `sequence_number` are those of the offending PDU when the
    header could be read (so the matching `_resp` can be sent), else None and
    the answer is a generic_nack.
    """

    fatal = False

    def __init__(
        self,
        command_status: int,
        message: str = "",
        *,
        command_id: int | None = None,
        sequence_number: int | None = None,
    ) -> None:
        super().__init__(message or CommandStatus(command_status).name)
        self.command_status = command_status
        self.command_id = command_id
        self.sequence_number = sequence_number


class PduError(SmppError):
    """A malformed or invalid PDU body: answer with its `_resp` (or generic_nack) and keep
    the session."""


class FramingError(SmppError):
    """The byte stream cannot be framed (bad command_length): generic_nack, then close."""

    fatal = True


class SessionUsageError(Exception):
    """The caller used the session wrongly (e.g. sent a PDU not allowed in its state)."""
