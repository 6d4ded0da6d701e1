"""The HTTP API against the real gateway over loopback: send → status → balance with the
right price for 1-3 parts in GSM7 and UCS2, 402 on an empty balance, idempotent retries
across a restart, and the bridge: an HTTP message's receipt reaches the account's SMPP
receiver bind."""
from __future__ import annotations

import os
import socket
import stat
import threading
from decimal import Decimal

import pytest
from gateway_harness import Esme, HttpClient, receipt_fields, wait_for

pytestmark = pytest.mark.integration

GATEWAY_CONFIG = {"price_per_part": "0.05"}
ROUTE_PRICE = Decimal("0.07")  # per part to 4917..., set through the admin API


def _admin(gateway) -> HttpClient:
    return HttpClient(gateway, bearer=gateway.admin_token)


def _wait_final(client: HttpClient, message_id: str) -> dict:
    def final():
        status, body, _ = client.call("GET", f"/api/v1/messages/{message_id}")
        assert status == 200, body
        return body if body["timeline"]["final"] else None
    return wait_for(final, 10, message=f"message {message_id} final")


def test_admin_token_file_is_private(gateway):
    mode = stat.S_IMODE(os.stat(gateway.data_dir / "admin-token").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(("text", "parts", "encoding"), [
    ("a" * 160, 1, "gsm7"), ("a" * 161, 2, "gsm7"), ("{" * 154, 3, "gsm7"),  # { is 2 septets
    ("ж" * 70, 1, "ucs2"), ("ж" * 71, 2, "ucs2"), ("ж" * 134 + "😀", 3, "ucs2"),  # 136 units
])
def test_send_status_and_balance_drop_by_the_route_price(gateway, new_account, text, parts,
                                                         encoding):
    system_id, password = new_account(balance="10")
    admin = _admin(gateway)
    status, _, _ = admin.call("PUT", "/admin/v1/prices", {
        "account": system_id, "prefix": "4917", "price": str(ROUTE_PRICE)})
    assert status == 200
    client = HttpClient(gateway, basic=(system_id, password))
    wait_for(lambda: client.call("POST", "/api/v1/messages?dry_run=true", {
        "to": "4917000001", "text": "x"})[1]["total_price"] == "0.070000", 5,
        message="the gateway to load the new price")
    status, body, _ = client.call("POST", "/api/v1/messages",
                                  {"to": "+4917000001", "text": text, "dlr": True})
    assert status == 202, body
    [sent] = body["messages"]
    assert (sent["parts"], sent["encoding"]) == (parts, encoding)
    expected = Decimal(10) - ROUTE_PRICE * parts
    assert Decimal(body["balance"]) == expected
    final = _wait_final(client, sent["id"])
    assert final["state"] == "DELIVERED" and final["parts"] == parts
    assert Decimal(final["price"]) == ROUTE_PRICE * parts
    assert final["timeline"]["accepted"] <= final["timeline"]["sent"] <= \
        final["timeline"]["final"]
    status, balance, _ = client.call("GET", "/api/v1/balance")
    assert Decimal(balance["balance"]) == expected == gateway.balance(system_id)


def test_empty_balance_is_402_and_nothing_is_stored(gateway, new_account):
    system_id, password = new_account(balance="0")
    client = HttpClient(gateway, basic=(system_id, password))
    status, body, _ = client.call("POST", "/api/v1/messages", {"to": "4917000001", "text": "x"})
    assert status == 402
    assert body["error"]["code"] == "ESME_RINVBALANCE"
    assert body["error"]["command_status"] == "0x40B"
    assert gateway.query_db("SELECT count(*) FROM messages WHERE account = ?",
                            (system_id,)) == [(0,)]


def test_http_message_receipt_arrives_over_the_accounts_smpp_receiver_bind(gateway,
                                                                          new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password, kind="receiver") as receiver:
        client = HttpClient(gateway, basic=(system_id, password))
        status, body, _ = client.call("POST", "/api/v1/messages", {
            "to": "4917000001", "from": "4930111", "text": "bridge " + "x" * 200,
            "dlr": True})
        assert status == 202
        message_id = body["messages"][0]["id"]
        receipts = receiver.wait_receipts([message_id])
        fields = receipt_fields(receipts[message_id])
        assert fields["stat"] == "DELIVRD" and fields["sub"] == "002"


def test_api_key_from_the_admin_api_sends(gateway, new_account):
    system_id, _ = new_account()
    status, issued, _ = _admin(gateway).call("POST", f"/admin/v1/accounts/{system_id}/api-keys",
                                             {"label": "ci"})
    assert status == 201
    client = HttpClient(gateway, bearer=issued["key"])
    status, body, _ = client.call("POST", "/api/v1/messages", {"to": "4917000001", "text": "k"})
    assert status == 202


def test_oversized_body_is_413_and_the_gateway_lives(gateway, new_account):
    system_id, password = new_account()
    with socket.create_connection((gateway.host, gateway.http_port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/messages HTTP/1.1\r\nHost: gw\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
                     + b"x" * 65536)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    with socket.create_connection((gateway.host, gateway.http_port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/messages HTTP/1.1\r\nHost: gw\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(40):  # 2.5 MiB, past the 1 MiB default cap
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway hung up after answering
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    client = HttpClient(gateway, basic=(system_id, password))
    assert client.call("GET", "/api/v1/balance")[0] == 200
    assert "Traceback" not in gateway.log()


def test_idempotent_retry_across_a_restart_sends_and_charges_once(start_gateway):
    gw = start_gateway(GATEWAY_CONFIG)
    system_id, password = gw.add_account(None, "secret1", "1", "--throughput", "0")
    request = {"to": ["4917000001", "4917000002"], "text": "pay once"}
    key = {"idempotency-key": "order-2026-0001"}
    status, first, _ = HttpClient(gw, basic=(system_id, password)).call(
        "POST", "/api/v1/messages", request, headers=key)
    assert status == 202
    gw.restart()
    status, again, headers = HttpClient(gw, basic=(system_id, password)).call(
        "POST", "/api/v1/messages", request, headers=key)
    assert status == 202 and again == first
    assert headers.get("idempotent-replayed") == "true"
    assert gw.balance(system_id) == Decimal("0.9")
    assert gw.query_db("SELECT count(*) FROM messages WHERE account = ?",
                       (system_id,)) == [(2,)]


def test_cli_prices_and_keys_apply_to_the_running_gateway(gateway, new_account):
    system_id, _ = new_account()
    out = gateway.run_cli("apikey", "issue", system_id).stdout
    key_id, key = out.split()[2], out.splitlines()[1]
    client = HttpClient(gateway, bearer=key)
    gateway.run_cli("price", "set", "--account", system_id, "--prefix", "33", "0.11")

    def quoted() -> str:
        status, body, _ = client.call("POST", "/api/v1/messages", {
            "to": "33612345678", "text": "x", "dry_run": True})
        assert status == 200, body
        return body["total_price"]

    wait_for(lambda: quoted() == "0.110000", 10, message="the CLI price to apply")
    gateway.run_cli("apikey", "revoke", system_id, key_id)
    wait_for(lambda: client.call("GET", "/api/v1/balance")[0] == 401, 10,
             message="the revoked key to be refused")


def test_odd_requests_get_json_4xx_never_5xx(gateway, new_account):
    system_id, password = new_account()
    client = HttpClient(gateway, basic=(system_id, password))
    for method, path in [("GET", "/api/v1/messages/%ff"), ("OPTIONS", "/api/v1/messages"),
                         ("GET", "/api/v1/messages/%00"), ("GET", "/api/v1"),
                         ("PUT", "/api/v1/balance")]:
        status, body, _ = client.call(method, path)
        assert 400 <= status < 500 and "error" in body, (method, path, status)
    status, body, _ = client.call("POST", "/api/v1/messages", raw=(
        b'{"to": "4917000001", "text": "hi", "client_ref": "\\ud800"}'))
    assert status == 400 and body["error"]["field"] == "client_ref"


def test_concurrent_retries_under_one_key_send_and_charge_once(gateway, new_account):
    system_id, password = new_account(balance="1")
    request = {"to": "4917000001", "text": "exactly once"}
    key = {"idempotency-key": f"race-{system_id}"}
    answers: list = []

    def post() -> None:
        answers.append(HttpClient(gateway, basic=(system_id, password)).call(
            "POST", "/api/v1/messages", request, headers=key))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [status for status, _, _ in answers] == [202] * 6
    assert len({body["messages"][0]["id"] for _, body, _ in answers}) == 1
    assert gateway.balance(system_id) == Decimal("0.95")
    assert gateway.query_db("SELECT count(*) FROM messages WHERE account = ?",
                            (system_id,)) == [(1,)]


def test_a_message_submitted_over_smpp_has_its_status_over_http(gateway, new_account):
    system_id, password = new_account()
    with Esme(gateway, system_id, password) as esme:
        message_id = esme.submit_ok(text=b"over smpp")
    final = _wait_final(HttpClient(gateway, basic=(system_id, password)), message_id)
    assert final["state"] == "DELIVERED" and final["to"] == "4917000000"
