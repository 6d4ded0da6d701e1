"""The CdrStore and OpsStore contract on both SQLite front-ends, and the SQLite query plans
that keep CDR pages and message search off full table scans."""
from __future__ import annotations

import pytest
from contract_cdrs import CdrStoreContract
from test_sqlite_store import _reactor, _SyncStore
from test_sqlite_upstream import _Fixtures

from gateway.storage.sqlite import SqliteDatabase, SqliteStore
from gateway.storage.sqlite_cdrs import _CDR_SQL_ACCOUNT, _FIND_MESSAGES, CDR_SQL


class TestSqliteStoreCdrs(_Fixtures, CdrStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: SqliteStore(tmp_path / "smsgw.db", _reactor())


class TestSqliteDatabaseCdrs(_Fixtures, CdrStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: _SyncStore(SqliteDatabase(tmp_path / "smsgw.db"))


def _plan(db: SqliteDatabase, sql: str, params: dict) -> str:
    return " | ".join(row[-1] for row in db.connection.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                               params))


@pytest.mark.parametrize("sql", [CDR_SQL, _CDR_SQL_ACCOUNT])
def test_cdr_pages_seek_in_the_final_time_index(tmp_path, sql):
    with SqliteDatabase(tmp_path / "smsgw.db") as db:
        plan = _plan(db, sql, {"low": 1.0, "until": 2.0, "after_done": 1.0, "after_id": "",
                               "limit": 10, "account": "acme"})
    assert "USING INDEX messages_final (done_at>? AND done_at<?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives the order: no sort


def test_message_search_reads_a_primary_key_range(tmp_path):
    with SqliteDatabase(tmp_path / "smsgw.db") as db:
        plan = _plan(db, _FIND_MESSAGES, {"low": "4", "length": 18, "number": "49",
                                          "limit": 10})
    assert "USING PRIMARY KEY (id>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
