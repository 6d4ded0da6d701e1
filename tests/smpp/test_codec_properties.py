"""Property tests: every PDU round-trips; no byte string makes the codec raise anything
but an SmppError."""
from __future__ import annotations

import itertools
import struct

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import TLV_SPECS, CommandId, TlvKind
from gateway.smpp.errors import FramingError, PduError, SmppError
from gateway.smpp.framing import Framer
from gateway.smpp.pdu import ALL_PDU_CLASSES, DestAddress, F, Tlvs, UnsuccessSme

INT1 = st.integers(0, 0xFF)
INT2 = st.integers(0, 0xFFFF)
INT4 = st.integers(0, 0xFFFFFFFF)
LATIN1 = st.characters(min_codepoint=1, max_codepoint=0xFF)


def cstrings(size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """C-octet string values that fit `size` octets with their NUL."""
    return st.text(LATIN1, min_size=min_size, max_size=size - 1)


def tlv_values(kind: TlvKind, lo: int, hi: int) -> st.SearchStrategy:
    if kind is TlvKind.INT1:
        return INT1
    if kind is TlvKind.INT2:
        return INT2
    if kind is TlvKind.INT4:
        return INT4
    if kind is TlvKind.CSTRING:
        return cstrings(hi, max(lo - 1, 0))
    if kind is TlvKind.EMPTY:
        return st.just(True)
    return st.binary(min_size=lo, max_size=min(hi, 300))  # OCTETS, INT3


VENDOR_TAGS = st.integers(0, 0xFFFF).filter(lambda tag: tag not in TLV_SPECS)


@st.composite
def tlvs(draw) -> Tlvs:
    """A random subset of the standard TLVs plus some vendor ones."""
    chosen = draw(st.fixed_dictionaries({}, optional={
        name: tlv_values(kind, lo, hi) for name, kind, lo, hi in TLV_SPECS.values()
    }))
    unknown = draw(st.lists(st.tuples(VENDOR_TAGS, st.binary(max_size=40)), max_size=3))
    return Tlvs(**chosen, unknown=tuple(unknown))


DEST_ADDRESSES = st.one_of(
    st.builds(DestAddress, dest_flag=st.just(1), dest_addr_ton=INT1, dest_addr_npi=INT1,
              destination_addr=cstrings(21)),
    st.builds(DestAddress, dest_flag=st.just(2), dl_name=cstrings(21)),
)
UNSUCCESS_SMES = st.builds(
    UnsuccessSme, dest_addr_ton=INT1, dest_addr_npi=INT1, destination_addr=cstrings(21),
    error_status_code=INT4,
)


def field_values(kind: F, size: int) -> st.SearchStrategy:
    if kind is F.CSTRING:
        return cstrings(size)
    if kind is F.INT1:
        return INT1
    if kind is F.INT4:
        return INT4
    if kind is F.SHORT_MESSAGE:
        return st.binary(max_size=size)
    if kind is F.DEST_ADDRESSES:
        return st.lists(DEST_ADDRESSES, min_size=1, max_size=4).map(tuple)
    return st.lists(UNSUCCESS_SMES, max_size=4).map(tuple)


def pdus(cls: type) -> st.SearchStrategy:
    """Every field of `cls` at random, a random TLV subset, any status and sequence."""
    fields = {name: field_values(kind, size) for name, kind, size in cls.LAYOUT}
    return st.builds(
        cls, sequence_number=INT4, command_status=st.one_of(st.just(0), INT4),
        tlvs=st.one_of(st.just(Tlvs()), tlvs()), **fields,
    )


ANY_PDU = st.sampled_from(ALL_PDU_CLASSES).flatmap(pdus)
COMMAND_IDS = [int(c) for c in CommandId]


def with_header(command_id: int, body: bytes, status: int = 0, sequence: int = 1) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def _round_trip_test(cls: type):
    @given(pdu=pdus(cls))
    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    def test(pdu):
        frame = encode(pdu)
        decoded = decode(frame)
        assert decoded == pdu
        assert type(decoded) is cls
        assert encode(decoded) == frame

    test.__name__ = test.__qualname__ = f"test_{cls.__name__}_round_trips_through_the_codec"
    return test


# One test function per class rather than @pytest.mark.parametrize: pytest-twisted
# re-wraps a shared @given function's inner test on every parametrization and breaks.
for _cls in ALL_PDU_CLASSES:
    _test = _round_trip_test(_cls)
    globals()[_test.__name__] = _test
del _cls, _test


@given(dests=st.lists(DEST_ADDRESSES, min_size=254, max_size=254))
@settings(max_examples=5)
def test_submit_multi_with_254_destinations_round_trips(dests):
    from gateway.smpp.pdu import SubmitMulti

    pdu = SubmitMulti(dest_addresses=tuple(dests))
    assert decode(encode(pdu)) == pdu


@given(frame=st.binary(max_size=400))
@settings(max_examples=500)
def test_random_bytes_decode_or_raise_only_smpp_errors(frame):
    try:
        decode(frame)
    except SmppError:
        pass


@given(
    command_id=st.one_of(st.sampled_from(COMMAND_IDS), INT4),
    status=st.one_of(st.just(0), INT4),
    body=st.binary(max_size=300),
)
@settings(max_examples=2000)
def test_valid_header_with_random_body_decodes_or_raises_pdu_error(command_id, status, body):
    frame = with_header(command_id, body, status, sequence=7)
    try:
        pdu = decode(frame)
    except PduError as exc:
        assert (exc.command_id, exc.sequence_number) == (command_id, 7)
        assert exc.command_status != 0
    else:
        assert pdu.command_id == command_id
        assert pdu.sequence_number == 7


@given(
    pdu=ANY_PDU,
    edits=st.lists(st.tuples(st.integers(0, 10_000), INT1, st.sampled_from("xid")), max_size=4),
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_valid_frames_decode_or_raise_pdu_error(pdu, edits):
    body = bytearray(encode(pdu)[16:])
    for at, value, how in edits:
        at = at % (len(body) + 1)
        if how == "x" and at < len(body):
            body[at] = value
        elif how == "i":
            body.insert(at, value)
        else:
            del body[at:at + value % 8]
    frame = with_header(pdu.command_id, bytes(body), pdu.command_status)
    try:
        decode(frame)
    except PduError:
        pass


@given(pdu=ANY_PDU, cut=st.integers(0, 10_000))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_truncated_bodies_raise_pdu_error_or_decode(pdu, cut):
    body = encode(pdu)[16:]
    assume(body)
    try:
        decode(with_header(pdu.command_id, body[: cut % len(body)], pdu.command_status))
    except PduError as exc:
        assert exc.command_id == pdu.command_id


@given(chunks=st.lists(st.binary(max_size=64), max_size=20), max_length=st.integers(16, 400))
@settings(max_examples=500)
def test_framer_feed_returns_frames_or_raises_only_framing_error(chunks, max_length):
    framer = Framer(max_length=max_length)
    try:
        for chunk in chunks:
            for frame in framer.feed(chunk):
                length = struct.unpack_from(">I", frame)[0]
                assert 16 <= length == len(frame) <= max_length
    except FramingError as exc:
        assert exc.fatal


@given(pdus_=st.lists(ANY_PDU, min_size=1, max_size=8), cuts=st.lists(st.integers(0, 2000)))
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
def test_framer_reassembles_encoded_pdus_however_the_stream_is_cut(pdus_, cuts):
    frames = [encode(p) for p in pdus_]
    stream = b"".join(frames)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    framer = Framer()
    out = []
    for start, end in itertools.pairwise(points):
        out += framer.feed(stream[start:end])
    assert out == frames
    assert [decode(f) for f in out] == pdus_
