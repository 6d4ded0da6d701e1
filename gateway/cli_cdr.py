"""`smsgw cdr export`: the CDRs of a time range (by when messages became final), as CSV or
JSON lines, streamed page by page from the store: a million rows never sit in memory.
A terminal gets a progress line on stderr; a file is written whole or not at all."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from gateway.cli_http import CommandError
from gateway.config import Config
from gateway.ops.cdr import FORMATS, CdrWriter, Progress, export_pages, parse_time
from gateway.storage.batched import BatchedStore as Store

__all__ = ["add_commands", "export"]


def add_commands(top: argparse._SubParsersAction) -> None:
    cdr = top.add_parser("cdr", help="call detail records (one per message in a final state)")
    commands = cdr.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export", help="write the CDRs of messages that became final in [since, until)")
    export.add_argument("--since", required=True, type=_time,
                        help="2026-12-01, 2026-12-01T00:00:00Z or POSIX seconds (UTC)")
    export.add_argument("--until", type=_time, default=None,
                        help="end of the range, exclusive (default: now)")
    export.add_argument("--account", help="only this account's messages")
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
    export.set_defaults(handler=_export)


async def export(store: Store, since: float, until: float, account: str | None,
                 out: TextIO, fmt: str, progress: Progress | None = None) -> int:
    """The store access of an export, in one place: its CDRs, page by page, to `out`."""
    writer = CdrWriter(out, fmt, progress)
    return await export_pages(
        lambda after, limit: store.cdrs(since, until, account, after, limit), writer)


async def _export(store: Store, config: Config, args) -> int:
    until = args.until if args.until is not None else time.time()
    if until <= args.since:
        raise CommandError("--until must be after --since")
    progress = Progress(sys.stderr)
    if args.output is None:
        count = await export(store, args.since, until, args.account, sys.stdout, args.format,
                             progress)
        sys.stdout.flush()
    else:
        target = Path(args.output)
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as out:
                count = await export(store, args.since, until, args.account, out,
                                     args.format, progress)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    progress.done()
    if args.output is not None:
        print(f"{count:,} CDRs written to {args.output}", file=sys.stderr)
    return 0


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
