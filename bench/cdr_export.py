"""CDR export benchmark: `smsgw cdr export` of a store holding N final messages.

    python bench/cdr_export.py [--rows 1000000] [--format csv|jsonl] [--keep]

Fills a fresh SQLite store (a temporary data directory) with `--rows` messages in a final
state, a tenth of them sent through an upstream connector (so the export joins their
upstream ids), then runs the CLI as a subprocess writing to a file, and reports its wall
time, rows per second, the file's size and the subprocess's peak RSS (from wait4's
rusage): the export streams page by page, so the peak stays flat however many rows.
Prints a short table and one JSON line (starting with `{"bench": "cdr_export"`).
Not a test: the numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing it

from gateway.storage.sqlite import connection  # noqa: E402

T0 = 1_796_083_200.0  # 2026-12-01T00:00:00Z
BATCH = 50_000


def fill(path: Path, rows: int) -> None:
    """`rows` DELIVRD/UNDELIV messages, done over one day, written with plain SQL."""
    conn = connection.connect(path, 5.0)
    conn.execute("INSERT INTO accounts (system_id, password_hash, balance, max_binds,"
                 " throughput, \"window\") VALUES ('acme', '-', 0, 1, 0, 10)")
    insert = ("INSERT INTO messages (id, account, source_ton, source_npi, source_addr,"
              " destination_ton, destination_npi, destination_addr, body, data_coding,"
              " esm_class, protocol_id, priority, registered_delivery, parts, price, state,"
              " error_code, submitted_at, done_at, scheduled_at, expires_at, connector,"
              " transport) VALUES (?, 'acme', 5, 0, 'ACME', 1, 1, ?, x'68656c6c6f', 0, 0,"
              " 0, 0, 1, 1, 50000, ?, ?, ?, ?, NULL, NULL, ?, ?)")
    upstream = ("INSERT INTO upstream_messages (message_id, connector, status, upstream_id,"
                " updated_at) VALUES (?, 'op1', 'submitted', ?, ?)")
    for start in range(0, rows, BATCH):
        conn.execute("BEGIN")
        batch, ups = [], []
        for n in range(start, min(start + BATCH, rows)):
            submitted = T0 + n * 86_400 / rows
            message_id = str(386_000_000_000_000_000 + n)
            via = "op1" if n % 10 == 0 else "simulator"
            batch.append((message_id, f"4917{n % 10_000_000:07d}", 2 if n % 7 else 5,
                          0 if n % 7 else 11, submitted, submitted + 0.05, via,
                          "smpp" if n % 3 else "http"))
            if via == "op1":
                ups.append((message_id, f"{n:x}", submitted))
        conn.executemany(insert, batch)
        conn.executemany(upstream, ups)
        conn.execute("COMMIT")
    conn.close()


def export(data_dir: Path, out: Path, fmt: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (bytes) of one `smsgw cdr export`."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--data-dir", str(data_dir), "cdr", "export",
         "--since", "2026-12-01", "--until", "2026-12-03", "--format", fmt, "-o", str(out)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"cdr export failed: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024  # RSS in kB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--keep", action="store_true", help="keep the data and the export")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cdr_export-"))
    try:
        data_dir = workdir / "data"
        data_dir.mkdir()
        filled = time.perf_counter()
        fill(data_dir / "smsgw.db", args.rows)
        filled = time.perf_counter() - filled
        out = workdir / f"cdrs.{args.format}"
        elapsed, cpu, peak = export(data_dir, out, args.format)
        with open(out, "rb") as f:
            lines = sum(1 for _ in f)
        records = lines - (1 if args.format == "csv" else 0)
        if records != args.rows:
            raise SystemExit(f"exported {records} CDRs, expected {args.rows}")
        summary = {"bench": "cdr_export", "rows": args.rows, "format": args.format,
                   "elapsed_s": round(elapsed, 2), "cpu_s": round(cpu, 2),
                   "rows_per_s": round(args.rows / elapsed),
                   "file_mb": round(out.stat().st_size / 2**20, 1),
                   "peak_rss_mb": round(peak / 2**20, 1), "fill_s": round(filled, 1)}
        print(f"{args.rows:,} CDRs as {args.format}: {elapsed:.1f} s "
              f"({summary['rows_per_s']:,}/s, CPU {cpu:.1f} s), {summary['file_mb']} MB, "
              f"peak RSS {summary['peak_rss_mb']} MB")
        print(json.dumps(summary))
    finally:
        if args.keep:
            print(f"kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
