"""Byte stream to whole SMPP frames, with the command_length guard (SPEC S8)."""
from __future__ import annotations

import struct

from gateway.smpp.constants import HEADER_LENGTH, CommandStatus
from gateway.smpp.errors import FramingError

__all__ = ["DEFAULT_MAX_LENGTH", "Framer"]

DEFAULT_MAX_LENGTH = 65536
_U32 = struct.Struct(">I")
_ID_SEQ = struct.Struct(">I4xI")  # command_id, (command_status skipped), sequence_number


class Framer:
    """Cuts a TCP byte stream into frames (header included), keeping any partial frame.

    The buffer is one bytearray: appends are amortised O(1) and consumed frames
    are dropped once per `feed`, so many small PDUs in one chunk and one byte
    per call are both linear. A command_length below 16 or above `max_length`
    raises `FramingError` (fatal: answer generic_nack, then close); it is
    raised as soon as the 4 length octets are in, and carries the command_id
    and sequence_number when the rest of the header has arrived too, and
    `frames`: the whole frames that came before the bad header in this call
    (the caller may still handle them before it closes). The bad bytes stay
    buffered, so a later `feed` raises again.
    """

    __slots__ = ("_buffer", "_max_length")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < HEADER_LENGTH:
            raise ValueError(f"max_length {max_length} is below the {HEADER_LENGTH}-octet header")
        self._buffer = bytearray()
        self._max_length = max_length

    @property
    def pending(self) -> int:
        """Octets buffered towards the next, incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received octets; return the frames they complete, in order."""
        buffer = self._buffer
        buffer += data
        available = len(buffer)
        frames: list[bytes] = []
        pos = 0
        while available - pos >= 4:
            length = _U32.unpack_from(buffer, pos)[0]
            if length < HEADER_LENGTH or length > self._max_length:
                if pos:
                    del buffer[:pos]
                error = self._length_error(length)
                error.frames = frames  # type: ignore[attr-defined]
                raise error
            if available - pos < length:
                break
            frames.append(bytes(buffer[pos:pos + length]))
            pos += length
        if pos:
            del buffer[:pos]
        return frames

    def _length_error(self, length: int) -> FramingError:
        command_id = sequence_number = None
        if len(self._buffer) >= HEADER_LENGTH:
            command_id, sequence_number = _ID_SEQ.unpack_from(self._buffer, 4)
        return FramingError(
            CommandStatus.ESME_RINVCMDLEN.value,
            f"command_length {length} outside {HEADER_LENGTH}..{self._max_length}",
            command_id=command_id,
            sequence_number=sequence_number,
        )
