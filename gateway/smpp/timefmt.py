"""SMPP 3.4 time formats (§7.1.1): schedule_delivery_time, validity_period, final_date.

`YYMMDDhhmmsstnnp`: t = tenths of a second, nn = offset from UTC in quarter
hours, p = '+' or '-' (absolute: local time nn quarter hours ahead of / behind
UTC) or 'R' (relative to the SMSC's current time). Time is always an argument.
"""
from __future__ import annotations

import calendar
from datetime import UTC, datetime

__all__ = ["format_final_date", "format_smpp_time", "parse_smpp_time"]

_LENGTH = 16
_QUARTER_HOUR = 900
_MAX_OFFSET = 48  # ±12 hours
# Relative times count years and months as fixed spans: SMPP 3.4 does not say
# which calendar month "1 month" is, and validity periods are rarely over days.
_YEAR = 365 * 86400
_MONTH = 30 * 86400
_DAY = 86400


def parse_smpp_time(value: str, now: float) -> float | None:
    """POSIX time of an SMPP time string; None for '' (the field is unset).

    Relative values are added to `now`. Raises ValueError with the reason for
    a malformed value (the caller answers ESME_RINVSCHED or ESME_RINVEXPIRY).
    """
    if value == "":
        return None
    if len(value) != _LENGTH:
        raise ValueError(
            f"SMPP time {value!r}: {len(value)} characters, expected 16 (YYMMDDhhmmsstnnp)"
        )
    digits, sign = value[:15], value[15]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"SMPP time {value!r}: the first 15 characters must be digits")
    yy, mo, dd, hh, mi, ss = (int(digits[i:i + 2]) for i in range(0, 12, 2))
    tenths, quarters = int(digits[12]), int(digits[13:15])
    if sign == "R":
        # tnn are unused in relative times ("000" by the spec); ignored if set.
        return now + yy * _YEAR + mo * _MONTH + dd * _DAY + hh * 3600 + mi * 60 + ss
    if sign not in "+-":
        raise ValueError(f"SMPP time {value!r}: last character must be '+', '-' or 'R'")
    if not 1 <= mo <= 12:
        raise ValueError(f"SMPP time {value!r}: month {mo:02d}")
    if not 1 <= dd <= calendar.monthrange(2000 + yy, mo)[1]:
        raise ValueError(f"SMPP time {value!r}: day {dd:02d} of month {mo:02d}")
    if hh > 23 or mi > 59 or ss > 59:
        raise ValueError(f"SMPP time {value!r}: time of day {hh:02d}:{mi:02d}:{ss:02d}")
    if quarters > _MAX_OFFSET:
        raise ValueError(f"SMPP time {value!r}: UTC offset of {quarters} quarter hours")
    local = calendar.timegm((2000 + yy, mo, dd, hh, mi, ss, 0, 0, 0)) + tenths / 10
    offset = quarters * _QUARTER_HOUR
    return local - offset if sign == "+" else local + offset


def format_smpp_time(ts: float) -> str:
    """Absolute UTC form `YYMMDDhhmmss000+` (whole seconds) of a POSIX time in 2000-2099."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%y%m%d%H%M%S") + "000+"


def format_final_date(ts: float) -> str:
    """query_sm_resp final_date: the same 16-character absolute UTC form."""
    return format_smpp_time(ts)
