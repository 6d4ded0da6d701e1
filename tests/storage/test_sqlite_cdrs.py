"""The SQLite query plans that keep CDR pages and message search off full table scans (the
CdrStore and OpsStore contract runs with every store contract, in test_sqlite_store.py)."""
from __future__ import annotations

import pytest
from test_sqlite_store import run

from gateway.storage.sqlite.reports import _CDR_SQL_ACCOUNT, _FIND_MESSAGES, CDR_SQL


def _plan(path, sql: str, params: dict) -> str:
    rows = run(path, lambda cur: cur.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize("sql", [CDR_SQL, _CDR_SQL_ACCOUNT])
def test_cdr_pages_seek_in_the_final_time_index(tmp_path, sql):
    plan = _plan(tmp_path / "smsgw.db", sql, {
        "low": 1.0, "until": 2.0, "after_done": 1.0, "after_id": "", "limit": 10,
        "account": "acme"})
    assert "USING INDEX messages_final (done_at>? AND done_at<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort


def test_message_search_reads_a_primary_key_range(tmp_path):
    plan = _plan(tmp_path / "smsgw.db", _FIND_MESSAGES,
                 {"low": "4", "length": 18, "number": "49", "limit": 10})
    assert "USING PRIMARY KEY (id>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
