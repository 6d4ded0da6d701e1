"""The UpstreamStore contract on both SQLite front-ends."""
from __future__ import annotations

import pytest
from test_sqlite_store import _reactor, _SyncStore
from upstream_contract import UpstreamStoreContract

from gateway.storage.sqlite import SqliteDatabase, SqliteStore


class _Fixtures:
    @pytest.fixture
    def stores(self, open_store):
        import pytest_twisted

        opened = []

        def open_():
            store = open_store()
            opened.append(store)
            return store

        yield open_
        for store in opened:
            pytest_twisted.blockon(store.close())

    @pytest.fixture
    def store(self, stores):
        return stores()


class TestSqliteStoreUpstream(_Fixtures, UpstreamStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: SqliteStore(tmp_path / "smsgw.db", _reactor())


class TestSqliteDatabaseUpstream(_Fixtures, UpstreamStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: _SyncStore(SqliteDatabase(tmp_path / "smsgw.db"))
