"""Validation of a submit's fields, with the seeds' error codes (S9). Liberal where clients are."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Address, SubmitRequest
from gateway.smpp.constants import (
    ESM_TYPE_MASK,
    REGDLV_RECEIPT_MASK,
    CommandStatus,
    Npi,
    Ton,
)
from gateway.smpp.timefmt import parse_smpp_time

MAX_ALPHANUMERIC_SOURCE = 11
MAX_DIGITS = 20
_TONS = frozenset(int(t) for t in Ton)
_NPIS = frozenset(int(n) for n in Npi)
# Enum members read per message, bound once (smpp/constants.py says why)
_ALPHANUMERIC, _UNKNOWN_TON = Ton.ALPHANUMERIC, Ton.UNKNOWN
# registered_delivery: bits 0-1 receipt (3 is reserved), 2-3 SME ack, 4 intermediate, 5-7 reserved
_REGDLV_RESERVED = 0xE0


class SubmitRejected(Exception):
    """The submit is refused with `status`; `detail` says why, for logs and HTTP errors."""

    def __init__(self, status: CommandStatus, detail: str, field: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


@dataclass(frozen=True, kw_only=True, slots=True)
class SubmitTimes:
    scheduled_at: float | None
    expires_at: float | None


_AT_ONCE = SubmitTimes(scheduled_at=None, expires_at=None)


def validate_submit(request: SubmitRequest, now: float) -> SubmitTimes:
    """Raise SubmitRejected for the first invalid field; return the parsed times."""
    _check_source(request.source)
    check_destination(request.destination)
    if request.esm_class & ESM_TYPE_MASK:
        # messaging-mode bits (0x03) and UDHI/reply-path (0xC0) are fine; a message
        # type (receipt, ack...) is something only an SMSC sends
        raise SubmitRejected(
            CommandStatus.ESME_RINVESMCLASS,
            f"esm_class {request.esm_class:#04x} sets a message type", "esm_class")
    if request.registered_delivery & _REGDLV_RESERVED or (
        request.registered_delivery & REGDLV_RECEIPT_MASK == 3
    ):
        raise SubmitRejected(
            CommandStatus.ESME_RINVREGDLVFLG,
            f"registered_delivery {request.registered_delivery:#04x} uses reserved bits",
            "registered_delivery")
    if request.priority > 3:
        raise SubmitRejected(
            CommandStatus.ESME_RINVPRTFLG, f"priority_flag {request.priority} is not 0-3",
            "priority_flag")
    try:
        scheduled_at = parse_smpp_time(request.schedule_delivery_time, now)
    except ValueError as e:
        raise SubmitRejected(
            CommandStatus.ESME_RINVSCHED, str(e), "schedule_delivery_time") from None
    try:
        expires_at = parse_smpp_time(request.validity_period, now)
    except ValueError as e:
        raise SubmitRejected(CommandStatus.ESME_RINVEXPIRY, str(e), "validity_period") from None
    if expires_at is not None and (
        expires_at <= now or (scheduled_at is not None and expires_at <= scheduled_at)
    ):
        raise SubmitRejected(
            CommandStatus.ESME_RINVEXPIRY, "validity_period ends before delivery could start",
            "validity_period")
    if scheduled_at is not None and scheduled_at <= now:
        scheduled_at = None  # a time in the past means "now"
    if scheduled_at is None and expires_at is None:
        return _AT_ONCE  # most submits: one value for all of them
    return SubmitTimes(scheduled_at=scheduled_at, expires_at=expires_at)


def _check_source(source: Address) -> None:
    if source.ton not in _TONS:
        raise SubmitRejected(
            CommandStatus.ESME_RINVSRCTON, f"source_addr_ton {source.ton:#04x} is unknown",
            "source_addr_ton")
    if source.npi not in _NPIS:
        raise SubmitRejected(
            CommandStatus.ESME_RINVSRCNPI, f"source_addr_npi {source.npi:#04x} is unknown",
            "source_addr_npi")
    addr = source.addr
    if not addr:
        return  # the SMSC's default source applies
    if source.ton == _ALPHANUMERIC:
        if len(addr) > MAX_ALPHANUMERIC_SOURCE or not addr.isprintable():
            raise SubmitRejected(
                CommandStatus.ESME_RINVSRCADR,
                f"alphanumeric source_addr must be 1-{MAX_ALPHANUMERIC_SOURCE} printable "
                f"characters", "source_addr")
    elif not _is_number(addr) and not (source.ton == _UNKNOWN_TON and addr.isprintable()
                                       and len(addr) <= MAX_ALPHANUMERIC_SOURCE):
        raise SubmitRejected(
            CommandStatus.ESME_RINVSRCADR, f"source_addr {addr!r} is not a number",
            "source_addr")


def check_destination(destination: Address) -> None:
    """Raise SubmitRejected unless `destination` can be sent to (validate_submit's check
    of it, for the other recipients of a batch)."""
    if destination.ton not in _TONS or destination.ton == _ALPHANUMERIC:
        raise SubmitRejected(
            CommandStatus.ESME_RINVDSTTON,
            f"dest_addr_ton {destination.ton:#04x} is not valid for a destination",
            "dest_addr_ton")
    if destination.npi not in _NPIS:
        raise SubmitRejected(
            CommandStatus.ESME_RINVDSTNPI, f"dest_addr_npi {destination.npi:#04x} is unknown",
            "dest_addr_npi")
    if not _is_number(destination.addr):
        raise SubmitRejected(
            CommandStatus.ESME_RINVDSTADR,
            f"destination_addr {destination.addr!r} is not a phone number", "destination_addr")


def _is_number(addr: str) -> bool:
    digits = addr.removeprefix("+")
    return 0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()
