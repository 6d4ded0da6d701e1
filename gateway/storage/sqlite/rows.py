"""Many rows per statement, for the `*_many` runs of the group-commit writer.

The writer thread gives up the GIL around every sqlite3_step and must win it back from a
busy reactor thread (see group_commit.py), so the `*_many` functions put a run's rows into
a few multi-row statements, each one step, rather than executemany's step per row.
"""
from __future__ import annotations

import sqlite3
from functools import cache

__all__ = ["ROWS_PER_STATEMENT", "execute_rows", "placeholders"]

ROWS_PER_STATEMENT = 64  # 64 rows x 25 columns = 1,600 parameters; SQLite allows 32,766


def placeholders(columns: int) -> str:
    """'(?, ?, ...)' for one row of `columns` values."""
    return "(" + ", ".join(["?"] * columns) + ")"


@cache
def _rows_sql(template: str, row_placeholders: str, count: int) -> str:
    return template.format(rows=", ".join([row_placeholders] * count))


def execute_rows(cur: sqlite3.Cursor, template: str, row_placeholders: str,
                 rows: list) -> None:
    """Run `template` for `rows`, its {rows} standing for one `row_placeholders` per row.

    Chunks hold ROWS_PER_STATEMENT rows, or a smaller power of two for the rest: a run of
    any length takes a few statements, and each kind has at most 7 distinct ones to prepare
    and keep in the statement cache.
    """
    start, end = 0, len(rows)
    while start < end:
        count = min(ROWS_PER_STATEMENT, 1 << ((end - start).bit_length() - 1))
        chunk = rows[start:start + count]
        cur.execute(_rows_sql(template, row_placeholders, count),
                    [value for row in chunk for value in row])
        start += count
