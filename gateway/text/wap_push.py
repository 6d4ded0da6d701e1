"""WAP Push Service Indication: WBXML (WAP-167, WAP-192) in a WSP push PDU (WAP-230) over SMS.

On the air it is 8-bit data (data_coding 0x04) with a UDH (esm_class 0x40)
addressing WDP port 2948 (connectionless WSP push) from port 9200, plus a
concat IE when the PDU needs more than one part.
"""
from __future__ import annotations

import re

from gateway.text.concat import split_message
from gateway.text.udh import port_ie

__all__ = [
    "DATA_CODING",
    "ESM_CLASS",
    "WAP_PUSH_PORT",
    "WSP_SOURCE_PORT",
    "build_si",
    "push_segments",
    "wap_push_segments",
]

DATA_CODING = 0x04  # 8-bit binary
ESM_CLASS = 0x40  # UDHI: every part starts with the port addressing UDH
WAP_PUSH_PORT = 2948  # 0x0B84, WAP-259 WDP: connectionless WSP push (WAP Push)
WSP_SOURCE_PORT = 9200  # 0x23F0, connectionless WSP session service

# WSP (WAP-230) connectionless push PDU
_WSP_PUSH = 0x06  # PDU type, table 34
# Content-Type: application/vnd.wap.sic (well-known 0x2E) with charset=utf-8:
# value-length 3, short-integer 0x80|0x2E, parameter Charset 0x80|0x01, utf-8 0x80|0x6A.
_CONTENT_TYPE_SIC_UTF8 = bytes([0x03, 0xAE, 0x81, 0xEA])

# WBXML (WAP-192) global tokens and document header
_WBXML_VERSION_1_2 = 0x02
_PUBLIC_ID_SI_1_0 = 0x05  # "-//WAPFORUM//DTD SI 1.0//EN"
_CHARSET_UTF8 = 0x6A  # IANA MIBenum 106
_END = 0x01
_STR_I = 0x03
_OPAQUE = 0xC3
_HAS_ATTRIBUTES = 0x80
_HAS_CONTENT = 0x40

# SI code page 0 (WAP-167 section 8.3)
_TAG_SI = 0x05
_TAG_INDICATION = 0x06
_ACTIONS = {
    "signal-none": 0x05,
    "signal-low": 0x06,
    "signal-medium": 0x07,
    "signal-high": 0x08,
    "delete": 0x09,
}
_ATTR_CREATED = 0x0A
_ATTR_HREF = 0x0B
_HREF_PREFIXES = (  # longest first: "http://www." must win over "http://"
    ("https://www.", 0x0F),
    ("http://www.", 0x0D),
    ("https://", 0x0E),
    ("http://", 0x0C),
)
_ATTR_SI_EXPIRES = 0x10
_ATTR_SI_ID = 0x11
_VALUE_TOKENS = {".com/": 0x85, ".edu/": 0x86, ".net/": 0x87, ".org/": 0x88}
_VALUE_TOKEN_RE = re.compile("(" + "|".join(re.escape(s) for s in _VALUE_TOKENS) + ")")
_DATETIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z")


def _uintvar(value: int) -> bytes:
    """WSP variable-length unsigned integer: 7 bits per octet, high bit = more follow."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _inline(text: str) -> bytes:
    """STR_I: an inline UTF-8 string, NUL-terminated (so it may not hold a NUL)."""
    if "\x00" in text:
        raise ValueError("WBXML inline strings cannot contain NUL")
    return bytes([_STR_I]) + text.encode("utf-8") + b"\x00"


def _attr_value(value: str) -> bytes:
    """An attribute value: inline strings, with .com/ .edu/ .net/ .org/ as single tokens."""
    out = bytearray()
    for piece in _VALUE_TOKEN_RE.split(value):
        if piece in _VALUE_TOKENS:
            out.append(_VALUE_TOKENS[piece])
        elif piece:
            out += _inline(piece)
    return bytes(out)


def _href(url: str) -> bytes:
    for prefix, token in _HREF_PREFIXES:
        if url.startswith(prefix):
            return bytes([token]) + _attr_value(url[len(prefix):])
    return bytes([_ATTR_HREF]) + _attr_value(url)


def _datetime(value: str) -> bytes:
    """WAP-167 8.2.2: "YYYY-MM-DDThh:mm:ssZ" as OPAQUE 2-digit BCD octets, trailing zeros cut."""
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"expected a date like 1999-06-25T15:23:15Z, got {value!r}")
    digits = "".join(match.groups())
    octets = bytes(int(digits[i:i + 2], 16) for i in range(0, 14, 2)).rstrip(b"\x00")
    return bytes([_OPAQUE, len(octets)]) + octets


def _si_document(
    url: str, text: str, si_id: str | None, action: str | None,
    created: str | None, expires: str | None,
) -> bytes:
    """The SI document in WBXML: <si><indication href=... ...>text</indication></si>."""
    attrs = bytearray(_href(url))
    if si_id is not None:
        attrs += bytes([_ATTR_SI_ID]) + _attr_value(si_id)
    if created is not None:
        attrs += bytes([_ATTR_CREATED]) + _datetime(created)
    if expires is not None:
        attrs += bytes([_ATTR_SI_EXPIRES]) + _datetime(expires)
    if action is not None:
        if action not in _ACTIONS:
            raise ValueError(f"action must be one of {sorted(_ACTIONS)}, got {action!r}")
        attrs.append(_ACTIONS[action])
    indication = _TAG_INDICATION | _HAS_ATTRIBUTES
    content = b""
    if text:
        indication |= _HAS_CONTENT
        content = _inline(text) + bytes([_END])
    return (
        bytes([_WBXML_VERSION_1_2, _PUBLIC_ID_SI_1_0, _CHARSET_UTF8, 0x00])  # 0: no string table
        + bytes([_TAG_SI | _HAS_CONTENT, indication])
        + attrs
        + bytes([_END])  # end of the indication's attributes
        + content
        + bytes([_END])  # </si>
    )


def build_si(
    url: str,
    text: str,
    *,
    si_id: str | None = None,
    action: str | None = "signal-medium",
    created: str | None = None,
    expires: str | None = None,
    transaction_id: int = 0x01,
) -> bytes:
    """A WSP push PDU carrying a Service Indication for `url` with message `text`.

    `action` is signal-none/-low/-medium/-high or delete (None leaves the
    attribute out; the DTD default is signal-medium). `created` and `expires`
    (si-expires) are "YYYY-MM-DDThh:mm:ssZ". Raises ValueError for a bad date,
    action or transaction id, or a NUL in a string.
    """
    if not 0 <= transaction_id <= 0xFF:
        raise ValueError(f"transaction_id must be 0..255, got {transaction_id}")
    document = _si_document(url, text, si_id, action, created, expires)
    headers = _CONTENT_TYPE_SIC_UTF8
    return bytes([transaction_id, _WSP_PUSH]) + _uintvar(len(headers)) + headers + document


def push_segments(pdu: bytes, ref: int, ref16: bool = False) -> list[bytes]:
    """Short messages (UDH included) carrying a WSP push PDU to port 2948 from 9200.

    Each starts with a UDH: 16-bit port addressing, then a concat IE when the
    PDU needs more than one part (128 octets per part with an 8-bit ref;
    133 fit in a single part). Send with data_coding 0x04, esm_class 0x40.
    """
    segments = split_message(
        pdu, DATA_CODING, ref=ref, method="udh", ref16=ref16,
        extra_ies=[port_ie(WAP_PUSH_PORT, WSP_SOURCE_PORT)],
    )
    return [segment.body for segment in segments]


def wap_push_segments(
    url: str,
    text: str,
    ref: int,
    *,
    ref16: bool = False,
    si_id: str | None = None,
    action: str | None = "signal-medium",
    created: str | None = None,
    expires: str | None = None,
) -> list[bytes]:
    """`push_segments` of `build_si(url, text, ...)`: ready short_message bodies."""
    pdu = build_si(url, text, si_id=si_id, action=action, created=created, expires=expires)
    return push_segments(pdu, ref, ref16)
