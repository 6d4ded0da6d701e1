"""PostgreSQL for the tests: every test run gets a fresh database of its own, and every test
that asks for `postgres_url` a fresh schema in it (dropped afterwards).

PostgreSQL is part of the test suite, not an option: where it cannot be reached the
tests that need it fail (with how to start it), they are never skipped. The server is
SMSGW_TEST_POSTGRES (a postgresql:// URL of a user that may create databases), by default
the machine's own on 127.0.0.1:5432 as user postgres.
"""
from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

SERVER = os.environ.get("SMSGW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_SCHEMAS = itertools.count(1)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def _with_schema(url: str, schema: str) -> str:
    """`url` with search_path set to `schema` (the store creates its tables there)."""
    options = quote(f"-csearch_path={schema}")
    return f"{url}?options={options}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database made for this test run (this worker's, under xdist)."""
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        pytest.fail(f"PostgreSQL is needed by the tests and is not reachable at {SERVER}: {e}"
                    "\nstart it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or "
                    "set SMSGW_TEST_POSTGRES", pytrace=False)
    name = f"smsgw_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(SERVER, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema of the run's database."""
    schema = f"t{next(_SCHEMAS)}"
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield _with_schema(postgres_database, schema)
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
