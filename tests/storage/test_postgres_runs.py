"""An accept run on PostgreSQL (messages.accept_many, on a cursor in a transaction): one
debit per account, every message stored, and the owners' last ids raised, never lowered."""
from __future__ import annotations

from decimal import Decimal

import pytest_twisted
from contract import make_account, make_message

from gateway.storage.postgres import cluster, messages
from gateway.storage.postgres.connection import connect
from gateway.storage.postgres.store import PostgresStore


def _reactor():
    from twisted.internet import reactor  # the one pytest-twisted installed

    return reactor


@pytest_twisted.ensureDeferred
async def test_an_accept_run_debits_once_per_account_and_raises_each_owners_last_id(
        postgres_url):
    store = PostgresStore(postgres_url, _reactor())
    await store.add_account(make_account("acme", balance="1"))
    await store.add_account(make_account("beta", balance="1"))
    await store.close()
    conn = connect(postgres_url)
    try:
        cur = conn.cursor()
        mine, other = (cluster.join_cluster(cur, n, 1.0e9) for n in (7, 8))

        def run(calls):
            cur.execute("BEGIN")
            assert messages.accept_many(cur, calls) == [True] * len(calls)
            cur.execute("COMMIT")

        run([("acme", [make_message("9", owner=mine)], Decimal("0.25")),
             ("beta", [make_message("12", owner=other)], Decimal("0.5")),
             ("acme", [make_message("10", owner=mine), make_message("11", owner=mine)],
              Decimal("0.5"))])
        balances = dict(cur.execute("SELECT system_id, balance FROM accounts").fetchall())
        assert balances == {"acme": 250_000, "beta": 500_000}  # micro-units
        lasts = dict(cur.execute(
            "SELECT owner, last_message_id FROM nodes WHERE owner = ANY(%s)", ([mine, other],)
        ).fetchall())
        assert lasts == {mine: "12", other: "12"}  # the run's greatest, for each owner
        assert messages.last_message_id(cur) == "12"
        for n in ("9", "10", "11", "12"):
            assert messages.get_message(cur, n) is not None
        run([("acme", [make_message("8", owner=mine)], Decimal(0))])  # a lower id
        lasts = dict(cur.execute(
            "SELECT owner, last_message_id FROM nodes WHERE owner = ANY(%s)", ([mine, other],)
        ).fetchall())
        assert lasts == {mine: "12", other: "12"}
    finally:
        conn.close()
