"""Optional parameters (TLVs): a TLV stream to `pdu.Tlvs` and back.

Decoding keeps vendor TLVs verbatim, in order, in `Tlvs.unknown`; a standard
TLV that appears twice keeps its last value. Encoding writes the standard TLVs
in `TLV_SPECS` order, then the unknown ones, so equal values give equal bytes.
"""
from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable

from gateway.smpp.constants import TLV_SPECS, CommandStatus, TlvKind
from gateway.smpp.errors import PduError
from gateway.smpp.pdu import NO_TLVS, Tlvs

__all__ = ["decode_tlvs", "encode_tlvs", "make_tlvs", "mutable_twin"]

_TL = struct.Struct(">HH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

# Plain ints for the hot loop: comparing locals beats enum attribute lookups.
_INT1, _INT2, _INT4, _CSTRING, _OCTETS, _EMPTY, _INT3 = (
    TlvKind.INT1.value, TlvKind.INT2.value, TlvKind.INT4.value, TlvKind.CSTRING.value,
    TlvKind.OCTETS.value, TlvKind.EMPTY.value, TlvKind.INT3.value,
)
# tag -> (Tlvs field name, kind as int, min length, max length)
_DECODE_SPECS: dict[int, tuple[str, int, int, int]] = {
    int(tag): (name, kind.value, lo, hi) for tag, (name, kind, lo, hi) in TLV_SPECS.items()
}

_OPTPARSTREAM = CommandStatus.ESME_RINVOPTPARSTREAM.value
_PARLEN = CommandStatus.ESME_RINVPARLEN.value


def mutable_twin(cls: type) -> type | None:
    """A plain class whose instances can turn into `cls` instances, or None.

    Why: a frozen dataclass sets each field through object.__setattr__, about
    ten times the cost of a plain slot store; decoding a submit_sm spent more
    time in the constructor than in parsing. The twin has the same slot layout
    as `cls` and ordinary attribute stores, so a decoder fills a twin and then
    assigns `__class__ = cls` (allowed between layout-compatible classes). The
    result is an ordinary, frozen `cls` instance. The twin must be filled with
    every field: nothing runs `__init__` defaults or `__post_init__`. Returns
    None (use the keyword constructor) when the trick does not apply.
    """
    if "__post_init__" in dir(cls):
        return None
    solid = next((c for c in cls.__mro__ if c.__dict__.get("__slots__")), None)
    if solid is None:
        return None
    # Both __setattr__ and __delattr__ must be object's so that the type gets the
    # C-level generic setattro (and the interpreter's fast slot store).
    twin = type(f"_Mutable{cls.__name__}", (solid.__base__,), {
        "__slots__": solid.__dict__["__slots__"],
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
    })
    try:
        probe = object.__new__(twin)
        reference = cls()
        for field in dataclasses.fields(cls):
            object.__setattr__(probe, field.name, getattr(reference, field.name))
        probe.__class__ = cls
    except (TypeError, AttributeError):
        return None
    return twin if probe == reference else None


def decode_tlvs(frame: bytes, pos: int, end: int, command_id: int, sequence_number: int) -> Tlvs:
    """Decode the TLVs in `frame[pos:end]`; raise PduError for a malformed stream."""
    if pos >= end:
        return NO_TLVS
    t = _blank_tlvs()  # a mutable twin (or a dict) filled here, made a Tlvs at the end
    put = setattr if _TLVS_TWIN is not None else dict.__setitem__
    unknown: list[tuple[int, bytes]] = []
    specs = _DECODE_SPECS
    while pos < end:
        if end - pos < 4:
            raise PduError(
                _OPTPARSTREAM, f"truncated TLV header at offset {pos}",
                command_id=command_id, sequence_number=sequence_number,
            )
        tag, length = _TL.unpack_from(frame, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise PduError(
                _OPTPARSTREAM, f"TLV 0x{tag:04x} length {length} runs past the PDU end",
                command_id=command_id, sequence_number=sequence_number,
            )
        spec = specs.get(tag)
        if spec is None:
            unknown.append((tag, frame[pos:stop]))
            pos = stop
            continue
        name, kind, lo, hi = spec
        if length < lo or length > hi:
            raise PduError(
                _PARLEN, f"TLV {name} has length {length}, expected {lo}..{hi}",
                command_id=command_id, sequence_number=sequence_number,
            )
        if kind == _INT1:
            put(t, name, frame[pos])
        elif kind == _CSTRING:
            # Liberal: a value without its NUL is accepted; text stops at the first NUL.
            raw = frame[pos:stop]
            nul = raw.find(b"\0")
            put(t, name, (raw if nul < 0 else raw[:nul]).decode("latin-1"))
        elif kind == _INT2:
            put(t, name, _U16.unpack_from(frame, pos)[0])
        elif kind == _INT4:
            put(t, name, _U32.unpack_from(frame, pos)[0])
        elif kind == _EMPTY:
            put(t, name, True)
        else:  # OCTETS, INT3
            put(t, name, frame[pos:stop])
        pos = stop
    if unknown:
        put(t, "unknown", tuple(unknown))
    if _TLVS_TWIN is None:
        return Tlvs(**t)  # type: ignore[arg-type]
    t.__class__ = Tlvs
    return t  # type: ignore[return-value]


def make_tlvs(**values: object) -> Tlvs:
    """`Tlvs(**values)`, about seven times faster.

    The frozen constructor sets all of the 45 fields through object.__setattr__, and
    every receipt's deliver_sm needs a Tlvs; this fills a blank twin instead.
    """
    if _TLVS_TWIN is None:
        return Tlvs(**values)  # type: ignore[arg-type]
    t = _blank_tlvs()
    for name, value in values.items():
        if name not in _TLVS_FIELDS:
            raise TypeError(f"Tlvs has no field {name!r}")
        setattr(t, name, value)
    t.__class__ = Tlvs
    return t  # type: ignore[return-value]


def _build_blank_tlvs() -> Callable[[], object]:
    """A function returning an all-absent mutable twin of Tlvs (or an empty dict)."""
    if _TLVS_TWIN is None:
        return dict
    lines = ["def blank():", "    t = _new(_twin)"]
    lines += [f"    t.{f.name} = {f.default!r}" for f in dataclasses.fields(Tlvs)]  # None, ()
    lines.append("    return t")
    ns: dict[str, object] = {"_new": object.__new__, "_twin": _TLVS_TWIN}
    exec("\n".join(lines), ns)  # noqa: S102 - source built only from the Tlvs fields
    return ns["blank"]  # type: ignore[return-value]


def _tlv_too_long(name: str, length: int, lo: int, hi: int) -> ValueError:
    return ValueError(f"TLV {name}: value of {length} octets, allowed {lo}..{hi}")


def _build_encoder() -> Callable[[Tlvs], bytes]:
    """Generate `encode_tlvs` as straight-line code: one attribute test per TLV.

    A loop with getattr() costs about twice as much, and receipts (deliver_sm
    with three TLVs) are on the hot path.
    """
    ns: dict[str, object] = {
        "_TL": _TL, "_too_long": _tlv_too_long,
        "_S_B": struct.Struct(">HHB"), "_S_H": struct.Struct(">HHH"), "_S_I": struct.Struct(">HHI"),
    }
    lines = ["def encode_tlvs(t):", "    out = []", "    add = out.append"]
    for tag, (name, kind, lo, hi) in TLV_SPECS.items():
        tag = int(tag)
        lines.append(f"    v = t.{name}")
        if kind is TlvKind.EMPTY:
            # presence is the value: True is written, None and False are not
            lines += ["    if v:", f"        add({_TL.pack(tag, 0)!r})"]
            continue
        lines.append("    if v is not None:")
        if kind is TlvKind.INT1:
            lines.append(f"        add(_S_B.pack({tag}, 1, v))")
        elif kind is TlvKind.INT2:
            lines.append(f"        add(_S_H.pack({tag}, 2, v))")
        elif kind is TlvKind.INT4:
            lines.append(f"        add(_S_I.pack({tag}, 4, v))")
        elif kind is TlvKind.CSTRING:
            lines += [
                "        b = v.encode('latin-1')",
                "        k = len(b) + 1",
                f"        if k > {hi} or 0 in b:",
                f"            raise _too_long({name!r} + ' (or contains NUL)', k, {lo}, {hi})",
                f"        add(_TL.pack({tag}, k) + b + b'\\0')",
            ]
        else:  # OCTETS, INT3: bytes verbatim
            lines += [
                "        k = len(v)",
                f"        if k < {lo} or k > {hi}:",
                f"            raise _too_long({name!r}, k, {lo}, {hi})",
                f"        add(_TL.pack({tag}, k) + bytes(v))",
            ]
    lines += [
        "    for tag, v in t.unknown:",
        "        if len(v) > 65535:",
        "            raise _too_long(f'0x{tag:04x}', len(v), 0, 65535)",
        "        add(_TL.pack(tag, len(v)) + bytes(v))",
        "    return b''.join(out)",
    ]
    exec("\n".join(lines), ns)  # noqa: S102 - source built only from TLV_SPECS above
    return ns["encode_tlvs"]  # type: ignore[return-value]


encode_tlvs: Callable[[Tlvs], bytes] = _build_encoder()
_TLVS_TWIN = mutable_twin(Tlvs)
_TLVS_FIELDS = frozenset(f.name for f in dataclasses.fields(Tlvs))
_blank_tlvs = _build_blank_tlvs()
encode_tlvs.__doc__ = """Encode `tlvs` (standard TLVs in TLV_SPECS order, then unknown ones).

Raises ValueError (or struct.error for an out-of-range integer) for a value
that cannot go on the wire."""
