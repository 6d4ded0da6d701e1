"""How many SMS parts a message takes, and where to cut it.

Theory of operation. One SMS carries 140 octets of user data (TP-UD). A
UDH takes its length out of that, and GSM text is packed 7 bits per
character, so a part holds floor((140 - udh_octets) * 8 / 7) septets, or
(140 - udh_octets) // 2 UCS2 code units, or 140 - udh_octets octets:

    UDH                      GSM 7-bit   UCS2   8-bit
    none                       160        70     140
    concat, 8-bit ref (6)      153        67     134
    concat, 16-bit ref (7)     152        66     133

A message that fits one part is sent whole, without a concatenation IE;
otherwise every part carries one. Cuts never fall inside a GSM escape
sequence (0x1B + code: 2 septets) or a UTF-16 surrogate pair, so each part
decodes on its own. Bodies here are SMPP short_message octets: GSM is
unpacked (one septet per octet), so capacity is counted in body octets,
weighted for IA5 (see `_IA5_DOUBLE`).
"""
from __future__ import annotations

from collections.abc import Iterator

from gateway.text.encoding import Alphabet, alphabet, encode_text
from gateway.text.errors import UdhError
from gateway.text.udh import parse_udh

__all__ = [
    "MAX_PARTS",
    "TP_UD_OCTETS",
    "concat_udh_length",
    "count_parts",
    "count_parts_bytes",
    "part_capacity",
    "split_payload",
    "split_text",
]

TP_UD_OCTETS = 140
MAX_PARTS = 255  # the concat IE's total is one octet; so is sar_total_segments

# IA5 (data_coding 0x01) is ASCII in short_message but GSM 7-bit on the air:
# the SMSC converts it, and these ASCII characters become 2-septet escapes.
_IA5_DOUBLE = frozenset(b"[]{}\\^~|")
_SEPTETS = (Alphabet.GSM7, Alphabet.IA5)


def concat_udh_length(ref16: bool = False, extra_ie_octets: int = 0) -> int:
    """Octets of a UDH holding a concat IE (5 or 6 octets) plus `extra_ie_octets` of other IEs."""
    return 1 + (6 if ref16 else 5) + extra_ie_octets


def _capacity(kind: Alphabet, udh_length: int) -> int:
    space = TP_UD_OCTETS - udh_length
    if kind in _SEPTETS:
        capacity = space * 8 // 7
    elif kind is Alphabet.UCS2:
        capacity = space // 2 * 2
    else:
        capacity = space
    if capacity < 4:  # room for at least one surrogate pair or escape
        raise ValueError(f"a UDH of {udh_length} octets leaves no room for text")
    return capacity


def part_capacity(data_coding: int, udh_length: int = 0) -> int:
    """Body octets one part holds after a UDH of `udh_length` octets (0 = no UDH).

    Septets for GSM (one per octet, unpacked), octets for UCS2 (2 per code
    unit) and 8-bit codings.
    """
    return _capacity(alphabet(data_coding), udh_length)


def _tokens(body: bytes, kind: Alphabet) -> Iterator[tuple[int, int]]:
    """(octets, capacity used) for each unit that must stay within one part."""
    n = len(body)
    i = 0
    if kind is Alphabet.GSM7:
        while i < n:
            step = 2 if body[i] == 0x1B and i + 1 < n else 1
            yield step, step
            i += step
    elif kind is Alphabet.UCS2:
        while i < n:
            if i + 4 <= n and 0xD8 <= body[i] <= 0xDB and 0xDC <= body[i + 2] <= 0xDF:
                step = 4
            else:
                step = min(2, n - i)  # an odd trailing octet is a unit of its own
            yield step, step
            i += step
    else:  # IA5
        for octet in body:
            yield 1, 2 if octet in _IA5_DOUBLE else 1


def _chunk(body: bytes, kind: Alphabet, capacity: int) -> list[bytes]:
    if kind not in (Alphabet.GSM7, Alphabet.UCS2, Alphabet.IA5):
        return [body[i:i + capacity] for i in range(0, len(body), capacity)] or [body]
    chunks: list[bytes] = []
    start = pos = used = 0
    for octets, weight in _tokens(body, kind):
        if used + weight > capacity:
            chunks.append(body[start:pos])
            start, used = pos, 0
        used += weight
        pos += octets
    chunks.append(body[start:pos])
    return chunks


def _split(body: bytes, kind: Alphabet, single_udh: int, multi_udh: int) -> list[bytes]:
    if len(_chunk(body, kind, _capacity(kind, single_udh))) == 1:
        return [body]
    return _chunk(body, kind, _capacity(kind, multi_udh))


def _checked(chunks: list[bytes]) -> list[bytes]:
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"message needs {len(chunks)} parts; at most {MAX_PARTS} are possible")
    return chunks


def split_payload(
    body: bytes, data_coding: int, *, ref16: bool = False, extra_ie_octets: int = 0
) -> list[bytes]:
    """Cut an encoded body (no UDH) into part payloads; [body] when it fits one part.

    `extra_ie_octets` is the size of other IEs (e.g. 6 for 16-bit ports) that
    every part's UDH will also carry; with it, even a single part has a UDH.
    Raises ValueError past MAX_PARTS parts.
    """
    single_udh = 1 + extra_ie_octets if extra_ie_octets else 0
    multi_udh = concat_udh_length(ref16, extra_ie_octets)
    return _checked(_split(body, alphabet(data_coding), single_udh, multi_udh))


def split_text(text: str, data_coding: int, ref16: bool = False) -> list[bytes]:
    """Encode `text` for `data_coding` and cut it into part payloads (without UDH).

    Raises UnencodableText when the coding cannot represent the text, and
    ValueError past MAX_PARTS parts.
    """
    return split_payload(encode_text(text, data_coding), data_coding, ref16=ref16)


def count_parts(text: str, data_coding: int, ref16: bool = False) -> int:
    """Parts `text` takes in `data_coding` (an empty text is one part).

    Raises UnencodableText when the coding cannot represent the text. Not
    capped at MAX_PARTS: the caller decides what is too long.
    """
    body = encode_text(text, data_coding)
    return len(_split(body, alphabet(data_coding), 0, concat_udh_length(ref16)))


def count_parts_bytes(
    body: bytes, data_coding: int, has_udh: bool, ref16: bool = False
) -> int:
    """Parts an already-encoded short_message / message_payload body takes.

    With `has_udh` the body starts with a UDH (esm_class UDHI): if it holds a
    concat IE the body is one part the client cut itself; otherwise its IEs
    (e.g. ports) are repeated in every part. Raises UdhError for a bad UDH, or one too
    long to leave room for text once it is repeated in every part.
    """
    kind = alphabet(data_coding)
    if not has_udh:
        return len(_split(body, kind, 0, concat_udh_length(ref16)))
    udh, payload = parse_udh(body)
    if udh.concat is not None:
        return 1
    extra = udh.length - 1  # every IE but the UDHL octet, repeated in each part
    try:
        return len(_split(payload, kind, udh.length, concat_udh_length(ref16, extra)))
    except ValueError:  # _capacity: the peer's UDH (plus a concat IE) fills the whole SMS
        raise UdhError(f"a UDH of {udh.length} octets leaves no room for text in an SMS "
                       f"of {TP_UD_OCTETS} octets") from None
