"""The GSM 03.38 (3GPP TS 23.038) default alphabet, its extension table, and 7-bit packing.

In SMPP short_message (data_coding 0x00) GSM text is *unpacked*: one septet
value per octet. `encode`/`decode` work on that form; `pack`/`unpack` convert
to and from the packed 7-bit form used over the air.
"""
from __future__ import annotations

from gateway.text.errors import UnencodableText

ESCAPE = 0x1B

# The default alphabet, indexed by septet value. 0x1B is the escape to the
# extension table, not a character; it stands here as a placeholder only.
BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(BASIC_TABLE) == 128

# The extension table: 0x1B followed by one of these codes.
EXTENSION_TABLE: dict[int, str] = {
    0x0A: "\x0c",  # form feed
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_BASIC_ENCODE = {ch: code for code, ch in enumerate(BASIC_TABLE) if code != ESCAPE}
_EXT_ENCODE = {ch: code for code, ch in EXTENSION_TABLE.items()}
_ENCODE: dict[str, bytes] = {ch: bytes([code]) for ch, code in _BASIC_ENCODE.items()}
_ENCODE.update({ch: bytes([ESCAPE, code]) for ch, code in _EXT_ENCODE.items()})
_CHARSET = frozenset(_ENCODE)
EXTENSION_CHARS = frozenset(_EXT_ENCODE)

# What `decode` shows for an octet >= 0x80 (not a septet at all). '?' rather
# than `octet & 0x7F`: masking turns a stray Latin-1 'é' (0xE9) into a silent,
# wrong 'i', while '?' marks the damage and keeps the decoded text GSM-encodable,
# so re-encoding it never changes its alphabet or part count.
INVALID_SEPTET = "?"
# What `decode` shows for 0x1B 0x1B (reserved for a further extension table)
# and for an escape with nothing after it: TS 23.038 says "display a space".
ESCAPE_FALLBACK = " "

_DECODE_BASIC = tuple(
    ESCAPE_FALLBACK if code == ESCAPE else ch for code, ch in enumerate(BASIC_TABLE)
) + (INVALID_SEPTET,) * 128


def can_encode(text: str) -> bool:
    """True when every character of `text` is in the default alphabet or its extension."""
    return _CHARSET.issuperset(text)


def encode(text: str) -> bytes:
    """Encode `text` as unpacked septets; extension characters become 0x1B + code.

    Raises UnencodableText (data_coding 0x00) naming the first character outside
    the alphabet.
    """
    try:
        return b"".join([_ENCODE[ch] for ch in text])
    except KeyError:
        index = next(i for i, ch in enumerate(text) if ch not in _CHARSET)
        raise UnencodableText(text[index], index, 0x00) from None


def decode(data: bytes) -> str:
    """Decode unpacked septets liberally; never raises, whatever the octets.

    - 0x1B + a code in the extension table -> that character;
    - 0x1B + any other code -> the default-alphabet character for that code
      (TS 23.038: "display the character shown in the main default table");
    - 0x1B 0x1B, or 0x1B as the last octet -> a space;
    - an octet >= 0x80 -> '?' (see INVALID_SEPTET).
    """
    if ESCAPE not in data:  # the usual text: one table lookup per octet, done in C
        return data.decode("latin-1").translate(_DECODE_BY_ORDINAL)
    out: list[str] = []
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code != ESCAPE:
            out.append(_DECODE_BASIC[code])
            i += 1
            continue
        if i + 1 >= n:
            out.append(ESCAPE_FALLBACK)
            break
        ext = data[i + 1]
        out.append(EXTENSION_TABLE.get(ext) or _DECODE_BASIC[ext])
        i += 2
    return "".join(out)


# _DECODE_BASIC as a str.translate table over the octets read as Latin-1 code points
_DECODE_BY_ORDINAL = dict(enumerate(_DECODE_BASIC))


def septet_length(text: str) -> int:
    """How many septets `text` takes: 1 per character, 2 per extension character.

    Raises UnencodableText for a character outside the alphabet.
    """
    length = 0
    for index, ch in enumerate(text):
        if ch in _BASIC_ENCODE:
            length += 1
        elif ch in _EXT_ENCODE:
            length += 2
        else:
            raise UnencodableText(ch, index, 0x00)
    return length


def _check_fill_bits(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise ValueError(f"fill_bits must be 0..6, got {fill_bits}")


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septet values (each < 0x80) into 7-bit form, least significant bit first.

    `fill_bits` zero bits come first, so that the septets start on a septet
    boundary after a UDH: fill_bits = (7 - (udh_octets * 8) % 7) % 7. Unused bits of
    the last octet are zero; the receiver must be told the septet count
    (TP-UDL), which `unpack` takes as `count`.
    """
    _check_fill_bits(fill_bits)
    if not septets:
        return b""
    out = bytearray()
    acc = 0
    nbits = fill_bits
    for septet in septets:
        if septet > 0x7F:
            raise ValueError(f"not a septet: 0x{septet:02X}")
        acc |= septet << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """Unpack `count` septets from packed 7-bit `data`, skipping `fill_bits` leading bits.

    Returns fewer than `count` septets when `data` runs out (liberal with
    truncated input); never more.
    """
    _check_fill_bits(fill_bits)
    out = bytearray()
    acc = 0
    nbits = -fill_bits
    for octet in data:
        if len(out) >= count:
            break
        if nbits < 0:  # the first octet: drop the fill bits
            acc = octet >> fill_bits
            nbits = 8 - fill_bits
        else:
            acc |= octet << nbits
            nbits += 8
        while nbits >= 7 and len(out) < count:
            out.append(acc & 0x7F)
            acc >>= 7
            nbits -= 7
    return bytes(out)
