"""Text <-> short_message octets for each SMPP data_coding: choose, encode, decode.

SMPP 3.4 data_coding 0x00-0x0F names a character set; many clients also send
GSM 03.38 Data Coding Scheme values (0xF0 flash GSM, 0x18 flash UCS2, ...).
`alphabet()` reduces both to the few alphabets that matter for encoding and
part counting.
"""
from __future__ import annotations

from enum import Enum
from typing import Literal

from gateway.smpp.constants import DataCoding
from gateway.text import gsm7
from gateway.text.errors import UnencodableText

__all__ = [
    "Alphabet",
    "UnencodableText",
    "alphabet",
    "choose_data_coding",
    "decode_body",
    "encode_text",
]


class Alphabet(Enum):
    """What the octets of a body mean, as far as splitting and decoding care."""

    GSM7 = "gsm7"  # unpacked septets, 0x1B escapes
    UCS2 = "ucs2"  # UTF-16BE code units
    BINARY = "binary"  # opaque octets
    IA5 = "ia5"  # ASCII
    LATIN1 = "latin-1"
    CYRILLIC = "iso8859-5"
    HEBREW = "iso8859-8"
    OTHER = "other"  # a character set we do not convert; octets shown as Latin-1


_SMPP_ALPHABETS = {
    DataCoding.DEFAULT: Alphabet.GSM7,
    DataCoding.IA5: Alphabet.IA5,
    DataCoding.BINARY_8BIT_A: Alphabet.BINARY,
    DataCoding.LATIN1: Alphabet.LATIN1,
    DataCoding.BINARY_8BIT: Alphabet.BINARY,
    DataCoding.CYRILLIC: Alphabet.CYRILLIC,
    DataCoding.HEBREW: Alphabet.HEBREW,
    DataCoding.UCS2: Alphabet.UCS2,
}
# GSM 03.38 DCS alphabet bits (bits 3..2 of the general coding groups).
_DCS_ALPHABETS = (Alphabet.GSM7, Alphabet.BINARY, Alphabet.UCS2, Alphabet.OTHER)
# Enum members read per message, bound once (smpp/constants.py says why)
_GSM7, _UCS2 = Alphabet.GSM7, Alphabet.UCS2

# Python codecs for the 8-bit character sets; all of them are total on decode
# except ASCII, which decode_body treats as Latin-1 (see there).
_CODECS = {
    Alphabet.IA5: "ascii",
    Alphabet.LATIN1: "latin-1",
    Alphabet.CYRILLIC: "iso8859_5",
    Alphabet.HEBREW: "iso8859_8",
}


def alphabet(data_coding: int) -> Alphabet:
    """The alphabet a data_coding value selects (SMPP 3.4 values, then GSM 03.38 DCS)."""
    if data_coding in _SMPP_ALPHABETS:
        return _SMPP_ALPHABETS[data_coding]
    group = data_coding & 0xF0
    if 0x10 <= data_coding <= 0x7F:
        # 00xx / 01xx general data coding: bit 5 = compressed, bits 3..2 alphabet.
        if data_coding & 0x20:
            return Alphabet.BINARY
        return _DCS_ALPHABETS[(data_coding >> 2) & 0x03]
    if group in (0xC0, 0xD0):  # message waiting indication, GSM 7-bit text
        return Alphabet.GSM7
    if group == 0xE0:  # message waiting indication, UCS2 text
        return Alphabet.UCS2
    if group == 0xF0:  # data coding / message class: bit 2 = 8-bit data
        return Alphabet.BINARY if data_coding & 0x04 else Alphabet.GSM7
    return Alphabet.OTHER


def choose_data_coding(text: str) -> int:
    """The cheapest data_coding for `text`: GSM 0x00 when it fits the alphabet, else UCS2 0x08."""
    return DataCoding.DEFAULT if gsm7.can_encode(text) else DataCoding.UCS2


def encode_text(text: str, data_coding: int) -> bytes:
    """Encode `text` into short_message octets for `data_coding`.

    Raises UnencodableText (a ValueError) naming the first character the
    coding cannot represent, and plain ValueError for a binary or unsupported
    data_coding (binary bodies are bytes already, not text).
    """
    kind = alphabet(data_coding)
    if kind is _GSM7:
        try:
            return gsm7.encode(text)
        except UnencodableText as exc:
            raise UnencodableText(exc.char, exc.index, data_coding) from None
    if kind is _UCS2:
        codec = "utf-16-be"
    elif kind in _CODECS:
        codec = _CODECS[kind]
    else:
        raise ValueError(f"data_coding 0x{data_coding:02X} ({kind.value}) does not encode text")
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableText(text[exc.start], exc.start, data_coding) from None


def decode_body(
    body: bytes, data_coding: int, *, binary: Literal["hex", "latin-1"] = "hex"
) -> str:
    """Decode short_message octets (without UDH) for `data_coding`; never raises on any input.

    - GSM: liberal, see gsm7.decode.
    - IA5: octets >= 0x80 are not ASCII; they are read as Latin-1, which is what
      the clients that send them mean, and loses nothing.
    - UCS2: UTF-16BE, surrogate pairs joined; an odd trailing octet or a lone
      surrogate becomes U+FFFD.
    - binary: `binary="hex"` gives lowercase hex, `"latin-1"` one char per octet.
    - any other data_coding: Latin-1.
    """
    kind = alphabet(data_coding)
    if kind is _GSM7:
        return gsm7.decode(body)
    if kind is _UCS2:
        return body.decode("utf-16-be", errors="replace")
    if kind is Alphabet.BINARY:
        if binary == "hex":
            return body.hex()
        if binary == "latin-1":
            return body.decode("latin-1")
        raise ValueError(f"binary must be 'hex' or 'latin-1', got {binary!r}")
    if kind in (Alphabet.CYRILLIC, Alphabet.HEBREW):
        return body.decode(_CODECS[kind], errors="replace")
    return body.decode("latin-1")
