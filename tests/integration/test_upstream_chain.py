"""Two gateways chained on loopback: customers bind to A, A routes through its upstream
SMPP connector to B (B's default is the simulator); receipts come back to the customer on
A carrying A's ids. Plain TCP, TLS with verification against a CA file, and TLS with the
verification opt-out."""
from __future__ import annotations

import time

import pytest
from gateway_harness import Esme, receipt_fields, wait_for
from upstream_helpers import chain, connector_health, final_states

pytestmark = pytest.mark.integration

FAST_B = {"simulator": {"delay": 0.01}}
NUMBER = "4915550009"
HANDSET = "4917699999999"
LONG_MO = "Reply from the handset, long enough for three parts. " * 6


def _mo_reaches_a(a, b, account_on_b: str) -> None:
    """B's simulator sends an MO (3 parts, last first) to a number B gives A's connector
    account; A gives it to its own customer, who gets it over SMPP."""
    customer = a.add_account(None, "secret1", "10", "--throughput", "0")
    assert b.admin("POST", "/admin/v1/numbers/", {"number": NUMBER,
                                                    "account": account_on_b})[0] == 201
    assert a.admin("POST", "/admin/v1/numbers/", {"number": NUMBER,
                                                    "account": customer[0]})[0] == 201
    with Esme(a, *customer, kind="receiver") as esme:
        status, body = b.admin("POST", "/admin/v1/inbound/", {
            "from": HANDSET, "to": NUMBER, "text": LONG_MO, "order": "reverse"})
        assert (status, body["injected"]) == (202, 3), body
        wait_for(lambda: esme.drain(0.2) or len(esme.receipts) >= 3, 15,
                 message="the MO on A")
        parts = [bytes(p.short_message) for p in esme.receipts]
    assert len(parts) == 3 and [p[5] for p in parts] == [1, 2, 3]
    assert b"".join(p[6:] for p in parts).decode() == LONG_MO


def _send_and_collect(a, count: int, destination: str = "4917000001") -> dict[str, dict]:
    system_id, password = a.add_account(None, "secret1", "100", "--throughput", "0")
    with Esme(a, system_id, password) as esme:
        ids = [esme.submit_ok(destination, f"msg {i}".encode()) for i in range(count)]
        receipts = esme.wait_receipts(ids, timeout=30)
    return {i: receipt_fields(r) for i, r in receipts.items()}


def test_receipts_come_back_through_the_chain_with_a_ids(start_gateway):
    b = start_gateway(FAST_B)
    a = start_gateway()
    account_on_b = chain(a, b)
    fields = _send_and_collect(a, 20)
    assert len(fields) == 20
    for our_id, f in fields.items():
        assert f["id"] == our_id and f["receipted_message_id"] == our_id
        assert f["stat"] == "DELIVRD"
    # B saw every message once, from A's account; A's ids are not B's
    b_ids = {row[0] for row in b.query_db("SELECT id FROM messages WHERE account = ?",
                                          (account_on_b,))}
    assert len(b_ids) == 20
    a_upstream = dict(a.query_db("SELECT message_id, upstream_id FROM upstream_messages"))
    assert set(a_upstream) == set(fields) and set(a_upstream.values()) == b_ids
    assert set(final_states(a).values()) == {2}
    # the health snapshot (written every 2 s) counts them too
    health = wait_for(lambda: (h := connector_health(a, "b"))["counters"]["receipts"] == 20
                      and h, 10, message="health counters")
    assert health["counters"]["unknown"] == 0 and health["counters"]["submitted"] == 20
    _mo_reaches_a(a, b, account_on_b)


def test_b_rejection_ends_the_message_rejectd_with_the_error_and_a_refund(start_gateway):
    b = start_gateway(FAST_B)
    a = start_gateway()
    chain(a, b, b_balance="0")  # B answers every submit ESME_RINVBALANCE (0x40B)
    system_id, password = a.add_account(None, "secret1", "10", "--throughput", "0")
    with Esme(a, system_id, password) as esme:
        message_id = esme.submit_ok("4917000002", b"no credit upstream")
        f = receipt_fields(esme.wait_receipts([message_id], timeout=15)[message_id])
    assert f["stat"] == "REJECTD" and f["err"] == "999"  # 3 digits; the TLV has it all
    assert f["network_error_code"][1:] == (0x40B).to_bytes(2, "big")
    wait_for(lambda: a.balance(system_id) == 10, 10, message="refund on A")
    assert a.query_db("SELECT state, error_code FROM messages WHERE id = ?",
                      (message_id,)) == [(8, 0x40B)]


def test_a_route_that_does_not_match_stays_on_the_simulator(start_gateway):
    b = start_gateway(FAST_B)
    a = start_gateway()
    chain(a, b, prefix="4917")
    fields = _send_and_collect(a, 3, destination="3312345678")
    assert {f["stat"] for f in fields.values()} == {"DELIVRD"}
    assert b.query_db("SELECT count(*) FROM messages")[0][0] == 0
    assert a.query_db("SELECT count(*) FROM upstream_messages")[0][0] == 0


@pytest.mark.parametrize("mode", ["verify-name", "verify-ip", "opt-out"])
def test_chain_over_tls(start_gateway, mode):
    b = start_gateway(FAST_B, tls=True)
    a = start_gateway()
    cert, _ = b.tls
    options = {
        "verify-name": ("--tls", "--server-name", "localhost", "--ca-file", str(cert)),
        "verify-ip": ("--tls", "--ca-file", str(cert)),  # host 127.0.0.1 vs the IP SAN
        "opt-out": ("--tls", "--no-tls-verify"),
    }[mode]
    account_on_b = chain(a, b, port=b.tls_port, options=options)
    fields = _send_and_collect(a, 5)
    assert {f["stat"] for f in fields.values()} == {"DELIVRD"}
    _mo_reaches_a(a, b, account_on_b)


def test_tls_verification_refuses_a_certificate_for_another_name(start_gateway):
    b = start_gateway(FAST_B, tls=True)
    a = start_gateway()
    cert, _ = b.tls
    b.add_account("upstrm", "uppass", "1000", "--throughput", "0")
    a.run_cli("connector", "add", "b", "--host", b.host, "--port", str(b.tls_port),
              "--system-id", "upstrm", "--password", "uppass", "--tls",
              "--server-name", "not-that-host.example", "--ca-file", str(cert),
              "--reconnect-max", "1")
    a.run_cli("route", "add", "", "--connector", "b")
    wait_for(lambda: connector_health(a, "b") is not None, 10, message="health snapshot")
    time.sleep(3)  # several reconnect attempts, each refused by the TLS handshake
    assert not connector_health(a, "b")["up"]
    assert b.query_db("SELECT count(*) FROM messages")[0][0] == 0
