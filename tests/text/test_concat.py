"""Splitting into UDH / SAR segments, reassembly in any order, and the inbound Reassembler."""
from __future__ import annotations

import pytest

from gateway.text.concat import (
    Reassembler,
    Sar,
    Segment,
    reassemble,
    split_message,
)
from gateway.text.errors import ReassemblyError, UdhError
from gateway.text.udh import port_ie

LONG_GSM = "0123456789" * 31  # 310 septets: 3 parts of 153/153/4


def test_udh_split_prefixes_each_part_with_a_concat_ie() -> None:
    segments = split_message(LONG_GSM, 0x00, ref=0x2A, method="udh")
    assert [s.body[:6].hex() for s in segments] == [
        "0500032a0301", "0500032a0302", "0500032a0303",
    ]
    assert [len(s.body) - 6 for s in segments] == [153, 153, 4]
    assert all(s.esm_class_udhi and s.sar is None for s in segments)


def test_udh_split_with_16bit_ref() -> None:
    segments = split_message(LONG_GSM, 0x00, ref=0xBEEF, method="udh", ref16=True)
    assert [s.body[:7].hex() for s in segments] == [
        "060804beef0301", "060804beef0302", "060804beef0303",
    ]
    assert [len(s.body) - 7 for s in segments] == [152, 152, 6]


def test_sar_split_leaves_bodies_bare_and_numbers_them() -> None:
    segments = split_message(LONG_GSM, 0x00, ref=0x1234, method="sar")
    assert [s.sar for s in segments] == [Sar(ref=0x1234, total=3, seq=n) for n in (1, 2, 3)]
    assert [len(s.body) for s in segments] == [153, 153, 4]
    assert not any(s.esm_class_udhi for s in segments)


def test_a_message_that_fits_one_part_is_one_plain_segment() -> None:
    assert split_message("hello", 0x00, ref=1, method="udh") == [Segment(body=b"hello")]
    assert split_message("hello", 0x00, ref=1, method="sar") == [Segment(body=b"hello")]


def test_extra_ies_go_into_every_udh_before_the_concat_ie() -> None:
    ports = port_ie(5000, 5001)
    single = split_message(b"\x01" * 10, 0x04, ref=9, extra_ies=[ports])
    assert single == [Segment(body=bytes.fromhex("0605041388138901") + b"\x01" * 9,
                              esm_class_udhi=True)]
    many = split_message(b"\x01" * 200, 0x04, ref=9, extra_ies=[ports])
    assert [s.body[:12].hex() for s in many] == ["0b0504138813890003090201",
                                                 "0b0504138813890003090202"]


def test_split_message_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        split_message(LONG_GSM, 0x00, ref=256, method="udh")
    with pytest.raises(ValueError):
        split_message("short", 0x00, ref=256, method="udh")
    with pytest.raises(ValueError):
        split_message(LONG_GSM, 0x00, ref=70000, method="sar")
    with pytest.raises(ValueError):
        split_message(LONG_GSM, 0x00, ref=1, method="tlv")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        split_message(b"x", 0x04, ref=1, method="sar", extra_ies=[port_ie(1, 2)])


@pytest.mark.parametrize("method", ["udh", "sar"])
def test_reassemble_in_reverse_and_shuffled_order(method: str) -> None:
    segments = split_message(LONG_GSM * 3, 0x00, ref=77, method=method)  # type: ignore[arg-type]
    body = LONG_GSM.encode() * 3
    assert reassemble(reversed(segments)) == body
    assert reassemble(segments[1::2] + segments[0::2]) == body


def test_reassemble_accepts_a_repeated_part() -> None:
    segments = split_message(LONG_GSM, 0x00, ref=5)
    assert reassemble([*segments, segments[0]]) == LONG_GSM.encode()


def test_reassemble_a_single_plain_or_udh_only_segment() -> None:
    assert reassemble([Segment(body=b"abc")]) == b"abc"
    assert reassemble([Segment(body=b"\x00abc", esm_class_udhi=True)]) == b"abc"


def test_reassemble_reports_missing_mixed_and_malformed() -> None:
    segments = split_message(LONG_GSM, 0x00, ref=5)
    with pytest.raises(ReassemblyError, match=r"lacks parts \[2\]"):
        reassemble([segments[0], segments[2]])
    other = split_message(LONG_GSM, 0x00, ref=6)
    with pytest.raises(ReassemblyError, match="mixed"):
        reassemble([segments[0], other[1], segments[2]])
    with pytest.raises(ReassemblyError):
        reassemble([segments[0], Segment(body=b"plain")])
    with pytest.raises(ReassemblyError):
        reassemble([])
    with pytest.raises(UdhError):
        reassemble([Segment(body=b"\x09\x00", esm_class_udhi=True)])
    with pytest.raises(ReassemblyError):
        reassemble([Segment(body=b"x", sar=Sar(ref=1, total=2, seq=3))])


def _parts(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def test_reassembler_completes_out_of_order_and_forgets_the_group() -> None:
    r = Reassembler()
    assert r.add("491", "100", ref=3, total=3, seq=3, payload=b"C", now=0.0) is None
    assert r.add("491", "100", ref=3, total=3, seq=1, payload=b"A", now=1.0) is None
    assert len(r) == 1
    assert r.add("491", "100", ref=3, total=3, seq=2, payload=b"B", now=2.0) == b"ABC"
    assert len(r) == 0
    assert r.expired(now=1e9, timeout=1.0) == []


def test_reassembler_keeps_senders_and_refs_apart() -> None:
    r = Reassembler()
    assert r.add("a", "x", ref=1, total=2, seq=1, payload=b"a1", now=0) is None
    assert r.add("b", "x", ref=1, total=2, seq=1, payload=b"b1", now=0) is None
    assert r.add("a", "y", ref=1, total=2, seq=1, payload=b"y1", now=0) is None
    assert r.add("a", "x", ref=2, total=2, seq=1, payload=b"r2", now=0) is None
    assert r.add("b", "x", ref=1, total=2, seq=2, payload=b"b2", now=0) == b"b1b2"
    assert r.add("a", "x", ref=1, total=2, seq=2, payload=b"a2", now=0) == b"a1a2"
    assert len(r) == 2


def test_reassembler_passes_single_part_messages_straight_through() -> None:
    r = Reassembler()
    assert r.add("a", "b", ref=0, total=1, seq=1, payload=b"whole", now=0) == b"whole"
    assert r.add_segment("a", "b", Segment(body=b"plain"), now=0) == b"plain"
    assert len(r) == 0


def test_reassembler_takes_received_udh_and_sar_segments() -> None:
    r = Reassembler()
    udh = split_message(LONG_GSM, 0x00, ref=8)
    sar = split_message(LONG_GSM, 0x00, ref=8, method="sar")
    results = [r.add_segment("a", "b", s, now=0) for s in reversed(udh)]
    assert results == [None, None, LONG_GSM.encode()]
    results = [r.add_segment("c", "d", s, now=0) for s in [sar[1], sar[0], sar[2]]]
    assert results == [None, None, LONG_GSM.encode()]


def test_reassembler_expires_incomplete_groups_after_the_timeout() -> None:
    r = Reassembler()
    r.add("a", "b", ref=1, total=3, seq=2, payload=b"two", now=100.0)
    r.add("c", "d", ref=1, total=2, seq=1, payload=b"one", now=130.0)
    assert r.next_expiry(timeout=60.0) == 160.0
    assert r.expired(now=159.9, timeout=60.0) == []
    (gone,) = r.expired(now=160.0, timeout=60.0)
    assert (gone.source, gone.destination, gone.ref, gone.total) == ("a", "b", 1, 3)
    assert gone.parts == ((2, b"two"),)
    assert gone.missing == (1, 3)
    assert gone.first_seen == 100.0
    assert len(r) == 1
    assert r.next_expiry(timeout=60.0) == 190.0
    assert [p.source for p in r.expired(now=200.0, timeout=60.0)] == ["c"]
    assert r.next_expiry(timeout=60.0) is None


def test_reassembler_drops_the_oldest_group_past_max_groups() -> None:
    r = Reassembler(max_groups=2)
    for ref, now in [(1, 0.0), (2, 1.0), (3, 2.0)]:
        r.add("a", "b", ref=ref, total=2, seq=1, payload=b"x", now=now)
    assert len(r) == 2
    assert r.next_expiry(timeout=60.0) == 0.0  # the dropped group is due at once
    assert [p.ref for p in r.expired(now=3.0, timeout=60.0)] == [1]
    assert r.add("a", "b", ref=3, total=2, seq=2, payload=b"y", now=4.0) == b"xy"


def test_reassembler_restarts_a_group_whose_total_changed() -> None:
    r = Reassembler()
    r.add("a", "b", ref=1, total=3, seq=1, payload=b"old", now=0)
    assert r.add("a", "b", ref=1, total=2, seq=2, payload=b"N2", now=5) is None
    assert r.add("a", "b", ref=1, total=2, seq=1, payload=b"N1", now=6) == b"N1N2"
    (stale,) = r.expired(now=6, timeout=60)
    assert stale.parts == ((1, b"old"),)


def test_reassembler_refuses_impossible_numbering() -> None:
    r = Reassembler()
    for total, seq in [(2, 0), (2, 3), (0, 0), (256, 1)]:
        with pytest.raises(ReassemblyError):
            r.add("a", "b", ref=1, total=total, seq=seq, payload=b"", now=0)
    with pytest.raises(ValueError):
        Reassembler(max_groups=0)


def test_numbering_is_public_and_the_old_private_name_still_works() -> None:
    from gateway.text.concat import _numbering, numbering

    udh_part = Segment(body=bytes([5, 0x00, 3, 9, 2, 1]) + b"ab", esm_class_udhi=True)
    assert numbering(udh_part) == ((9, 2, 1), b"ab")
    assert numbering(Segment(body=b"cd", sar=Sar(ref=300, total=2, seq=2))) == ((300, 2, 2),
                                                                             b"cd")
    assert numbering(Segment(body=b"whole")) == (None, b"whole")
    assert _numbering is numbering
