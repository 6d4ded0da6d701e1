"""BacklogStore (gateway/storage/sqlite_backlog.py) against its contract, on SQLite."""
from __future__ import annotations

import pytest
import pytest_twisted
from contract_backlog import BacklogStoreContract
from twisted.internet import reactor

from gateway.storage.sqlite import SqliteStore


class TestSqliteBacklogContract(BacklogStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        store = SqliteStore(tmp_path / "smsgw.db", reactor)
        yield store
        pytest_twisted.blockon(store.close())
