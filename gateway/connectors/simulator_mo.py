"""MO from the built-in simulator, so the MO path works (and can be tried) on a fresh
install: `inject` builds the InboundMessages a handset's text would arrive as, and
`echo` answers a delivered message with an auto-reply from its destination.

Both hand their parts to the inbound sink one by one, each after the previous one is
durable, exactly as an upstream connector would (it answers upstream only then).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from gateway.core.ports import InboundRejected, InboundSink
from gateway.model import Address, InboundMessage, Message
from gateway.smpp.constants import DataCoding
from gateway.text.concat import Segment, split_message
from gateway.text.encoding import choose_data_coding, encode_text
from gateway.text.errors import UdhError
from gateway.text.udh import parse_udh

__all__ = ["MoSource", "Order", "Split", "address", "inbound_messages"]

log = Logger()

Split = Literal["udh", "sar", "none"]
Order = Literal["given", "reverse"]

CONNECTOR = "simulator"
ESM_UDHI = 0x40
NO_SAR: tuple[int | None, int | None, int | None] = (None, None, None)


def address(addr: str) -> Address:
    """An address as a handset network would give it: international for digits (with
    or without '+'), alphanumeric otherwise."""
    digits = addr[1:] if addr.startswith("+") else addr
    if digits.isdigit():
        return Address(ton=1, npi=1, addr=addr)
    return Address(ton=5, npi=0, addr=addr)


def inbound_messages(*, source: Address, destination: Address, body: bytes, data_coding: int,
                     ref: int, now: float, split: Split = "udh", order: Order = "given",
                     drop: Iterable[int] = ()) -> list[InboundMessage]:
    """The InboundMessages `body` (octets for `data_coding`) arrives as: one when it fits
    a part or `split` is 'none', else a part each, numbered by a UDH concat IE ('udh';
    a 16-bit reference when `ref` > 255) or SAR TLVs ('sar'); in `order`, without the
    part numbers in `drop`. ValueError for a bad split, order, ref or drop."""
    if split not in ("udh", "sar", "none"):
        raise ValueError(f"split must be 'udh', 'sar' or 'none', got {split!r}")
    if order not in ("given", "reverse"):
        raise ValueError(f"order must be 'given' or 'reverse', got {order!r}")
    if split == "none":
        segments = [Segment(body=body)]
    else:
        segments = split_message(body, data_coding, ref=ref, method=split, ref16=ref > 0xFF)
    numbered = list(enumerate(segments, 1))
    dropped = set(drop)
    unknown = sorted(seq for seq in dropped if not 1 <= seq <= len(numbered))
    if unknown:
        raise ValueError(f"drop {unknown}: the message has parts 1..{len(numbered)}")
    if order == "reverse":
        numbered.reverse()
    return [
        InboundMessage(source=source, destination=destination, body=s.body,
                       data_coding=data_coding, esm_class=ESM_UDHI if s.esm_class_udhi else 0,
                       sar=(s.sar.ref, s.sar.total, s.sar.seq) if s.sar else NO_SAR,
                       connector=CONNECTOR, received_at=now)
        for seq, s in numbered if seq not in dropped]


class MoSource:
    """The simulator's MO side: the sink it hands MO to, and the concat references."""

    def __init__(self, clock: IReactorTime, inbound: InboundSink | None = None) -> None:
        self._clock = clock
        self._inbound = inbound
        self._ref = 0

    def set_inbound(self, inbound: InboundSink | None) -> None:
        self._inbound = inbound

    def next_ref(self) -> int:
        self._ref = (self._ref + 1) & 0xFF
        return self._ref

    def inject(self, source: str | Address, destination: str | Address, text: str | None = None,
               hex: str | bytes | None = None, data_coding: int | None = None,
               split: Split = "udh", order: Order = "given", drop: Sequence[int] = (),
               ref: int | None = None) -> Deferred[list[Any]]:
        """An MO from handset `source` to `destination` (an account's number), as `text`
        (in `data_coding`, by default the cheapest that fits) or `hex` (hexadecimal, or
        the octets themselves; binary by default), split and ordered as asked, without the
        `drop`ped part numbers. Fires, once every message handed on is durable, with what
        the sink fired with for each (the MO path: the MO ids); fails with the sink's
        InboundRejected. Raises ValueError for bad arguments (nothing is handed on)."""
        if (text is None) == (hex is None):
            raise ValueError("give exactly one of text and hex")
        if text is not None:
            coding = int(choose_data_coding(text)) if data_coding is None else data_coding
            body = encode_text(text, coding)
        else:
            coding = int(DataCoding.BINARY_8BIT) if data_coding is None else data_coding
            body = hex if isinstance(hex, bytes) else bytes.fromhex(hex or "")
        if ref is not None and not 0 <= ref <= 0xFFFF:
            raise ValueError(f"ref {ref} out of range 0..65535")
        src = source if isinstance(source, Address) else address(source)
        dst = destination if isinstance(destination, Address) else address(destination)
        messages = inbound_messages(
            source=src, destination=dst, body=body, data_coding=coding,
            ref=self.next_ref() if ref is None else ref, now=self._clock.seconds(),
            split=split, order=order, drop=drop)
        if self._inbound is None:
            raise ValueError("the simulator has no inbound sink (no MO path)")
        return self._hand_on(self._inbound, messages)

    def echo(self, message: Message) -> None:
        """Answer delivered `message` with its own text, from its destination to its
        source (in concat parts when long). A refusal is logged: nobody owns the number."""
        inbound = self._inbound
        if inbound is None:
            return
        body = message.body
        if message.esm_class & ESM_UDHI:
            try:
                body = parse_udh(body)[1]
            except UdhError:
                return  # nothing sensible to echo
        try:
            messages = inbound_messages(
                source=message.destination, destination=message.source, body=body,
                data_coding=message.data_coding, ref=self.next_ref(),
                now=self._clock.seconds())
        except ValueError as exc:
            log.info("no echo for {id}: {reason}", id=message.id, reason=str(exc))
            return
        d = self._hand_on(inbound, messages)

        def refused(failure) -> None:
            failure.trap(InboundRejected)
            log.info("echo of {id} refused ({status:#x}): {reason}", id=message.id,
                     status=failure.value.command_status, reason=str(failure.value))

        d.addErrback(refused)
        d.addErrback(lambda f: log.failure("echo of {id} failed", f, id=message.id))

    @staticmethod
    def _hand_on(inbound: InboundSink, messages: list[InboundMessage]) -> Deferred[list[Any]]:
        """Each message once the one before is durable; what the sink fired with, for each."""
        answers: list[Any] = []
        d: Deferred[Any] = succeed(None)
        for message in messages:
            d.addCallback(lambda _, m=message: inbound.message_received(m))
            d.addCallback(answers.append)
        return d.addCallback(lambda _: answers)
