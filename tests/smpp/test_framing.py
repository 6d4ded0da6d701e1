"""Framer: a byte stream cut into whole frames, with the command_length guard."""
from __future__ import annotations

import struct

import pytest

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import FramingError
from gateway.smpp.framing import Framer

ENQUIRE_LINK = struct.pack(">IIII", 16, CommandId.ENQUIRE_LINK, 0, 1)
SUBMIT_SM_RESP = struct.pack(">IIII", 20, CommandId.SUBMIT_SM_RESP, 0, 2) + b"abc\0"


def test_whole_frame_in_one_chunk_comes_out_at_once():
    assert Framer().feed(ENQUIRE_LINK) == [ENQUIRE_LINK]


def test_partial_frame_is_kept_until_complete():
    framer = Framer()
    assert framer.feed(SUBMIT_SM_RESP[:7]) == []
    assert framer.pending == 7
    assert framer.feed(SUBMIT_SM_RESP[7:19]) == []
    assert framer.feed(SUBMIT_SM_RESP[19:] + ENQUIRE_LINK[:3]) == [SUBMIT_SM_RESP]
    assert framer.pending == 3
    assert framer.feed(ENQUIRE_LINK[3:]) == [ENQUIRE_LINK]
    assert framer.pending == 0


def test_many_frames_in_one_chunk_come_out_in_order():
    frames = [ENQUIRE_LINK, SUBMIT_SM_RESP] * 500
    assert Framer().feed(b"".join(frames)) == frames


def test_byte_by_byte_feeding_yields_each_frame_once():
    framer = Framer()
    out = []
    for byte in (ENQUIRE_LINK + SUBMIT_SM_RESP) * 50:
        out += framer.feed(bytes((byte,)))
    assert out == [ENQUIRE_LINK, SUBMIT_SM_RESP] * 50


def test_frames_are_bytes_not_views_of_the_buffer():
    framer = Framer()
    (frame,) = framer.feed(ENQUIRE_LINK)
    framer.feed(SUBMIT_SM_RESP)
    assert type(frame) is bytes
    assert frame == ENQUIRE_LINK


def test_empty_feed_returns_nothing():
    assert Framer().feed(b"") == []


def test_frame_of_exactly_max_length_is_accepted():
    body = b"\0" * 84
    frame = struct.pack(">IIII", 100, CommandId.SUBMIT_SM, 0, 3) + body
    assert Framer(max_length=100).feed(frame) == [frame]


@pytest.mark.parametrize("length", [0, 1, 15, 101, 0xFFFFFFFF])
def test_command_length_out_of_bounds_is_a_fatal_framing_error(length):
    header = struct.pack(">IIII", length, CommandId.SUBMIT_SM, 0, 77)
    with pytest.raises(FramingError) as info:
        Framer(max_length=100).feed(header)
    error = info.value
    assert error.fatal
    assert error.command_status == CommandStatus.ESME_RINVCMDLEN
    assert (error.command_id, error.sequence_number) == (CommandId.SUBMIT_SM, 77)


def test_bad_length_is_reported_as_soon_as_the_length_octets_arrive():
    framer = Framer()
    assert framer.feed(b"\x00\x00") == []
    with pytest.raises(FramingError) as info:
        framer.feed(b"\x00\x05")
    assert info.value.command_id is None
    assert info.value.sequence_number is None


def test_default_max_length_is_64_kib():
    ok = struct.pack(">I", 65536)
    assert Framer().feed(ok) == []
    with pytest.raises(FramingError):
        Framer().feed(struct.pack(">I", 65537))


def test_frames_before_a_bad_header_are_handed_over_with_the_error():
    bad = struct.pack(">IIII", 8, CommandId.ENQUIRE_LINK, 0, 9)
    framer = Framer()
    with pytest.raises(FramingError) as info:
        framer.feed(ENQUIRE_LINK + SUBMIT_SM_RESP + bad)
    assert info.value.frames == [ENQUIRE_LINK, SUBMIT_SM_RESP]
    assert info.value.sequence_number == 9


def test_framer_stays_broken_after_a_framing_error():
    framer = Framer()
    with pytest.raises(FramingError):
        framer.feed(struct.pack(">I", 3))
    with pytest.raises(FramingError):
        framer.feed(ENQUIRE_LINK)


def test_max_length_below_a_header_is_refused():
    with pytest.raises(ValueError):
        Framer(max_length=15)


def test_buffer_does_not_grow_with_consumed_frames():
    framer = Framer()
    for _ in range(1000):
        framer.feed(ENQUIRE_LINK + SUBMIT_SM_RESP[:10])
        framer.feed(SUBMIT_SM_RESP[10:])
    assert framer.pending == 0
