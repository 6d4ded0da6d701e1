"""The PostgreSQL backend: every store contract, plus what only it does (the node lock of
a running process, migrations once for nodes starting together, a lost connection, an
idempotency key or a bind limit raced from two connections)."""
from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import pytest_twisted
from contract import StoreContract, make_account, make_message, make_outbox
from contract_backlog import BacklogStoreContract
from contract_cdrs import CdrStoreContract
from contract_cluster import ClusterStoreContract
from contract_http import HttpStoreContract
from contract_mo import InboundStoreContract
from contract_webhooks import WebhookStoreContract
from twisted.internet import defer, task
from upstream_contract import UpstreamStoreContract

from gateway.core.ports import NodeIdTaken
from gateway.model import MessageState
from gateway.storage import StoreUnavailable, open_store
from gateway.storage.postgres.store import PostgresStore


def _reactor():
    from twisted.internet import reactor  # the one pytest-twisted installed

    return reactor


class TestPostgresStoreContract(
    StoreContract, HttpStoreContract, WebhookStoreContract, InboundStoreContract,
    UpstreamStoreContract, ClusterStoreContract, BacklogStoreContract, CdrStoreContract,
):
    @pytest.fixture
    def open_store(self, postgres_url):
        return lambda: PostgresStore(postgres_url, _reactor())


@pytest.fixture
def two(postgres_url):
    """Two stores on one database: two nodes."""
    stores = [PostgresStore(postgres_url, _reactor()) for _ in range(2)]
    yield stores
    for store in stores:
        pytest_twisted.blockon(store.close())


@pytest_twisted.ensureDeferred
async def test_a_node_id_held_by_a_running_node_is_refused_until_it_ends(two):
    running, other = two
    first = await running.join_cluster(3, 100.0)
    with pytest.raises(NodeIdTaken, match="node_id 3"):
        await other.join_cluster(3, 101.0)
    assert await other.join_cluster(4, 101.0) > first
    await running.close()  # the process ends: its session's lock goes with it...
    for _ in range(50):  # ...once PostgreSQL has noticed, a moment later
        try:
            assert await other.join_cluster(3, 102.0) > first
            break
        except NodeIdTaken:
            await task.deferLater(_reactor(), 0.1, lambda: None)
    else:
        raise AssertionError("node_id 3 stayed taken after its node ended")


@pytest_twisted.ensureDeferred
async def test_concurrent_debits_from_two_nodes_never_go_below_zero(two):
    a, b = two
    await a.add_account(make_account(balance="1"))
    results = await defer.gatherResults([
        store.accept("acme", [make_message(f"{n}{i}")], Decimal("0.03"))
        for i in range(60) for n, store in enumerate((a, b), 1)])
    assert results.count(True) == 33  # 33 x 0.03 = 0.99
    assert (await a.get_account("acme")).balance == Decimal("0.01")


@pytest_twisted.ensureDeferred
async def test_one_idempotency_key_posted_to_two_nodes_at_once_charges_once(two):
    a, b = two
    await a.add_account(make_account(balance="10"))
    outcomes = await defer.gatherResults([
        store.accept_once("acme", "key-1", "fp", [make_message(f"{n}00")], Decimal(1),
                          f'{{"n": {n}}}', 5.0) for n, store in enumerate((a, b), 1)])
    assert sorted(o.accepted for o in outcomes) == [False, True]
    [earlier] = [o.earlier for o in outcomes if not o.accepted]
    assert earlier is not None and earlier.balance == Decimal(9)
    assert (await a.get_account("acme")).balance == Decimal(9)


@pytest_twisted.ensureDeferred
async def test_binds_raced_on_two_nodes_stop_at_the_limit(two):
    a, b = two
    await a.add_account(make_account())
    owners = [await a.join_cluster(1, 0.0), await b.join_cluster(2, 0.0)]
    results = await defer.gatherResults([
        store.add_bind(owner, n, "acme", "transceiver", 3, 0.0)
        for n in range(10) for store, owner in zip(two, owners, strict=True)])
    assert results.count(True) == 3
    assert await b.count_binds("acme") == 3


@pytest_twisted.ensureDeferred
async def test_an_outbox_item_is_claimed_by_one_of_two_nodes_claiming_at_once(two):
    a, b = two
    await a.add_account(make_account())
    await a.accept("acme", [make_message(str(n)) for n in range(1, 101)], Decimal(0))
    for n in range(1, 101):
        await a.finish(str(n), MessageState.DELIVERED, 0, 1.0, [make_outbox(str(n))])
    claims = await defer.gatherResults([
        store.claim_outbox("acme", owner, 7) for _ in range(10)
        for store, owner in zip(two, (1, 2), strict=True)])
    ids = [item.id for claim in claims for item in claim]
    assert len(ids) == len(set(ids)) == 100


@pytest_twisted.ensureDeferred
async def test_a_lost_connection_fails_its_batch_and_the_next_one_reconnects(postgres_url):
    store = PostgresStore(postgres_url, _reactor())
    try:
        await store.add_account(make_account(balance="1"))
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'smsgw-writer'"
                          " AND datname = current_database()")
        with pytest.raises(psycopg.OperationalError):
            await store.topup("acme", Decimal(1))
        assert await store.topup("acme", Decimal(1)) == Decimal(2)  # reconnected, once
    finally:
        await store.close()


def test_an_unreachable_database_is_refused_naming_it(tmp_path):
    with pytest.raises(StoreUnavailable, match="127.0.0.1:1/"):
        open_store("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path, _reactor())


def test_a_database_that_does_not_exist_is_refused_naming_it(postgres_database, tmp_path):
    url = postgres_database.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StoreUnavailable, match="no_such_database_here"):
        open_store(url, tmp_path, _reactor())
