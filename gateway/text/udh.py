"""User Data Header (3GPP TS 23.040 9.2.3.24): parse and build, with concat and port IEs.

A UDH is UDHL (one octet: the length of what follows) then information
elements, each IEI, IEDL, IED. It leads short_message when esm_class has the
UDHI bit (0x40).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.text.errors import UdhError

__all__ = [
    "IEI_CONCAT_8",
    "IEI_CONCAT_16",
    "IEI_PORTS_8",
    "IEI_PORTS_16",
    "Concat",
    "InformationElement",
    "Ports",
    "Udh",
    "UdhError",
    "build_udh",
    "concat_ie",
    "parse_udh",
    "port_ie",
]

IEI_CONCAT_8 = 0x00  # concatenated SM, 8-bit reference: ref, total, seq
IEI_PORTS_8 = 0x04  # application port addressing, 8-bit ports: dest, src
IEI_PORTS_16 = 0x05  # application port addressing, 16-bit ports: dest, src
IEI_CONCAT_16 = 0x08  # concatenated SM, 16-bit reference: ref(2), total, seq

# The only IE data lengths TS 23.040 allows for the IEs we interpret.
_FIXED_LENGTHS = {IEI_CONCAT_8: 3, IEI_PORTS_8: 2, IEI_PORTS_16: 4, IEI_CONCAT_16: 4}

MAX_UDH_LENGTH = 140  # UDHL octet + IEs never exceed one TP-UD


@dataclass(frozen=True, kw_only=True)
class InformationElement:
    """One IE: its identifier and its data (the IEDL is len(data))."""

    iei: int
    data: bytes

    def to_bytes(self) -> bytes:
        """IEI, IEDL, IED as on the wire."""
        return bytes([self.iei, len(self.data)]) + self.data


@dataclass(frozen=True, kw_only=True)
class Concat:
    """A concatenation IE: part `seq` of `total` (1-based) of message `ref`."""

    ref: int
    total: int
    seq: int
    ref16: bool


@dataclass(frozen=True, kw_only=True)
class Ports:
    """An application port addressing IE."""

    dest: int
    src: int
    ports16: bool


@dataclass(frozen=True, kw_only=True)
class Udh:
    """A parsed UDH: the IEs in wire order, with typed views of the ones we know."""

    ies: tuple[InformationElement, ...]

    @property
    def length(self) -> int:
        """Octets the UDH takes in the body, UDHL octet included."""
        return 1 + sum(2 + len(ie.data) for ie in self.ies)

    @property
    def concat(self) -> Concat | None:
        """The concatenation IE (the last one, as TS 23.040 says for repeats), or None."""
        for ie in reversed(self.ies):
            if ie.iei == IEI_CONCAT_8:
                return Concat(ref=ie.data[0], total=ie.data[1], seq=ie.data[2], ref16=False)
            if ie.iei == IEI_CONCAT_16:
                ref = int.from_bytes(ie.data[:2], "big")
                return Concat(ref=ref, total=ie.data[2], seq=ie.data[3], ref16=True)
        return None

    @property
    def ports(self) -> Ports | None:
        """The port addressing IE (the last one), or None."""
        for ie in reversed(self.ies):
            if ie.iei == IEI_PORTS_8:
                return Ports(dest=ie.data[0], src=ie.data[1], ports16=False)
            if ie.iei == IEI_PORTS_16:
                dest = int.from_bytes(ie.data[:2], "big")
                src = int.from_bytes(ie.data[2:], "big")
                return Ports(dest=dest, src=src, ports16=True)
        return None

    def without(self, *ieis: int) -> tuple[InformationElement, ...]:
        """The IEs other than those with the given identifiers."""
        return tuple(ie for ie in self.ies if ie.iei not in ieis)


def _check_ie(iei: int, data: bytes) -> None:
    """Reject the IEs we interpret when their length or values are impossible."""
    expected = _FIXED_LENGTHS.get(iei)
    if expected is None:
        return
    if len(data) != expected:
        raise UdhError(f"IE 0x{iei:02X} has length {len(data)}, expected {expected}")
    if iei in (IEI_CONCAT_8, IEI_CONCAT_16):
        total, seq = data[-2], data[-1]
        if total == 0 or seq == 0 or seq > total:
            raise UdhError(f"concatenation IE with seq {seq} of total {total}")


def parse_udh(body: bytes) -> tuple[Udh, bytes]:
    """Split `body` (which starts with a UDH) into the parsed UDH and the rest.

    Raises UdhError when the body is empty, UDHL runs past the body, an IE runs
    past UDHL, or a concat/port IE has the wrong length or impossible values.
    Unknown IEs are kept as they are.
    """
    if not body:
        raise UdhError("UDHI set but the body is empty")
    udhl = body[0]
    end = 1 + udhl
    if end > len(body):
        raise UdhError(f"UDHL {udhl} runs past the body ({len(body) - 1} octets follow)")
    ies: list[InformationElement] = []
    pos = 1
    while pos < end:
        if pos + 2 > end:
            raise UdhError(f"IE header at offset {pos} runs past UDHL {udhl}")
        iei, iedl = body[pos], body[pos + 1]
        data_end = pos + 2 + iedl
        if data_end > end:
            raise UdhError(f"IE 0x{iei:02X} of length {iedl} runs past UDHL {udhl}")
        data = bytes(body[pos + 2:data_end])
        _check_ie(iei, data)
        ies.append(InformationElement(iei=iei, data=data))
        pos = data_end
    return Udh(ies=tuple(ies)), bytes(body[end:])


def build_udh(ies: Iterable[InformationElement]) -> bytes:
    """UDHL followed by the IEs; b"" for no IEs. Raises ValueError when it cannot fit."""
    ies = tuple(ies)
    if not ies:
        return b""
    for ie in ies:
        if len(ie.data) > 0xFF or not 0 <= ie.iei <= 0xFF:
            raise ValueError(f"IE 0x{ie.iei:02X} with {len(ie.data)} octets does not fit")
    encoded = b"".join(ie.to_bytes() for ie in ies)
    if 1 + len(encoded) > MAX_UDH_LENGTH:
        raise ValueError(f"UDH of {1 + len(encoded)} octets exceeds {MAX_UDH_LENGTH}")
    return bytes([len(encoded)]) + encoded


def concat_ie(ref: int, total: int, seq: int, ref16: bool = False) -> InformationElement:
    """The concatenation IE for part `seq` of `total` (IEI 0x08 when ref16, else 0x00)."""
    if not 1 <= seq <= total <= 0xFF:
        raise ValueError(f"need 1 <= seq ({seq}) <= total ({total}) <= 255")
    limit = 0xFFFF if ref16 else 0xFF
    if not 0 <= ref <= limit:
        raise ValueError(f"ref {ref} out of range 0..{limit}")
    if ref16:
        return InformationElement(iei=IEI_CONCAT_16, data=bytes([ref >> 8, ref & 0xFF, total, seq]))
    return InformationElement(iei=IEI_CONCAT_8, data=bytes([ref, total, seq]))


def port_ie(dest: int, src: int, ports16: bool = True) -> InformationElement:
    """The application port addressing IE (IEI 0x05 with 16-bit ports, 0x04 with 8-bit)."""
    limit = 0xFFFF if ports16 else 0xFF
    if not (0 <= dest <= limit and 0 <= src <= limit):
        raise ValueError(f"ports {dest}/{src} out of range 0..{limit}")
    if ports16:
        data = dest.to_bytes(2, "big") + src.to_bytes(2, "big")
        return InformationElement(iei=IEI_PORTS_16, data=data)
    return InformationElement(iei=IEI_PORTS_8, data=bytes([dest, src]))
