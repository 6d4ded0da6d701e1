"""WAP Push Service Indication: WBXML tokens, the WSP push PDU, and the SMS segments."""
from __future__ import annotations

import pytest

from gateway.text.concat import Segment, reassemble
from gateway.text.udh import Concat, Ports, parse_udh
from gateway.text.wap_push import build_si, push_segments, wap_push_segments

# WSP connectionless push (WAP-230 8.2.4.1), TID 0x01:
WSP_HEADER = bytes([
    0x01,  # transaction id
    0x06,  # PDU type: Push
    0x04,  # headers length (uintvar): content type below
    # Content-Type, value-length 3: application/vnd.wap.sic (0x2E|0x80),
    # parameter charset (0x01|0x80) = utf-8 (0x6A|0x80)
    0x03, 0xAE, 0x81, 0xEA,
])
# WBXML 1.2, SI 1.0 public id, UTF-8, empty string table
WBXML_HEADER = bytes([0x02, 0x05, 0x6A, 0x00])


def test_golden_wap_167_example() -> None:
    # WAP-167 (Service Indication) tokenised example:
    #   <si><indication href="http://www.xyz.com/email/123/abc.wml"
    #        created="1999-06-25T15:23:15Z" si-expires="1999-06-30T00:00:00Z">
    #     You have 4 new emails</indication></si>
    expected = (
        WSP_HEADER
        + WBXML_HEADER
        + bytes([0x45])  # <si> with content (0x05 | 0x40)
        + bytes([0xC6])  # <indication> with attributes and content (0x06 | 0x80 | 0x40)
        + bytes([0x0D])  # href="http://www."
        + b"\x03xyz\x00"  # STR_I "xyz"
        + bytes([0x85])  # ".com/"
        + b"\x03email/123/abc.wml\x00"  # STR_I
        + bytes([0x0A, 0xC3, 0x07, 0x19, 0x99, 0x06, 0x25, 0x15, 0x23, 0x15])  # created, OPAQUE BCD
        + bytes([0x10, 0xC3, 0x04, 0x19, 0x99, 0x06, 0x30])  # si-expires; trailing 00s cut
        + bytes([0x01])  # END of attributes
        + b"\x03You have 4 new emails\x00"  # content, STR_I
        + bytes([0x01, 0x01])  # </indication></si>
    )
    pdu = build_si(
        "http://www.xyz.com/email/123/abc.wml",
        "You have 4 new emails",
        created="1999-06-25T15:23:15Z",
        expires="1999-06-30T00:00:00Z",
        action=None,
    )
    assert pdu == expected


def test_matches_a_published_push_pdu_except_for_the_com_token() -> None:
    # mobiletidings.com "WAP Push over SMS: SI encoding" (2009), user data after
    # the UDH. That encoder wrote ".com/" inline; WAP-167 lets us use token 0x85.
    published = bytes.fromhex(
        "0b060403ae81ea02056a0045c60c036d6f62696c65746964696e67732e636f6d2f00"
        "0ac30620090226162510c3062009030416250103436865636b206f7574204d6f62696c"
        "6520546964696e677321000101"
    )
    expected = published.replace(b"mobiletidings.com/\x00", b"mobiletidings\x00\x85")
    pdu = build_si(
        "http://mobiletidings.com/",
        "Check out Mobile Tidings!",
        created="2009-02-26T16:25:00Z",
        expires="2009-03-04T16:25:00Z",
        action=None,
        transaction_id=0x0B,
    )
    assert pdu == expected


def _href_tokens(url: str) -> bytes:
    # No text, no action: ... 45 86 <href tokens> 01 01
    pdu = build_si(url, "", action=None)
    assert pdu[11:13] == bytes([0x45, 0x86])  # indication: attributes, no content
    return pdu[13:-2]


@pytest.mark.parametrize(
    ("url", "tokens"),
    [
        ("http://www.a.com/", b"\x0d\x03a\x00\x85"),
        ("http://a.edu/x", b"\x0c\x03a\x00\x86\x03x\x00"),
        ("https://www.a.net/", b"\x0f\x03a\x00\x87"),
        ("https://a.org/b.com/", b"\x0e\x03a\x00\x88\x03b\x00\x85"),
        ("ftp://a.com", b"\x0b\x03ftp://a.com\x00"),
        ("http://www.", b"\x0d"),
        ("http://ünï.com/", b"\x0c\x03\xc3\xbcn\xc3\xaf\x00\x85"),
    ],
)
def test_href_uses_prefix_and_suffix_tokens(url: str, tokens: bytes) -> None:
    assert _href_tokens(url) == tokens


@pytest.mark.parametrize(
    ("action", "token"),
    [("signal-none", 0x05), ("signal-low", 0x06), ("signal-medium", 0x07),
     ("signal-high", 0x08), ("delete", 0x09)],
)
def test_action_tokens(action: str, token: int) -> None:
    pdu = build_si("http://a", "t", action=action)
    assert pdu.endswith(bytes([token, 0x01]) + b"\x03t\x00\x01\x01")


def test_default_action_is_signal_medium_and_si_id_is_a_string() -> None:
    pdu = build_si("http://a", "t", si_id="msg-1")
    assert b"\x11\x03msg-1\x00\x07\x01" in pdu


@pytest.mark.parametrize(
    ("when", "opaque"),
    [
        ("2009-02-26T16:25:00Z", "c306200902261625"),
        ("2000-01-01T00:00:00Z", "c30420000101"),
        ("2099-12-31T23:59:59Z", "c30720991231235959"),
    ],
)
def test_dates_are_bcd_opaque_with_trailing_zero_octets_cut(when: str, opaque: str) -> None:
    pdu = build_si("http://a", "", created=when, action=None)
    assert pdu[-2 - len(opaque) // 2 - 1:-2].hex() == "0a" + opaque


@pytest.mark.parametrize(
    "kwargs",
    [
        {"created": "1999-06-25 15:23:15"},
        {"expires": "1999-06-25T15:23Z"},
        {"action": "signal-loud"},
        {"si_id": "a\x00b"},
        {"transaction_id": 256},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_si("http://a", "t", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        build_si("http://a", "nul\x00inside")


def test_short_push_is_one_segment_with_port_udh_only() -> None:
    (body,) = wap_push_segments("http://www.xyz.com/", "Hi", ref=1)
    assert body == bytes.fromhex("0605040b8423f0") + build_si("http://www.xyz.com/", "Hi")


def test_long_push_is_concatenated_with_ports_in_every_part() -> None:
    url = "http://www.example.org/" + "a" * 300
    text = "Grüße – read this"
    bodies = wap_push_segments(url, text, ref=0x5A)
    assert len(bodies) == 3
    for seq, body in enumerate(bodies, 1):
        assert len(body) <= 140
        assert body[:12] == bytes.fromhex("0b05040b8423f000035a03") + bytes([seq])
        udh, _ = parse_udh(body)
        assert udh.ports == Ports(dest=2948, src=9200, ports16=True)
        assert udh.concat == Concat(ref=0x5A, total=3, seq=seq, ref16=False)
    segments = [Segment(body=b, esm_class_udhi=True) for b in bodies]
    assert reassemble(reversed(segments)) == build_si(url, text)


def test_push_segments_with_16bit_ref() -> None:
    bodies = push_segments(b"\x00" * 300, ref=0x1234, ref16=True)
    assert [b[:13].hex() for b in bodies] == [
        f"0c05040b8423f00804123403{seq:02x}" for seq in (1, 2, 3)
    ]
    assert all(len(b) == 140 for b in bodies[:-1])


def test_exactly_133_octets_fit_one_part() -> None:
    assert len(push_segments(b"\x00" * 133, ref=1)) == 1
    assert len(push_segments(b"\x00" * 134, ref=1)) == 2
