"""A submit's content: is its structure sound (UDH, SAR, flags), and how many parts is it billed?

Theory of operation
-------------------
A customer sends a long message in one of three forms, and each is billed by
the SMS parts it takes on the air:

- one body (short_message or message_payload) longer than one SMS: the SMSC
  cuts it, so it is counted with `count_parts_bytes` in its alphabet (GSM
  160/153, UCS2 70/67, 8-bit 140/134; flash and other GSM 03.38 DCS values
  count by the alphabet they select);
- parts the client cut itself, each a separate submit carrying a UDH
  concatenation IE (esm_class UDHI, 8- or 16-bit reference) or the three SAR
  TLVs: each is one part;
- a UDH without concatenation (e.g. WAP Push port addressing): its IEs are
  repeated in every part, which `count_parts_bytes` accounts for.

Errors, with the status each gets:

- esm_class has UDHI but the body does not start with a well-formed UDH →
  ESME_RINVESMCLASS: the flag is what is wrong, the body may be plain text;
- only some of the SAR TLVs → ESME_RMISSINGOPTPARAM; seq 0, total 0 or
  seq > total → ESME_RINVOPTPARAMVAL;
- replace_if_present_flag above 1 → ESME_RINVREPFLAG;
- a body needing more than 255 parts (the concat IE counts in one octet), or a UDH
  without concatenation so long that, repeated in every part, it leaves no room for
  text → ESME_RINVMSGLEN.
"""
from __future__ import annotations

from gateway.core.validation import SubmitRejected
from gateway.model import SubmitRequest
from gateway.smpp.constants import ESM_UDHI, CommandStatus
from gateway.text.errors import UdhError
from gateway.text.parts import MAX_PARTS, count_parts_bytes
from gateway.text.udh import parse_udh

__all__ = ["check_content", "parts_of"]

# No body of this many octets or fewer can need two parts in any alphabet
# (IA5 weighs at most 2 septets per octet: 2 * 70 <= 160; 8-bit and UCS2: 70 <= 140).
_ALWAYS_ONE_PART = 70


def check_content(request: SubmitRequest) -> int:
    """Raise SubmitRejected if the content is malformed; return the parts it is billed for."""
    if request.replace_if_present > 1:
        raise SubmitRejected(
            CommandStatus.ESME_RINVREPFLAG,
            f"replace_if_present_flag {request.replace_if_present} is not 0 or 1",
            "replace_if_present_flag")
    numbered = _check_sar(request.sar)
    return parts_of(request.body, request.data_coding, request.esm_class, numbered)


def parts_of(body: bytes, data_coding: int, esm_class: int, numbered: bool = False) -> int:
    """Parts `body` is billed for; `numbered` when SAR TLVs make it one part of a whole.

    Raises SubmitRejected for a missing UDH (UDHI set) or a body past 255 parts.
    """
    has_udh = bool(esm_class & ESM_UDHI)
    if has_udh:
        try:
            udh, _ = parse_udh(body)
        except UdhError as e:
            raise SubmitRejected(
                CommandStatus.ESME_RINVESMCLASS,
                f"esm_class {esm_class:#04x} announces a UDH but the body has none: {e}",
                "esm_class") from None
        if udh.concat is not None:
            return 1  # one part of a message the client cut itself
    if numbered or (not has_udh and len(body) <= _ALWAYS_ONE_PART):
        return 1
    try:
        parts = count_parts_bytes(body, data_coding, has_udh)
    except UdhError as e:  # well-formed, but repeated in every part it leaves no room
        raise SubmitRejected(CommandStatus.ESME_RINVMSGLEN, str(e), "short_message") from None
    if parts > MAX_PARTS:
        raise SubmitRejected(
            CommandStatus.ESME_RINVMSGLEN,
            f"message needs {parts} parts; at most {MAX_PARTS} are possible", "message_payload")
    return parts


def _check_sar(sar: tuple[int | None, int | None, int | None]) -> bool:
    """True when the SAR TLVs number this submit as one part; raise if they are inconsistent."""
    ref, total, seq = sar
    if ref is None and total is None and seq is None:
        return False
    if ref is None or total is None or seq is None:
        missing = [name for name, value in zip(
            ("sar_msg_ref_num", "sar_total_segments", "sar_segment_seqnum"), sar, strict=True)
            if value is None]
        raise SubmitRejected(
            CommandStatus.ESME_RMISSINGOPTPARAM,
            f"SAR TLVs given without {', '.join(missing)}", missing[0])
    if total == 0 or seq == 0 or seq > total:
        raise SubmitRejected(
            CommandStatus.ESME_RINVOPTPARAMVAL,
            f"sar_segment_seqnum {seq} of sar_total_segments {total}", "sar_segment_seqnum")
    return True
