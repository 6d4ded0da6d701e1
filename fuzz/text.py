"""Fuzz harness over gateway/text: UDH, SAR and payload parsing, GSM 7-bit and UCS2
decoding, part counting, splitting and reassembly, on arbitrary short_message bodies.

Input layout (what the seed corpus in corpus/text/ holds):
  octet 0   data_coding
  octet 1   flags: bit 0 the body has a UDH (esm_class UDHI); bit 1 SAR numbering taken
            from the body's first three octets; bit 2 the body is cut into parts that are
            fed to a Reassembler in the order octet 2 gives
  the rest  the body

The oracle: decoding never raises (decode_body is total); parsing raises only the
documented UdhError / ReassemblyError (ValueErrors of gateway.text.errors) and
content checks only SubmitRejected; what parses re-builds to the same octets; a body cut
by split_message comes back whole from reassemble and from a Reassembler, in any order.

    python fuzz/text.py -max_total_time=600 /tmp/text-corpus fuzz/corpus/text
"""
from __future__ import annotations

import sys
from pathlib import Path

import atheris

# this checkout's gateway, not an installed copy (`python fuzz/x.py` puts fuzz/ on the path)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["gateway"]):
    from gateway.core.content import parts_of
    from gateway.core.validation import SubmitRejected
    from gateway.text import gsm7
    from gateway.text.concat import Reassembler, Sar, Segment, numbering, reassemble, split_message
    from gateway.text.encoding import alphabet, decode_body, encode_text
    from gateway.text.errors import ReassemblyError, UdhError, UnencodableText
    from gateway.text.parts import MAX_PARTS, count_parts_bytes, split_payload
    from gateway.text.udh import MAX_UDH_LENGTH, build_udh, parse_udh


def _decoding(body: bytes, data_coding: int, fill: int) -> None:
    for binary in ("hex", "latin-1"):
        assert isinstance(decode_body(body, data_coding, binary=binary), str)
    alphabet(data_coding)
    septets = gsm7.unpack(body, len(body) * 8 // 7 + 1, fill)
    assert all(s < 0x80 for s in septets)
    assert gsm7.unpack(gsm7.pack(septets, fill), len(septets), fill) == septets
    text = gsm7.decode(body)
    try:
        encoded = encode_text(text, data_coding)
    except UnencodableText:
        return
    except ValueError:  # a binary or unconverted data_coding does not encode text
        return
    assert isinstance(encoded, bytes)


def _udh(body: bytes, has_udh: bool, data_coding: int) -> None:
    if has_udh:
        try:
            udh, rest = parse_udh(body)
        except UdhError:
            udh = None
        if udh is not None:
            assert rest == body[udh.length:]
            if udh.length <= MAX_UDH_LENGTH and udh.ies:
                assert build_udh(udh.ies) == body[:udh.length]
            udh.concat, udh.ports  # noqa: B018 (the properties parse the IEs' values)
    try:
        count_parts_bytes(body, data_coding, has_udh)
    except UdhError:
        pass
    try:
        parts_of(body, data_coding, 0x40 if has_udh else 0)
    except SubmitRejected:
        pass


def _numbering(body: bytes, has_udh: bool, sar: bool) -> None:
    numbered_sar = None
    payload = body
    if sar and len(body) >= 3:
        numbered_sar = Sar(ref=body[0] << 4, total=body[1], seq=body[2])
        payload = body[3:]
    segment = Segment(body=payload, esm_class_udhi=has_udh, sar=numbered_sar)
    try:
        numbering(segment)
    except (UdhError, ReassemblyError):
        pass
    try:
        reassemble([segment, segment])
    except (UdhError, ReassemblyError):
        pass


def _round_trip(body: bytes, data_coding: int, order: int) -> None:
    """split_message then reassembly gives the body back, whatever the order of parts."""
    try:
        chunks = split_payload(body, data_coding)
    except ValueError:
        assert len(body) > MAX_PARTS * 100, "only a body past 255 parts may not split"
        return
    assert b"".join(chunks) == body
    method = "sar" if order & 1 else "udh"
    segments = split_message(body, data_coding, ref=order, method=method)
    if order & 2:
        segments.reverse()
    if order & 4 and len(segments) > 2:
        segments = segments[1::2] + segments[::2]
    assert reassemble(segments) == body
    reassembler = Reassembler(max_groups=2)
    whole = None
    for i, segment in enumerate(segments):
        result = reassembler.add_segment("a", "b", segment, now=float(i))
        if result is not None:
            whole = result
    assert whole == body, (len(whole or b""), len(body))
    assert reassembler.expired(1e9, 1.0) == []


def run(data: bytes) -> None:
    if len(data) < 2:
        return
    data_coding, flags, body = data[0], data[1], data[2:]
    has_udh = bool(flags & 1)
    _decoding(body, data_coding, flags % 7)
    _udh(body, has_udh, data_coding)
    _numbering(body, has_udh, bool(flags & 2))
    if flags & 4:
        _round_trip(body, data_coding, flags >> 3)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris's name)
    """Any exception other than the documented ones caught above is a finding."""
    run(data)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
