"""Fault drills for the upstream path: B restarted mid-load, B throttling, an upstream
answering slowly, one dropping the connection with submits outstanding. Afterwards every
message A accepted has exactly one final state and one receipt to the customer, no
customer is charged twice, and the counts reconcile."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from fake_upstream import Act, FakeUpstream
from gateway_harness import Esme, receipt_fields, wait_for
from upstream_helpers import chain, connector_health

pytestmark = pytest.mark.integration

PRICE = Decimal("0.05")


def _reconcile(a, system_id: str, ids: list[str], receipts: dict, start_balance: Decimal,
               refunded: int = 0) -> dict[str, int]:
    """Every id: one final state in A's store, one receipt; balance charged once each."""
    assert len(set(ids)) == len(ids)
    states = dict(a.query_db(f"SELECT id, state FROM messages WHERE account = '{system_id}'"))
    assert set(states) == set(ids)
    assert all(state >= 2 for state in states.values()), "a message was left unfinished"
    assert set(receipts) == set(ids)
    stats: dict[str, int] = {}
    for f in receipts.values():
        stats[f["stat"]] = stats.get(f["stat"], 0) + 1
    assert a.balance(system_id) == start_balance - PRICE * (len(ids) - refunded)
    return stats


def _submit_all(esme: Esme, count: int, tag: str) -> list[str]:
    return [esme.submit_ok("4917000000", f"{tag} {i:04d}".encode()) for i in range(count)]


def test_b_restarted_mid_load(start_gateway):
    b = start_gateway({"simulator": {"delay": 0.05}})
    a = start_gateway()
    account_on_b = chain(a, b)
    system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
    with Esme(a, system_id, password) as esme:
        ids = _submit_all(esme, 40, "before")
        b.restart()
        ids += _submit_all(esme, 40, "during")  # accepted by A while B is down or binding
        receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
    stats = _reconcile(a, system_id, ids, receipts, Decimal(100))
    assert stats.get("DELIVRD", 0) + stats.get("UNKNOWN", 0) == 80
    # B never got one of A's messages twice
    bodies = [r[0] for r in b.query_db("SELECT body FROM messages WHERE account = ?",
                                       (account_on_b,))]
    assert len(bodies) == len(set(bodies))
    # every message A recorded as accepted upstream is one B holds
    submitted = a.query_db("SELECT count(*) FROM upstream_messages WHERE status = 'submitted'")
    assert submitted[0][0] == stats.get("DELIVRD", 0) <= len(bodies)


def test_b_throttling_backs_off_and_everything_arrives_once(start_gateway):
    b = start_gateway({"simulator": {"delay": 0.01}})
    a = start_gateway()
    account_on_b = chain(a, b, b_options=("--throughput", "20"),
                         options=("--throttle-backoff", "0.2"))
    system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
    with Esme(a, system_id, password) as esme:
        ids = _submit_all(esme, 60, "throttled")
        receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
    assert _reconcile(a, system_id, ids, receipts, Decimal(100)) == {"DELIVRD": 60}
    assert b.query_db("SELECT count(*) FROM messages WHERE account = ?",
                      (account_on_b,))[0][0] == 60
    health = wait_for(lambda: (h := connector_health(a, "b"))["counters"]["receipts"] == 60
                      and h, 10, message="health")
    assert health["counters"]["retried"] > 0  # B did throttle


def _fake_chain(a, fake: FakeUpstream, *options: str) -> None:
    a.run_cli("connector", "add", "fake", "--host", "127.0.0.1", "--port", str(fake.port),
              "--system-id", "x", "--password", "y", "--reconnect-max", "1", *options)
    a.run_cli("route", "add", "", "--connector", "fake")
    wait_for(lambda: (connector_health(a, "fake") or {}).get("up"), 20, message="bound")


def test_upstream_answering_slowly_within_the_timeout_delivers_everything(start_gateway):
    fake = FakeUpstream(lambda n: Act("ok", delay=0.2))
    try:
        a = start_gateway()
        _fake_chain(a, fake, "--response-timeout", "5", "--window", "5")
        system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
        with Esme(a, system_id, password) as esme:
            ids = _submit_all(esme, 15, "slow")
            receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
        assert _reconcile(a, system_id, ids, receipts, Decimal(100)) == {"DELIVRD": 15}
        assert len(fake.received) == 15
    finally:
        fake.close()


def test_upstream_dropping_the_connection_with_submits_outstanding(start_gateway):
    # submits 5-9 are left unanswered, the 10th drops the connection; the rest are answered
    fake = FakeUpstream(lambda n: Act("silent") if 5 <= n < 9 else
                        Act("drop") if n == 9 else Act("ok"))
    try:
        a = start_gateway()
        _fake_chain(a, fake, "--window", "20", "--response-timeout", "30")
        system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
        with Esme(a, system_id, password) as esme:
            ids = _submit_all(esme, 30, "drop")
            receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
        stats = _reconcile(a, system_id, ids, receipts, Decimal(100))
        # nothing was sent twice: no body reached the upstream more than once (submits
        # written just before the drop may never have been read by it: those, like the
        # unanswered ones, end UNKNOWN and are not sent again)
        assert len(fake.received) == len(set(fake.received)) <= 30
        # the ones whose answer never came end UNKNOWN; the others were delivered
        assert stats["UNKNOWN"] >= 5 and stats["UNKNOWN"] + stats["DELIVRD"] == 30
        assert stats["DELIVRD"] == len(fake.accepted)
        assert fake.connections >= 2
    finally:
        fake.close()


def test_upstream_answering_after_the_timeout_is_not_resent(start_gateway):
    fake = FakeUpstream(lambda n: Act("ok", delay=3.0) if n == 0 else Act("ok"))
    try:
        a = start_gateway()
        _fake_chain(a, fake, "--response-timeout", "1", "--window", "1")
        system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
        with Esme(a, system_id, password) as esme:
            ids = _submit_all(esme, 3, "late")
            receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
        stats = _reconcile(a, system_id, ids, receipts, Decimal(100))
        assert receipts[ids[0]]["stat"] == "UNKNOWN" and stats["DELIVRD"] == 2
        assert len(fake.received) == 3
    finally:
        fake.close()


assert threading  # the fake upstream serves from threads


def test_a_killed_mid_load_recovers_without_sending_twice(start_gateway):
    b = start_gateway({"simulator": {"delay": 0.5}})
    a = start_gateway()
    account_on_b = chain(a, b)
    system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
    with Esme(a, system_id, password) as esme:
        ids = _submit_all(esme, 30, "crash")
        early = list(esme.receipts)  # on a slow machine the first ones come back already
    a.kill()  # receipts from B are in flight; some submits may be too
    a.start()
    wait_for(lambda: (connector_health(a, "b") or {}).get("up"), 20, message="rebound")
    with Esme(a, system_id, password) as esme:
        esme.receipts.extend(early)
        receipts = {i: receipt_fields(r) for i, r in esme.wait_receipts(ids, 60).items()}
    stats = _reconcile(a, system_id, ids, receipts, Decimal(100))
    bodies = [r[0] for r in b.query_db("SELECT body FROM messages WHERE account = ?",
                                       (account_on_b,))]
    assert len(bodies) == len(set(bodies)), "B got one of A's messages twice"
    assert stats.get("DELIVRD", 0) + stats.get("UNKNOWN", 0) == 30
