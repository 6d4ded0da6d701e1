"""Errors raised by gateway.text; each says which input was wrong and why."""
from __future__ import annotations


class UnencodableText(ValueError):
    """The text holds a character the chosen data_coding cannot represent."""

    def __init__(self, char: str, index: int, data_coding: int) -> None:
        self.char = char
        self.index = index
        self.data_coding = data_coding
        super().__init__(
            f"cannot encode {char!r} (U+{ord(char):04X}) at index {index} "
            f"in data_coding 0x{data_coding:02X}"
        )


class UdhError(ValueError):
    """A User Data Header is truncated or inconsistent (the peer misbehaved)."""


class ReassemblyError(ValueError):
    """Concatenated segments do not form one complete message."""
