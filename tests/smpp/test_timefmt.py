"""SMPP 3.4 §7.1.1 time formats: absolute with UTC offsets, relative, malformed."""
from __future__ import annotations

import calendar

import pytest

from gateway.smpp.timefmt import format_final_date, format_smpp_time, parse_smpp_time

NOW = calendar.timegm((2024, 3, 1, 12, 0, 0))  # 2024-03-01 12:00:00 UTC


def utc(*fields: int) -> int:
    return calendar.timegm((*fields, 0, 0, 0))


def test_empty_value_means_unset():
    assert parse_smpp_time("", NOW) is None


def test_absolute_utc_time():
    assert parse_smpp_time("240315093000000+", NOW) == utc(2024, 3, 15, 9, 30, 0)


def test_absolute_time_with_tenths_of_a_second():
    assert parse_smpp_time("240315093000500+", NOW) == utc(2024, 3, 15, 9, 30, 0) + 0.5


def test_positive_offset_is_local_time_ahead_of_utc():
    # 10:30 at UTC+01:00 (4 quarter hours) is 09:30 UTC
    assert parse_smpp_time("240315103000004+", NOW) == utc(2024, 3, 15, 9, 30, 0)


def test_negative_offset_is_local_time_behind_utc():
    # 04:30 at UTC-05:00 (20 quarter hours) is 09:30 UTC
    assert parse_smpp_time("240315043000020-", NOW) == utc(2024, 3, 15, 9, 30, 0)


def test_quarter_hour_offsets():
    # 15:15 at UTC+05:45 (23 quarter hours, Nepal) is 09:30 UTC
    assert parse_smpp_time("240315151500023+", NOW) == utc(2024, 3, 15, 9, 30, 0)


def test_offset_crossing_midnight_and_leap_day():
    assert parse_smpp_time("240301003000008+", NOW) == utc(2024, 2, 29, 22, 30, 0)


def test_relative_time_is_added_to_now():
    assert parse_smpp_time("000001020304000R", NOW) == NOW + 86400 + 2 * 3600 + 3 * 60 + 4


def test_relative_months_and_years_are_fixed_spans():
    assert parse_smpp_time("010200000000000R", NOW) == NOW + 365 * 86400 + 2 * 30 * 86400


def test_relative_zero_is_now():
    assert parse_smpp_time("000000000000000R", NOW) == NOW


@pytest.mark.parametrize("value", [
    "2403150930",  # too short
    "240315093000000+0",  # too long
    "24031509300000 +",  # space among the digits
    "2403150930000a0+",  # letter among the digits
    "240315093000000Z",  # unknown sign
    "241315093000000+",  # month 13
    "240015093000000+",  # month 0
    "240230093000000+",  # 30 February
    "230229093000000+",  # 29 February of a common year
    "240315243000000+",  # hour 24
    "240315096000000+",  # minute 60
    "240315093060000+",  # second 60
    "240315093000049+",  # offset beyond 12 hours
    "00000102030400\u0665R",  # a non-ASCII digit
])
def test_malformed_values_raise_value_error(value):
    with pytest.raises(ValueError, match="SMPP time"):
        parse_smpp_time(value, NOW)


def test_format_is_the_absolute_utc_form():
    assert format_smpp_time(utc(2024, 3, 15, 9, 30, 7) + 0.9) == "240315093007000+"


def test_final_date_has_the_same_16_character_form():
    assert format_final_date(utc(2031, 12, 31, 23, 59, 59)) == "311231235959000+"


def test_format_then_parse_gives_the_whole_second_back():
    ts = utc(2025, 6, 30, 18, 45, 12)
    assert parse_smpp_time(format_smpp_time(ts + 0.25), NOW) == ts
