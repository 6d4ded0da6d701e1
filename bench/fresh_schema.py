"""A PostgreSQL schema of its own for one bench run: each run starts on empty tables and
leaves nothing behind, whatever ran in that database before."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from urllib.parse import quote

import psycopg


def fresh_schema(url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """`url` with its tables in a new schema of that database, and how to drop it."""
    schema = f"{prefix}_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}", drop
