"""Several gateway nodes on one PostgreSQL database, as an operator runs them: two real
`twistd smsgw` processes (node_id 1 and 2, ports of their own) with `database` set to one
fresh schema, accounts made with the `smsgw` CLI, driven by smpplib and HTTP.

Shared settings, balances drained from both nodes at once, max_binds over the cluster,
receipts crossing nodes, a `kill -9` of a node under load, MO parts arriving on two
nodes, one Idempotency-Key on both nodes, unique ids, and a node_id a live node holds."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psycopg
import pytest
import smpplib.exceptions
from gateway_harness import (
    ESME_RBINDFAIL,
    ESME_RINVBALANCE,
    ESME_ROK,
    Esme,
    Gateway,
    GatewayError,
    HttpClient,
    receipt_fields,
    wait_for,
)
from webhook_receiver import Receiver

pytestmark = pytest.mark.integration

PRICE = Decimal("0.05")
LEASE = 6.0
NODE_CONFIG = {
    "price_per_part": str(PRICE),
    "simulator": {"delay": 0.05},
    "cluster": {"lease": LEASE, "heartbeat_interval": 1.0},
    "receipts": {"poll_interval": 1.0},
    "webhooks": {"retry_initial": 1.0, "poll_interval": 0.5},
}


class Cluster:
    """Nodes on one database; `node(n)` starts node_id n (its own data dir and ports)."""

    def __init__(self, tmp_path, url: str) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.nodes: dict[int, Gateway] = {}

    def node(self, node_id: int, **config) -> Gateway:
        merged = {**NODE_CONFIG, "database": self.url, "node_id": node_id, **config}
        gw = Gateway(self.tmp_path / f"node{node_id}", merged)
        self.nodes[node_id] = gw
        return gw.start(timeout=30)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def close(self) -> None:
        for gw in self.nodes.values():
            gw.close()


@pytest.fixture
def cluster(tmp_path, postgres_url) -> Iterator[Cluster]:
    c = Cluster(tmp_path, postgres_url)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def two(cluster) -> tuple[Gateway, Gateway]:
    return cluster.node(1), cluster.node(2)


def account(gw: Gateway, *options: str, balance: str = "100") -> tuple[str, str]:
    """An account made with `smsgw --database ...` (the node's config names the database)."""
    if not any(o.startswith("--throughput") for o in options):
        options = (*options, "--throughput", "0")
    return gw.add_account(f"c{uuid.uuid4().hex[:8]}", "secret1", balance, *options)


def http(gw: Gateway, system_id: str) -> HttpClient:
    return HttpClient(gw, basic=(system_id, "secret1"))


def bind_status(gw: Gateway, system_id: str, kind: str = "transceiver") -> tuple[int, Esme | None]:
    try:
        return 0, Esme(gw, system_id, "secret1", kind)
    except smpplib.exceptions.PDUError as e:
        return e.args[1], None


# --- shared settings ------------------------------------------------------------------------

def test_a_cli_or_admin_change_on_one_node_reaches_the_other_within_two_seconds(two):
    a, b = two
    system_id, _ = account(a)  # the CLI, on the shared database
    with Esme(b, system_id, "secret1", "transmitter") as esme:  # node B knows it at once
        esme.submit_ok()
    status, _ = a.admin("PUT", "/admin/v1/prices", {
        "account": system_id, "prefix": "4917", "price": "0.08"})
    assert status == 200
    changed = time.monotonic()
    client = http(b, system_id)
    try:
        def priced() -> bool:
            code, body, _ = client.call("POST", "/api/v1/messages", {
                "to": ["4917000000"], "text": "hi", "dry_run": True})
            return code == 200 and Decimal(body["messages"][0]["price"]) == Decimal("0.08")

        wait_for(priced, timeout=2.0, interval=0.1, message="the price on node B")
    finally:
        client.close()
    assert time.monotonic() - changed <= 2.5
    a.run_cli("account", "set", system_id, "--disable")
    wait_for(lambda: bind_status(b, system_id)[0] != 0, timeout=2.5,
             message="the disabled account refused on node B")


# --- balances ---------------------------------------------------------------------------------

def test_concurrent_submits_on_both_nodes_drain_a_balance_to_exactly_zero(cluster, two):
    a, b = two
    system_id, _ = account(a, balance="3")  # 60 messages at 0.05
    outcomes: list[str] = []
    lock = threading.Lock()

    def over_smpp(gw: Gateway) -> None:
        with Esme(gw, system_id, "secret1", "transmitter") as esme:
            sent = [esme.send_submit(registered_delivery=0) for _ in range(40)]
            for request in sent:
                status = esme.response_to(request).status
                with lock:
                    outcomes.append("ok" if status == ESME_ROK else hex(status))

    def over_http(gw: Gateway) -> None:
        client = http(gw, system_id)
        try:
            for _ in range(20):
                code, _, _ = client.call("POST", "/api/v1/messages",
                                         {"to": ["4917000000"], "text": "hi"})
                with lock:
                    outcomes.append("ok" if code == 202 else str(code))
        finally:
            client.close()

    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(over_smpp, a), pool.submit(over_smpp, b),
                  pool.submit(over_http, a), pool.submit(over_http, b)]:
            f.result()
    assert outcomes.count("ok") == 60
    assert set(outcomes) <= {"ok", hex(ESME_RINVBALANCE), "402"}
    assert a.balance(system_id) == Decimal("0.000000")
    [(stored,)] = cluster.sql("SELECT count(*) FROM messages WHERE account = %s", (system_id,))
    assert stored == 60


# --- binds ------------------------------------------------------------------------------------

def test_max_binds_counts_the_whole_cluster_and_a_dead_node_frees_its_binds(two):
    a, b = two
    system_id, _ = account(a, "--max-binds", "2")
    held = [Esme(a, system_id, "secret1"), Esme(a, system_id, "secret1")]
    status, esme = bind_status(b, system_id)
    assert status == ESME_RBINDFAIL and esme is None  # 2 on A + 1 on B
    a.kill()  # kill -9: its binds stay counted until the lease says it is gone
    for e in held:
        e.client.disconnect()
    killed = time.monotonic()
    status, esme = wait_for(lambda: (s := bind_status(b, system_id))[0] == 0 and s,
                            timeout=LEASE + 10, interval=0.5, message="a bind on node B")
    assert time.monotonic() - killed >= 1.0  # not at once: after the lease
    esme.close()


# --- receipts across nodes --------------------------------------------------------------------

def test_a_receipt_goes_to_the_only_receiver_bind_on_the_other_node_once(two):
    a, b = two
    system_id, _ = account(a)
    with Esme(b, system_id, "secret1", "receiver") as receiver, \
            Esme(a, system_id, "secret1", "transmitter") as sender:
        ids = [sender.submit_ok(f"49170000{n:02d}") for n in range(20)]
        receipts = receiver.wait_receipts(ids, timeout=15)
        receiver.drain(2.5)  # a second copy would come within two polls
        assert sorted(receiver.receipt_ids()) == sorted(ids)
    assert all(receipt_fields(r)["stat"] == "DELIVRD" for r in receipts.values())


def test_receivers_on_both_nodes_share_the_receipts_and_get_each_once(two):
    a, b = two
    system_id, _ = account(a, "--max-binds", "4", "--window", "5")
    with Esme(a, system_id, "secret1", "receiver") as ra, \
            Esme(b, system_id, "secret1", "receiver") as rb, \
            Esme(a, system_id, "secret1", "transmitter") as ta, \
            Esme(b, system_id, "secret1", "transmitter") as tb:
        ids = [ta.submit_ok(f"491700{n:04d}") for n in range(100)]
        ids += [tb.submit_ok(f"491710{n:04d}") for n in range(100)]

        def all_in() -> bool:
            ra.drain(0.2)
            rb.drain(0.2)
            return len(ra.receipts) + len(rb.receipts) >= len(ids)

        wait_for(all_in, timeout=30, interval=0.01, message="every receipt")
        ra.drain(2.5)
        rb.drain(2.5)
        got = ra.receipt_ids() + rb.receipt_ids()
    assert sorted(got) == sorted(ids)  # each once
    assert ra.receipts and rb.receipts


# --- a node killed under load -----------------------------------------------------------------

def test_kill_9_of_a_node_loses_no_receipt_and_no_webhook(cluster):
    receiver = Receiver(secret="whsec_cluster_0123456789").start()
    a = cluster.node(1, simulator={"delay": 3.0})  # messages wait at A's simulator...
    b = cluster.node(2)
    try:
        smpp_account, _ = account(a)
        hook_account, _ = account(a, "--webhook-url", receiver.url, "--webhook-secret",
                                  receiver.secret)
        with Esme(b, smpp_account, "secret1", "receiver") as rx, \
                Esme(a, smpp_account, "secret1", "transmitter") as tx:
            ids = [tx.submit_ok(f"49170{n:05d}") for n in range(200)]
            client = http(a, hook_account)
            try:
                code, body, _ = client.call("POST", "/api/v1/messages", {
                    "to": [f"49171{n:05d}" for n in range(100)], "text": "hook me", "dlr": True})
                assert code == 202
                hook_ids = [m["id"] for m in body["messages"]]
            finally:
                client.close()
            a.kill()  # ...when it dies: B adopts them after the lease
            receipts = rx.wait_receipts(ids, timeout=LEASE + 30)
            rx.drain(2.5)
            assert sorted(rx.receipt_ids()) == sorted(ids)  # every one, once
        assert all(receipt_fields(r)["stat"] == "DELIVRD" for r in receipts.values())

        def every_event() -> bool:
            return {d.event["data"]["message_id"] for d in receiver.accepted()} >= set(hook_ids)

        wait_for(every_event, timeout=LEASE + 30, interval=0.2, message="every webhook")
        assert all(d.signature_ok for d in receiver.accepted())
        by_message: dict[str, set[str]] = {}
        for d in receiver.accepted():
            by_message.setdefault(d.event["data"]["message_id"], set()).add(d.event_id)
        assert all(len(events) == 1 for events in by_message.values())  # same event id
    finally:
        receiver.stop()


# --- MO, idempotency, ids ---------------------------------------------------------------------

def test_parts_of_one_mo_arriving_on_two_nodes_are_one_message(two):
    a, b = two
    system_id, _ = account(a)
    number = f"4915{uuid.uuid4().int % 10**8:08d}"
    a.run_cli("number", "add", number, "--account", system_id)
    text = "The quick brown fox jumps over the lazy dog. " * 8  # 3 parts
    with Esme(b, system_id, "secret1", "receiver") as rx:
        wait_for(lambda: a.admin("POST", "/admin/v1/inbound/", {
            "from": "4917612345678", "to": number, "text": text, "ref": 77,
            "drop": [2, 3]})[0] == 202, timeout=3, message="part 1 on node A")
        # node B learns of the number at its own settings reload (a refusal stores nothing)
        wait_for(lambda: b.admin("POST", "/admin/v1/inbound/", {
            "from": "4917612345678", "to": number, "text": text, "ref": 77,
            "drop": [1]})[0] == 202, timeout=10, message="parts 2 and 3 on node B")
        deadline = time.monotonic() + 15
        while len(rx.receipts) < 3 and time.monotonic() < deadline:
            rx.drain(0.2)
        rx.drain(2.5)
    assert len(rx.receipts) == 3  # the three parts, once each, as one whole message
    bodies = [bytes(pdu.short_message) for pdu in rx.receipts]
    joined = b"".join(body[6:] for body in sorted(bodies, key=lambda b: b[5]))
    assert joined.decode("ascii") == text


def test_one_idempotency_key_posted_to_both_nodes_at_once_charges_once(two):
    a, b = two
    system_id, _ = account(a, balance="10")
    key = uuid.uuid4().hex

    def post(gw: Gateway) -> tuple[int, dict]:
        client = http(gw, system_id)
        try:
            code, body, _ = client.call("POST", "/api/v1/messages",
                                        {"to": ["4917000000"], "text": "once"},
                                        headers={"Idempotency-Key": key})
            return code, body
        finally:
            client.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(post, [a, b]))
    assert [code for code, _ in results] == [202, 202]
    assert results[0][1]["messages"] == results[1][1]["messages"]  # the first result, twice
    assert a.balance(system_id) == Decimal("10") - PRICE


def test_message_ids_are_unique_across_nodes_and_a_taken_node_id_refuses_to_start(cluster):
    a, b = cluster.node(1), cluster.node(2)
    system_id, _ = account(a)
    ids = []
    for gw in (a, b, a, b):
        with Esme(gw, system_id, "secret1", "transmitter") as esme:
            ids += [esme.submit_ok(registered_delivery=0) for _ in range(50)]
    b.restart()
    with Esme(b, system_id, "secret1", "transmitter") as esme:
        ids += [esme.submit_ok(registered_delivery=0) for _ in range(50)]
    assert len(set(ids)) == len(ids) == 250
    twin = Gateway(cluster.tmp_path / "twin", {**NODE_CONFIG, "database": cluster.url,
                                               "node_id": 1})
    cluster.nodes[99] = twin
    with pytest.raises(GatewayError, match="node_id"):
        twin.start(timeout=30)
    assert a.alive


def test_webhooks_from_both_nodes_are_each_posted_once(two):
    a, b = two
    receiver = Receiver(secret="whsec_cluster_0123456789").start()
    try:
        system_id, _ = account(a, "--webhook-url", receiver.url, "--webhook-secret",
                               receiver.secret)
        ids = []
        for gw in (a, b):
            client = http(gw, system_id)
            try:
                code, body, _ = client.call("POST", "/api/v1/messages", {
                    "to": [f"4917{n:07d}" for n in range(50)], "text": "hi", "dlr": True})
                assert code == 202
                ids += [m["id"] for m in body["messages"]]
            finally:
                client.close()
        wait_for(lambda: len(receiver.accepted()) >= len(ids), timeout=30,
                 message="a webhook per message")
        time.sleep(2.5)  # two polls of each node: a second copy would be there by now
        posted = [d.event["data"]["message_id"] for d in receiver.accepted()]
        assert sorted(posted) == sorted(ids)
        assert receiver.attempts() == len(ids)
    finally:
        receiver.stop()


def test_a_scheduled_message_of_a_dead_node_is_sent_at_its_time_by_the_other(two):
    a, b = two
    system_id, _ = account(a)
    with Esme(b, system_id, "secret1", "receiver") as rx:
        with Esme(a, system_id, "secret1", "transmitter") as tx:
            at = time.time() + LEASE + 6
            stamp = time.strftime("%y%m%d%H%M%S", time.gmtime(at)) + "0" + "00+"
            message_id = tx.submit_ok(schedule_delivery_time=stamp)
        a.kill()
        receipt = rx.wait_receipts([message_id], timeout=LEASE + 30)[message_id]
        assert time.time() >= at - 1  # not before its time
        assert receipt_fields(receipt)["stat"] == "DELIVRD"
