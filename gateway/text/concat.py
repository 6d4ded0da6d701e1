"""Concatenated messages: split into UDH or SAR segments, and reassemble them in any order.

Two ways to carry one long message as several submit_sm / deliver_sm:
- 'udh': each short_message starts with a UDH holding a concat IE, and
  esm_class has UDHI (0x40);
- 'sar': each short_message is a bare part and the sar_msg_ref_num /
  sar_total_segments / sar_segment_seqnum TLVs number it; the SMSC builds
  the UDH itself.
Both are cut at the same places (see parts.py), so their part counts agree.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gateway.text.encoding import encode_text
from gateway.text.errors import ReassemblyError
from gateway.text.parts import split_payload
from gateway.text.udh import InformationElement, build_udh, concat_ie, parse_udh

__all__ = [
    "PartialMessage",
    "Reassembler",
    "ReassemblyError",
    "Sar",
    "Segment",
    "numbering",
    "reassemble",
    "split_message",
]


@dataclass(frozen=True, kw_only=True)
class Sar:
    """The SAR TLV values of one segment: part `seq` of `total` of message `ref`."""

    ref: int
    total: int
    seq: int


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One submit_sm's worth: its short_message (UDH included when esm_class_udhi) and SAR."""

    body: bytes
    esm_class_udhi: bool = False
    sar: Sar | None = None


def _check_numbering(ref: int, total: int, seq: int) -> None:
    if not 0 <= ref <= 0xFFFF:
        raise ReassemblyError(f"reference {ref} out of range 0..65535")
    if not 1 <= seq <= total <= 0xFF:
        raise ReassemblyError(f"need 1 <= seq ({seq}) <= total ({total}) <= 255")


def split_message(
    message: str | bytes,
    data_coding: int,
    *,
    ref: int,
    method: Literal["udh", "sar"] = "udh",
    ref16: bool = False,
    extra_ies: Sequence[InformationElement] = (),
) -> list[Segment]:
    """Split a text (encoded for `data_coding`) or an encoded body into segments.

    A message that fits one part is one plain segment (no concat IE, no SAR).
    `ref` is 0..255, or 0..65535 with `ref16` or 'sar' (`ref16` then only picks
    the part size the SMSC's own UDH leaves). `extra_ies` (e.g. port
    addressing) go into every part's UDH, before the concat IE; 'udh' only.
    Raises UnencodableText, or ValueError for bad numbering or too many parts.
    """
    if method not in ("udh", "sar"):
        raise ValueError(f"method must be 'udh' or 'sar', got {method!r}")
    if extra_ies and method == "sar":
        raise ValueError("extra_ies need a UDH; use method='udh'")
    body = encode_text(message, data_coding) if isinstance(message, str) else bytes(message)
    extra_octets = sum(2 + len(ie.data) for ie in extra_ies)
    chunks = split_payload(body, data_coding, ref16=ref16, extra_ie_octets=extra_octets)
    total = len(chunks)
    if method == "sar":
        if not 0 <= ref <= 0xFFFF:
            raise ValueError(f"ref {ref} out of range 0..65535")
        if total == 1:
            return [Segment(body=body)]
        return [
            Segment(body=chunk, sar=Sar(ref=ref, total=total, seq=seq))
            for seq, chunk in enumerate(chunks, 1)
        ]
    if total == 1:
        concat_ie(ref, 1, 1, ref16)  # validates ref even when no IE is sent
        if not extra_ies:
            return [Segment(body=body)]
        return [Segment(body=build_udh(extra_ies) + body, esm_class_udhi=True)]
    return [
        Segment(
            body=build_udh([*extra_ies, concat_ie(ref, total, seq, ref16)]) + chunk,
            esm_class_udhi=True,
        )
        for seq, chunk in enumerate(chunks, 1)
    ]


def numbering(segment: Segment) -> tuple[tuple[int, int, int] | None, bytes]:
    """The numbering of one received segment and its payload without UDH:
    ((ref, total, seq), payload), or (None, payload) for a lone message. SAR TLVs win over
    a UDH concat IE. Raises UdhError for a malformed UDH, ReassemblyError for impossible
    SAR numbering."""
    if segment.sar is not None:
        sar = segment.sar
        _check_numbering(sar.ref, sar.total, sar.seq)
        payload = segment.body
        if segment.esm_class_udhi:
            payload = parse_udh(payload)[1]
        return (sar.ref, sar.total, sar.seq), payload
    if segment.esm_class_udhi:
        udh, payload = parse_udh(segment.body)
        concat = udh.concat
        if concat is None:
            return None, payload
        return (concat.ref, concat.total, concat.seq), payload
    return None, segment.body


_numbering = numbering  # the name this module's callers used before it was public


def reassemble(segments: Iterable[Segment]) -> bytes:
    """The whole body (UDHs stripped) from all segments of one message, in any order.

    Repeated copies of a part are accepted (the last wins). Raises
    ReassemblyError when segments are missing or belong to different
    messages, UdhError for a malformed UDH.
    """
    parts: dict[int, bytes] = {}
    ident: tuple[int, int] | None = None
    lone: list[bytes] = []
    for segment in segments:
        numbered, payload = numbering(segment)
        if numbered is None:
            lone.append(payload)
            continue
        ref, total, seq = numbered
        if ident is not None and ident != (ref, total):
            raise ReassemblyError(f"segments of messages {ident} and {(ref, total)} mixed")
        ident = (ref, total)
        parts[seq] = payload
    if lone:
        if len(lone) == 1 and ident is None:
            return lone[0]
        raise ReassemblyError("a segment without concatenation info among others")
    if ident is None:
        raise ReassemblyError("no segments")
    missing = [seq for seq in range(1, ident[1] + 1) if seq not in parts]
    if missing:
        raise ReassemblyError(f"message {ident[0]} lacks parts {missing} of {ident[1]}")
    return b"".join(parts[seq] for seq in range(1, ident[1] + 1))


@dataclass(frozen=True, kw_only=True)
class PartialMessage:
    """An incomplete concatenated message given up on: what had arrived."""

    source: str
    destination: str
    ref: int
    total: int
    parts: tuple[tuple[int, bytes], ...]  # (seq, payload), by seq
    first_seen: float

    @property
    def missing(self) -> tuple[int, ...]:
        """The sequence numbers that never arrived."""
        have = {seq for seq, _ in self.parts}
        return tuple(seq for seq in range(1, self.total + 1) if seq not in have)


@dataclass
class _Group:
    total: int
    first_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)


_Key = tuple[str, str, int]


class Reassembler:
    """Collects inbound parts keyed by (source, destination, ref) until each message is whole.

    Pure: the caller passes `now` and polls `expired(now, timeout)`, arming
    one timer from `next_expiry(timeout)`. Memory is bounded by `max_groups`:
    past it the oldest incomplete group is dropped, and reported by the next
    `expired()`. A group whose `total` changes under the same key is stale (the
    reference wrapped round) and is dropped the same way.
    """

    def __init__(self, *, max_groups: int = 10_000) -> None:
        if max_groups < 1:
            raise ValueError("max_groups must be at least 1")
        self._max_groups = max_groups
        self._groups: dict[_Key, _Group] = {}
        self._dropped: list[PartialMessage] = []

    def __len__(self) -> int:
        return len(self._groups)

    def add(
        self,
        source: str,
        destination: str,
        *,
        ref: int,
        total: int,
        seq: int,
        payload: bytes,
        now: float,
    ) -> bytes | None:
        """Store part `seq` of `total`; return the whole body once every part is in, else None.

        A repeated part replaces the earlier copy. Raises ReassemblyError for
        impossible numbering.
        """
        _check_numbering(ref, total, seq)
        if total == 1:
            return payload
        key = (source, destination, ref)
        group = self._groups.get(key)
        if group is not None and group.total != total:
            self._drop(key)
            group = None
        if group is None:
            if len(self._groups) >= self._max_groups:
                self._drop(next(iter(self._groups)))
            group = self._groups[key] = _Group(total=total, first_seen=now)
        group.parts[seq] = payload
        if len(group.parts) < total:
            return None
        del self._groups[key]
        return b"".join(group.parts[i] for i in range(1, total + 1))

    def add_segment(
        self, source: str, destination: str, segment: Segment, *, now: float
    ) -> bytes | None:
        """`add` for a received short_message: numbering from its UDH or SAR TLVs.

        A segment with neither is a whole message and comes straight back
        (without its UDH). Raises UdhError or ReassemblyError for bad input.
        """
        numbered, payload = numbering(segment)
        if numbered is None:
            return payload
        ref, total, seq = numbered
        return self.add(
            source, destination, ref=ref, total=total, seq=seq, payload=payload, now=now
        )

    def expired(self, now: float, timeout: float) -> list[PartialMessage]:
        """Remove and return groups first seen `timeout` or more before `now`, and any dropped."""
        due = [key for key, group in self._groups.items() if now - group.first_seen >= timeout]
        for key in due:
            self._drop(key)
        dropped, self._dropped = self._dropped, []
        return dropped

    def next_expiry(self, timeout: float) -> float | None:
        """When `expired` next has something to return (None: nothing pending)."""
        times = [group.first_seen + timeout for group in self._groups.values()]
        times.extend(partial.first_seen for partial in self._dropped)
        return min(times, default=None)

    def _drop(self, key: _Key) -> None:
        group = self._groups.pop(key)
        source, destination, ref = key
        self._dropped.append(
            PartialMessage(
                source=source,
                destination=destination,
                ref=ref,
                total=group.total,
                parts=tuple(sorted(group.parts.items())),
                first_seen=group.first_seen,
            )
        )
