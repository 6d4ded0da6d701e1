"""CDRs as billing reads them: one record per message in its final state, written as CSV or
JSON lines, streamed page by page (an export of millions of rows holds one page), and the
paging cursor the admin API hands out."""
from __future__ import annotations

import csv
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.core.events import encoding_name, iso_time
from gateway.core.ports import CdrCursor
from gateway.model import Cdr

__all__ = ["CDR_FIELDS", "FORMATS", "Progress", "cdr_record", "cdr_row", "format_cursor",
           "CdrWriter", "export_pages", "parse_cursor", "parse_time", "write_cdrs"]

CDR_FIELDS = ("id", "account", "transport", "source", "destination", "parts", "encoding",
              "price", "connector", "upstream_id", "submitted_at", "done_at", "state",
              "error_code")
FORMATS = ("csv", "jsonl")
PAGE = 5000

_CURSOR = re.compile(r"^(?P<done>[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)_(?P<id>[0-9]{1,20})$")


def cdr_row(cdr: Cdr) -> tuple:
    """The CDR's values in CDR_FIELDS order: times in RFC 3339 UTC with milliseconds, the
    state as the receipt's stat word (DELIVRD, UNDELIV, ...), the price as an exact
    decimal string."""
    return (cdr.id, cdr.account, cdr.transport, cdr.source, cdr.destination, cdr.parts,
            encoding_name(cdr.data_coding), f"{cdr.price:f}", cdr.connector, cdr.upstream_id,
            iso_time(cdr.submitted_at), iso_time(cdr.done_at), cdr.state.receipt_stat,
            cdr.error_code)


def cdr_record(cdr: Cdr) -> dict[str, Any]:
    """The CDR as a dict by CDR_FIELDS (see cdr_row)."""
    return dict(zip(CDR_FIELDS, cdr_row(cdr), strict=True))


class CdrWriter:
    """Writes CDRs to `out` as `fmt` (csv with a header row, or jsonl) a page at a time;
    `progress(total so far)` is called after each page."""

    def __init__(self, out: TextIO, fmt: str,
                 progress: Callable[[int], None] | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self._out = out
        self._progress = progress
        self._csv = None
        if fmt == "csv":
            self._csv = csv.writer(out, lineterminator="\n")
            self._csv.writerow(CDR_FIELDS)
        self._dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self.written = 0

    def write(self, page: list[Cdr]) -> None:
        rows = [cdr_row(c) for c in page]
        if self._csv is not None:
            self._csv.writerows(rows)
        else:
            dumps = self._dumps
            self._out.write("".join(dumps(dict(zip(CDR_FIELDS, r, strict=True))) + "\n"
                                    for r in rows))
        self.written += len(rows)
        if self._progress is not None:
            self._progress(self.written)


def write_cdrs(pages: Iterable[list[Cdr]], out: TextIO, fmt: str,
               progress: Callable[[int], None] | None = None) -> int:
    """Write every CDR of `pages` to `out` as `fmt`; returns how many."""
    writer = CdrWriter(out, fmt, progress)
    for page in pages:
        writer.write(page)
    return writer.written


async def export_pages(fetch: Callable[[CdrCursor | None, int], Awaitable[list[Cdr]]],
                       writer: CdrWriter, page: int = PAGE) -> int:
    """Pages from the store's `fetch(after, limit)` handed to `writer` one at a time, until
    one comes back short: memory holds one page, however many rows there are."""
    after: CdrCursor | None = None
    while True:
        rows = await fetch(after, page)
        if rows:
            writer.write(rows)
        if len(rows) < page:
            return writer.written
        after = (rows[-1].done_at, rows[-1].id)


class Progress:
    """A progress line on a terminal ('1,234,000 CDRs, 410,000/s'), redrawn at most every
    `interval` seconds; nothing when `stream` is not a terminal."""

    def __init__(self, stream: TextIO, interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._on = stream.isatty()
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._shown = 0.0
        self._count = 0

    def __call__(self, count: int) -> None:
        self._count = count
        now = self._clock()
        if self._on and now - self._shown >= self._interval:
            self._shown = now
            self._draw(now)

    def done(self) -> None:
        if self._on:
            self._draw(self._clock())
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        self._stream.write(f"\r{self._count:,} CDRs, {self._count / elapsed:,.0f}/s ")
        self._stream.flush()


def parse_time(text: str) -> float:
    """POSIX seconds from '2026-12-01', '2026-12-01T18:00:00Z' (RFC 3339, UTC if no
    offset) or a number of seconds; ValueError otherwise."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not a date, an RFC 3339 time or POSIX seconds") \
                from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a time")
    return value


def format_cursor(cdr: Cdr) -> str:
    """The cursor after `cdr`: its done_at (exact: repr round-trips) and id."""
    return f"{cdr.done_at!r}_{cdr.id}"


def parse_cursor(text: str) -> CdrCursor:
    """The (done_at, id) a `format_cursor` string names; ValueError for anything else."""
    m = _CURSOR.match(text)
    if m is None:
        raise ValueError("not a cursor this API handed out")
    done = float(m.group("done"))
    if not math.isfinite(done):
        raise ValueError("not a cursor this API handed out")
    return done, m.group("id")
