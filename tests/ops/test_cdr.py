"""CDR records, CSV and JSON lines output, paging, the progress line, times and cursors."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from twisted.internet.defer import ensureDeferred, succeed

from gateway.model import Cdr, MessageState
from gateway.ops.cdr import (
    CDR_FIELDS,
    CdrWriter,
    Progress,
    export_pages,
    format_cursor,
    parse_cursor,
    parse_time,
    write_cdrs,
)


def _cdr(n: int, done: float = 1_796_000_000.5) -> Cdr:
    return Cdr(id=str(1000 + n), account="acme", transport="http", source="ACME",
               destination="4917000000", parts=2, data_coding=8, price=Decimal("0.100000"),
               connector="op1", upstream_id="ab12", submitted_at=done - 1, done_at=done,
               state=MessageState.UNDELIVERABLE, error_code=11)


def test_csv_has_a_header_and_one_row_per_cdr_with_readable_values():
    out = io.StringIO()
    assert write_cdrs([[_cdr(1)], [_cdr(2)]], out, "csv") == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(CDR_FIELDS)
    assert rows[0] == {
        "id": "1001", "account": "acme", "transport": "http", "source": "ACME",
        "destination": "4917000000", "parts": "2", "encoding": "ucs2", "price": "0.100000",
        "connector": "op1", "upstream_id": "ab12", "submitted_at": "2026-11-30T00:53:19.500Z",
        "done_at": "2026-11-30T00:53:20.500Z", "state": "UNDELIV", "error_code": "11"}


def test_jsonl_has_one_object_per_line():
    out = io.StringIO()
    write_cdrs([[_cdr(1), _cdr(2)]], out, "jsonl")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in lines] == ["1001", "1002"]
    assert lines[0]["state"] == "UNDELIV" and lines[0]["parts"] == 2


def test_pages_follow_the_cursor_until_a_short_page_each_written_as_it_comes():
    rows = [_cdr(n, 100.0 + n // 2) for n in range(7)]
    asked = []
    out = io.StringIO()

    def fetch(after, limit):
        asked.append((after, out.getvalue().count("\n")))  # rows written before each read
        start = 0 if after is None else next(
            i for i, c in enumerate(rows) if (c.done_at, c.id) == after) + 1
        return succeed(rows[start:start + limit])

    d = ensureDeferred(export_pages(fetch, CdrWriter(out, "jsonl"), page=3))
    assert d.result == 7
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [
        c.id for c in rows]
    assert asked == [(None, 0), ((101.0, "1002"), 3), ((102.0, "1005"), 6)]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_is_drawn_on_a_terminal_only():
    now = [0.0]
    terminal = _Terminal()
    progress = Progress(terminal, interval=1.0, clock=lambda: now[0])
    now[0] = 2.0
    progress(5000)
    now[0] = 2.5
    progress(10000)  # within the interval: not redrawn
    progress.done()
    assert terminal.getvalue() == "\r5,000 CDRs, 2,500/s \r10,000 CDRs, 4,000/s \n"
    pipe = io.StringIO()
    quiet = Progress(pipe)
    quiet(5)
    quiet.done()
    assert pipe.getvalue() == ""


@pytest.mark.parametrize(("text", "seconds"), [
    ("2026-12-01", 1796083200.0), ("2026-12-01T00:00:00Z", 1796083200.0),
    ("2026-12-01T01:00:00+01:00", 1796083200.0), ("1796083200.5", 1796083200.5),
])
def test_times_are_dates_rfc3339_or_posix_seconds(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["yesterday", "", "inf", "nan", "-5", "2026-13-01"])
def test_other_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_a_cursor_round_trips_exactly_and_junk_is_refused():
    cdr = _cdr(1, 1_796_000_000.123456789)
    assert parse_cursor(format_cursor(cdr)) == (cdr.done_at, cdr.id)
    for junk in ("", "1.5", "x_1", "1.5_", "1.5_12a", "inf_1", "1.5_" + "1" * 21):
        with pytest.raises(ValueError):
            parse_cursor(junk)
