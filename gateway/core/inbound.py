"""The single MO path: every inbound message, from every connector, to the account that
owns its destination, over SMPP and/or as a webhook (R4, D3, D4, H4).

Theory of operation
-------------------
A connector hands each MO (one deliver_sm, or one part of a long message) to
`message_received` and acknowledges upstream only when the Deferred fires (with the id
the MO got): by then the MO is committed (rule 3). It fails with InboundRejected,
answered upstream, for an MO no account owns (ESME_RINVDSTADR), a malformed UDH
(ESME_RINVESMCLASS) or impossible SAR numbering (ESME_RINVOPTPARAMVAL).

The owner comes from the NumberDirectory, by the destination and the decoded text (a
keyword is the text's first word); its legs from `Subscriptions.target`.

- A single MO: its SMPP item (the body as received, UDH kept) and/or its webhook item
  (the text) are queued in one `queue_outbox` transaction, then handed to the fan-out.
- A part of a concatenated MO (UDH concat IE, 8- or 16-bit reference, or SAR TLVs) is
  held in the store by the number it is addressed to (`add_inbound_part`), whatever the
  order the parts come in. The add that finds all `total` parts held reassembles them
  and routes the whole text exactly like a single MO, so every part reaches the account
  its part 1's keyword names; `complete_inbound` then swaps the held parts, in one
  transaction, for the legs: over SMPP every part in order (each numbered by a concat
  UDH: the ESME joins them), as a webhook the whole text. Part 1 is refused at once when
  its text matches nobody; a later part is accepted when anyone owns the number (only
  part 1 can tell whose it is).

Timeout: a sweep every `sweep_interval` takes `held_inbound(now - reassembly_timeout)`.
A complete group (a crash fell between its last part and its completion) is completed
as above. An incomplete one is released, never dropped: routed by part 1's text when
part 1 came (else to the number's default owner), each held part goes out on its own,
over SMPP as a numbered part and as one webhook event per part with its numbering. Only
a group that no account can take any more (its number given away meanwhile, or a shared
code without a default owner and without part 1) is let go, with an error logged.
Completion is idempotent: `complete_inbound` returns None when another completion (the
sweep, another node, a duplicate last part) won, and nothing more is queued.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred, DeferredList, fail, gatherResults, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from gateway.core.events import mo_payload
from gateway.core.fanout import Subscriptions
from gateway.core.ids import MessageIdGenerator
from gateway.core.numbers import NumberDirectory, OwnedNumber
from gateway.core.ports import InboundRejected, InboundStore, Store
from gateway.model import DeliveryKind, InboundMessage, InboundPart, NewOutboxItem, OutboxItem
from gateway.smpp.constants import CommandStatus
from gateway.text.concat import Sar, Segment, numbering, reassemble
from gateway.text.encoding import decode_body
from gateway.text.errors import ReassemblyError, UdhError
from gateway.text.udh import build_udh, concat_ie

__all__ = ["InboundConfig", "InboundRouter"]

log = Logger()

ESM_UDHI = 0x40


@dataclass(frozen=True, kw_only=True)
class InboundConfig:
    """`[inbound]`: how long parts wait for the rest of their message, how often the held
    parts are looked at, and how many groups one look takes."""

    reassembly_timeout: float = 300.0
    sweep_interval: float = 10.0
    sweep_limit: int = 500


class InboundStorage(Store, InboundStore, Protocol):
    """What the MO path needs from the store."""


class Fanout(Protocol):
    def claim(self, items: Sequence[NewOutboxItem]) -> list[NewOutboxItem]:
        """Items about to be written, marked as this node's where it pushes them at once."""

    def enqueue(self, item: OutboxItem) -> None:
        """A committed outbox item (any channel): push it when its leg can take it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Mo:
    """One MO as parsed: its id, numbering ((ref, total, seq) or None) and payload (the
    text octets without UDH)."""

    message: InboundMessage
    id: str
    numbered: tuple[int, int, int] | None
    payload: bytes
    received_at: float


class InboundRouter:
    """The InboundSink every connector hands its MO to."""

    def __init__(self, *, store: InboundStorage, directory: NumberDirectory,
                 subscriptions: Subscriptions, delivery: Fanout, ids: MessageIdGenerator,
                 clock: IReactorTime, config: InboundConfig = InboundConfig()) -> None:
        self._store = store
        self._directory = directory
        self._subscriptions = subscriptions
        self._delivery = delivery
        self._ids = ids
        self._clock = clock
        self._config = config
        self._busy: set[Deferred[None]] = set()  # completions started by message_received
        self._sweeper = LoopingCall(self.sweep)
        self._sweeper.clock = clock

    def start(self) -> None:
        """Sweep the held parts now and every sweep_interval."""
        self._sweeper.start(self._config.sweep_interval, now=True)

    def stop(self) -> Deferred[None]:
        """No more sweeps; fires when the completions under way have finished."""
        if self._sweeper.running:
            self._sweeper.stop()
        return self.idle()

    def idle(self) -> Deferred[None]:
        """Fires when the completions message_received started have finished."""
        return DeferredList(list(self._busy)).addCallback(lambda _: None)

    # --- arrival ---------------------------------------------------------------------------
    def message_received(self, message: InboundMessage) -> Deferred[str]:
        """Fires with the MO's id (a part's own id) once it is durable."""
        try:
            mo = self._parse(message)
            owned = self._owner(mo)
        except InboundRejected as rejected:
            log.info("MO from {source} to {destination} refused ({status:#x}): {reason}",
                     source=message.source.addr, destination=message.destination.addr,
                     status=rejected.command_status, reason=str(rejected))
            return fail(rejected)
        d = self._single(mo, owned) if mo.numbered is None else self._hold(mo)
        return d.addCallback(lambda _: mo.id)

    def _parse(self, message: InboundMessage) -> _Mo:
        ref, total, seq = message.sar
        sar = None if ref is None or total is None or seq is None else Sar(
            ref=ref, total=total, seq=seq)
        segment = Segment(body=message.body, esm_class_udhi=bool(message.esm_class & ESM_UDHI),
                          sar=sar)
        try:
            numbered, payload = numbering(segment)
        except UdhError as exc:
            raise InboundRejected(CommandStatus.ESME_RINVESMCLASS,
                                  f"malformed UDH: {exc}") from None
        except ReassemblyError as exc:
            raise InboundRejected(CommandStatus.ESME_RINVOPTPARAMVAL,
                                  f"bad SAR numbering: {exc}") from None
        if numbered is not None and numbered[1] == 1:
            numbered = None  # part 1 of 1 is a whole message
        return _Mo(message=message, id=self._ids.next_id(), numbered=numbered,
                   payload=payload, received_at=message.received_at or self._clock.seconds())

    def _owner(self, mo: _Mo) -> OwnedNumber | None:
        """Who a single MO or a part 1 goes to; None for a later part (routed with its
        message). Raises InboundRejected when nobody would take it."""
        destination = mo.message.destination.addr
        if mo.numbered is not None and mo.numbered[2] != 1:
            if self._directory.owns(destination):
                return None
        else:
            text = decode_body(mo.payload, mo.message.data_coding)
            owned = self._directory.owner(destination, text)
            if owned is not None:
                return owned
        raise InboundRejected(CommandStatus.ESME_RINVDSTADR,
                              f"no account owns {destination!r}")

    def _single(self, mo: _Mo, owned: OwnedNumber) -> Deferred[None]:
        message = mo.message
        target = self._subscriptions.target(owned.account)
        leg = NewOutboxItem(
            account=owned.account, kind=DeliveryKind.MO, source=message.source,
            destination=message.destination, body=message.body,
            esm_class=message.esm_class & ESM_UDHI, data_coding=message.data_coding,
            created_at=self._clock.seconds())
        items = [leg] if target.smpp else []
        if target.url:
            event_id = self._subscriptions.new_event_id()
            items.append(Subscriptions.webhook_item(leg, target.url, event_id, mo_payload(
                event_id=event_id, mo_id=mo.id, account=owned.account,
                source=message.source.addr, destination=message.destination.addr,
                body=mo.payload, data_coding=message.data_coding,
                received_at=mo.received_at, keyword=owned.keyword,
                connector=message.connector)))
        items = self._delivery.claim(items)
        return self._store.queue_outbox(items).addCallback(self._enqueue)

    def _hold(self, mo: _Mo) -> Deferred[None]:
        message = mo.message
        ref, total, seq = mo.numbered
        part = InboundPart(
            id=mo.id, source=message.source, destination=message.destination, ref=ref,
            total=total, seq=seq, body=mo.payload, data_coding=message.data_coding,
            connector=message.connector, received_at=mo.received_at)

        def held(parts: list[InboundPart]) -> None:
            if _whole(parts):
                # the part is durable: the connector may answer now; completion follows
                d = self._guarded(self._complete, parts)
                self._busy.add(d)
                d.addBoth(lambda _: self._busy.discard(d))

        return self._store.add_inbound_part(part).addCallback(held)

    # --- completion and release ------------------------------------------------------------
    def sweep(self) -> Deferred[None]:
        """Complete the groups left whole, release those held past the timeout."""
        cutoff = self._clock.seconds() - self._config.reassembly_timeout
        d = self._store.held_inbound(cutoff, self._config.sweep_limit)

        def handle(groups: list[list[InboundPart]]) -> Deferred[None]:
            work = [self._guarded(self._complete if _whole(g) else self._release, g)
                    for g in groups if g]
            return gatherResults(work).addCallback(lambda _: None)

        d.addCallback(handle)
        d.addErrback(lambda f: log.failure("sweeping held MO parts failed", f))
        return d

    def _guarded(self, step: Callable[[list[InboundPart]], Deferred[None]],
                 parts: list[InboundPart]) -> Deferred[None]:
        """Run a completion or release step; a failure is logged (the group stays held,
        and the next sweep tries again)."""
        d = maybeDeferred(step, parts)
        d.addErrback(lambda f: log.failure(
            "completing MO {ref} from {source} failed; the next sweep retries", f,
            ref=parts[0].ref, source=parts[0].source.addr))
        return d

    def _complete(self, parts: list[InboundPart]) -> Deferred[None]:
        """Swap a whole group for its legs: the parts over SMPP, the whole text by webhook."""
        parts = _distinct(parts)
        first = parts[0]
        body = reassemble(
            Segment(body=p.body, sar=Sar(ref=p.ref, total=p.total, seq=p.seq)) for p in parts)
        owned = self._directory.owner(first.destination.addr,
                                      decode_body(body, first.data_coding))
        if owned is None:
            return self._let_go(parts)
        target = self._subscriptions.target(owned.account)
        items = self._smpp_legs(parts, owned.account) if target.smpp else []
        if target.url:
            event_id = self._subscriptions.new_event_id()
            received_at = max(p.received_at for p in parts)
            items.append(self._webhook(first, owned, target.url, event_id, mo_payload(
                event_id=event_id, mo_id=first.id, account=owned.account,
                source=first.source.addr, destination=first.destination.addr, body=body,
                data_coding=first.data_coding, received_at=received_at,
                keyword=owned.keyword, connector=first.connector, parts=first.total)))
        return self._finish(parts, items)

    def _release(self, parts: list[InboundPart]) -> Deferred[None]:
        """Give up waiting for a group: each held part goes out on its own."""
        parts = _distinct(parts)
        first = parts[0]
        text = decode_body(first.body, first.data_coding) if first.seq == 1 else ""
        owned = self._directory.owner(first.destination.addr, text)
        if owned is None:
            return self._let_go(parts)
        log.info("MO {ref} from {source} lacks parts of {total} after {timeout}s; "
                 "releasing {n} parts", ref=first.ref, source=first.source.addr,
                 total=first.total, timeout=self._config.reassembly_timeout, n=len(parts))
        target = self._subscriptions.target(owned.account)
        items = self._smpp_legs(parts, owned.account) if target.smpp else []
        for part in parts if target.url else ():
            event_id = self._subscriptions.new_event_id()
            items.append(self._webhook(part, owned, target.url, event_id, mo_payload(
                event_id=event_id, mo_id=part.id, account=owned.account,
                source=part.source.addr, destination=part.destination.addr, body=part.body,
                data_coding=part.data_coding, received_at=part.received_at,
                keyword=owned.keyword, connector=part.connector,
                part=(part.ref, part.total, part.seq))))
        return self._finish(parts, items)

    def _let_go(self, parts: list[InboundPart]) -> Deferred[None]:
        first = parts[0]
        log.error("MO {ref} from {source} to {destination} ({n} of {total} parts) matches "
                  "no account; letting it go", ref=first.ref, source=first.source.addr,
                  destination=first.destination.addr, n=len(parts), total=first.total)
        return self._finish(parts, [])

    def _smpp_legs(self, parts: list[InboundPart], account: str) -> list[NewOutboxItem]:
        """The SMPP items of the held parts, in seq order, each numbered by a concat UDH
        (a part that came with SAR TLVs too: the deliver_sm carries its numbering)."""
        now = self._clock.seconds()
        return [NewOutboxItem(
            account=account, kind=DeliveryKind.MO, source=p.source, destination=p.destination,
            body=build_udh([concat_ie(p.ref, p.total, p.seq, p.ref > 0xFF)]) + p.body,
            esm_class=ESM_UDHI, data_coding=p.data_coding, created_at=now)
            for p in parts]

    def _webhook(self, part: InboundPart, owned: OwnedNumber, url: str, event_id: str,
                 payload: str) -> NewOutboxItem:
        event = NewOutboxItem(
            account=owned.account, kind=DeliveryKind.MO, source=part.source,
            destination=part.destination, body=b"", data_coding=part.data_coding,
            created_at=self._clock.seconds())
        return Subscriptions.webhook_item(event, url, event_id, payload)

    def _finish(self, parts: list[InboundPart], items: list[NewOutboxItem]) -> Deferred[None]:
        d = self._store.complete_inbound(parts, self._delivery.claim(items))
        d.addCallback(lambda queued: self._enqueue(queued or []))
        return d

    def _enqueue(self, items: Sequence[OutboxItem]) -> None:
        for item in items:
            self._delivery.enqueue(item)


def _distinct(parts: list[InboundPart]) -> list[InboundPart]:
    """The parts by seq, one per seq."""
    by_seq = {p.seq: p for p in parts}
    return [by_seq[seq] for seq in sorted(by_seq)]


def _whole(parts: list[InboundPart]) -> bool:
    return bool(parts) and len({p.seq for p in parts}) >= parts[0].total

