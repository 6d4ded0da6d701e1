"""Operating the real gateway as an operator would: /metrics counters that move by exactly
the traffic sent (smpplib and HTTP), /ready turning 503 while the store cannot commit, the
metrics port and its token, CDRs of a known run through the CLI and the admin API, and a
JSON log of a full run with no secret in it."""
from __future__ import annotations

import csv
import http.client
import io
import json
import socket
import sqlite3

import pytest
from gateway_harness import Esme, Gateway, HttpClient, wait_for
from prometheus_client.parser import text_string_to_metric_families
from webhook_receiver import Receiver

pytestmark = pytest.mark.integration

FAST = {"simulator": {"delay": 0.01}}


def scrape(gw: Gateway, port: int | None = None, token: str | None = None) -> dict:
    """{(sample name, sorted labels): value} of one GET /metrics."""
    status, text = get(gw, "/metrics", port, token)
    assert status == 200, text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def get(gw: Gateway, path: str, port: int | None = None,
        token: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection(gw.host, port or gw.http_port, timeout=10)
    try:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def submit_many(esme: Esme, count: int, window: int = 50) -> list[str]:
    ids = []
    for start in range(0, count, window):
        sent = [esme.send_submit(f"49170{n:07d}", b"metrics %d" % n)
                for n in range(start, min(start + window, count))]
        for request in sent:
            response = esme.response_to(request)
            assert response.status == 0
            ids.append(response.message_id.decode())
    return ids


def send_http(gw: Gateway, account: tuple[str, str], count: int) -> list[str]:
    client = HttpClient(gw, basic=account)
    try:
        ids = []
        for n in range(count):
            status, body, _ = client.call("POST", "/api/v1/messages",
                                          {"to": f"49171{n:07d}", "text": f"http {n}"})
            assert status == 202, body
            ids.append(body["messages"][0]["id"])
        return ids
    finally:
        client.close()


def test_metrics_move_by_exactly_1000_smpp_and_100_http_sends(start_gateway):
    gw = start_gateway(FAST)
    account = gw.add_account(None, "secret1", "1000", "--throughput", "0", "--window", "50")
    before = scrape(gw)
    with Esme(gw, *account) as esme:
        assert scrape(gw)[("smsgw_binds", (("mode", "trx"),))] == 1
        smpp_ids = submit_many(esme, 1000)
        http_ids = send_http(gw, account, 100)
        esme.wait_receipts(smpp_ids, timeout=60)
        after = wait_for(lambda: (m := scrape(gw)) and moved(
            before, m, "smsgw_receipts_sent_total", via="smpp") >= 1000 and moved(
            before, m, "smsgw_messages_final_total", state="DELIVRD") >= 1100 and m,
            timeout=30, message="1,100 final states and 1,000 receipts counted")
    assert len(set(smpp_ids + http_ids)) == 1100
    assert moved(before, after, "smsgw_submits_total", transport="smpp", status="ok") == 1000
    assert moved(before, after, "smsgw_submits_total", transport="http", status="ok") == 100
    assert moved(before, after, "smsgw_messages_final_total", state="DELIVRD") == 1100
    assert moved(before, after, "smsgw_receipts_sent_total", via="smpp") == 1000
    assert moved(before, after, "smsgw_submit_latency_seconds_count") == 1000
    assert after[("smsgw_connector_up", (("connector", "simulator"),))] == 1
    assert after[("smsgw_store_commit_seconds_count", ())] > 0
    assert after[("smsgw_store_batch_size_sum", ())] >= 1100  # every accept was committed
    gone = scrape(gw)
    assert gone[("smsgw_binds", (("mode", "trx"),))] == 0


def test_refused_submits_and_binds_are_counted_by_their_esme_status(start_gateway):
    gw = start_gateway(FAST)
    account = gw.add_account(None, "secret1", "0", "--throughput", "0")
    before = scrape(gw)
    with pytest.raises(Exception):  # noqa: B017 -- smpplib raises its own error type
        Esme(gw, account[0], "wrongpw")
    with Esme(gw, *account) as esme:
        assert esme.submit().status == 0x40B  # no balance
    client = HttpClient(gw, basic=account)
    status, _, _ = client.call("POST", "/api/v1/messages", {"to": "4917000001", "text": "x"})
    client.close()
    assert status == 402
    after = scrape(gw)
    assert moved(before, after, "smsgw_bind_failures_total", status="ESME_RINVPASWD") == 1
    assert moved(before, after, "smsgw_submits_total", transport="smpp",
                 status="ESME_RINVBALANCE") == 1
    assert moved(before, after, "smsgw_submits_total", transport="http",
                 status="ESME_RINVBALANCE") == 1


def test_ready_turns_503_naming_the_store_while_it_cannot_commit_and_back(start_gateway):
    gw = start_gateway(FAST)
    status, body = get(gw, "/ready")
    assert status == 200, body
    assert json.loads(body)["checks"]["connectors"]["ok"]
    blocker = sqlite3.connect(gw.db_path, timeout=10, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock: nothing can commit
    try:
        status, body = get(gw, "/ready")
        answer = json.loads(body)
        assert status == 503, body
        assert answer["failed"] == ["store"]
        assert not answer["ready"]
        assert get(gw, "/health")[0] == 200  # alive all the same
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wait_for(lambda: get(gw, "/ready")[0] == 200, timeout=15, message="ready again")


def test_ready_names_the_connectors_when_every_route_is_down(start_gateway):
    gw = start_gateway(FAST)
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    gw.run_cli("connector", "add", "op1", "--host", "127.0.0.1", "--port", str(dead_port),
               "--system-id", "me", "--password", "pw")
    gw.run_cli("route", "add", "49", "--connector", "op1")
    answer = wait_for(lambda: (r := get(gw, "/ready"))[0] == 503 and json.loads(r[1]),
                      timeout=15, message="/ready 503 once the route exists")
    assert answer["failed"] == ["connectors"]
    assert "op1" in answer["checks"]["connectors"]["detail"]


def test_the_metrics_port_and_token(start_gateway):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "metrics-token-0123456789"
    gw = start_gateway({"metrics": {"port": port, "token": token}})
    gw.wait_log(r"metrics listening on 127\.0\.0\.1:\d+")
    assert get(gw, "/metrics", port)[0] == 401
    assert get(gw, "/metrics", port, "wrong-token-0123456789")[0] == 401
    assert ("smsgw_binds", (("mode", "tx"),)) in scrape(gw, port, token)
    assert ("smsgw_binds", (("mode", "tx"),)) in scrape(gw, None, token)  # HTTP port too
    assert get(gw, "/health", port)[0] == 200
    assert get(gw, "/ready", port)[0] == 200


def test_metrics_off_answers_404_and_the_gateway_works(start_gateway):
    gw = start_gateway({**FAST, "metrics": {"enabled": False}})
    account = gw.add_account(None, "secret1", "10", "--throughput", "0")
    assert get(gw, "/metrics")[0] == 404
    with Esme(gw, *account) as esme:
        esme.wait_receipts([esme.submit_ok()])


def test_cdrs_of_a_known_run_through_the_cli_and_the_admin_api(start_gateway, tmp_path):
    gw = start_gateway({"simulator": {"delay": 0.01, "outcomes": [
        {"prefix": "4915", "state": "UNDELIV", "error_code": 11}]}})
    acme = gw.add_account("acme", "secret1", "100", "--throughput", "0")
    shop = gw.add_account("shop", "secret1", "100", "--throughput", "0")
    with Esme(gw, *acme) as esme:
        smpp = [esme.submit_ok("4917000001"), esme.submit_ok("4915000002")]
        esme.wait_receipts(smpp)
    [http_id] = send_http(gw, shop, 1)
    wait_for(lambda: gw.query_db("SELECT count(*) FROM messages WHERE done_at IS NOT NULL")
             == [(3,)], timeout=10, message="three final messages")
    out = tmp_path / "cdrs.csv"
    gw.run_cli("cdr", "export", "--since", "2024-01-01", "--format", "csv", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["id"] for r in rows] == sorted([*smpp, http_id], key=lambda i: next(
        r["done_at"] for r in rows if r["id"] == i))
    by_id = {r["id"]: r for r in rows}
    assert by_id[smpp[0]] | {"submitted_at": "", "done_at": ""} == {
        "id": smpp[0], "account": "acme", "transport": "smpp", "source": "4930123456",
        "destination": "4917000001", "parts": "1", "encoding": "gsm7", "price": "0.050000",
        "connector": "simulator", "upstream_id": "", "submitted_at": "", "done_at": "",
        "state": "DELIVRD", "error_code": "0"}
    assert (by_id[smpp[1]]["state"], by_id[smpp[1]]["error_code"]) == ("UNDELIV", "11")
    assert (by_id[http_id]["transport"], by_id[http_id]["account"]) == ("http", "shop")
    jsonl = gw.run_cli("cdr", "export", "--since", "2024-01-01", "--account", "shop",
                       "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in jsonl] == [http_id]

    status, page = gw.admin("GET", "/admin/v1/cdrs/?since=2024-01-01T00:00:00Z&limit=2")
    assert status == 200 and len(page["cdrs"]) == 2 and page["next"]
    status, rest = gw.admin("GET", f"/admin/v1/cdrs/?since=2024-01-01&limit=2"
                                   f"&after={page['next']}")
    assert status == 200 and rest["next"] is None
    assert [c["id"] for c in page["cdrs"] + rest["cdrs"]] == [r["id"] for r in rows]
    status, bad = gw.admin("GET", "/admin/v1/cdrs/?since=yesterday")
    assert status == 400 and bad["error"]["field"] == "since"
    status, bad = gw.admin("GET", "/admin/v1/cdrs/?since=0&after=1.5_x")
    assert status == 400 and bad["error"]["field"] == "after"


# --- a JSON log with no secret in it --------------------------------------------------------

ADMIN_TOKEN = "admin-token-Zq8vN3xK1pW7"
SECRETS = {
    "cli account password": "pw5Ecr3t",
    "admin API account password": "s3cRt9pw",
    "wrong bind password": "wR0ngPw1",
    "webhook secret (CLI)": "whsec-cli-4f9a8b7c6d5e",
    "webhook secret (admin API)": "whsec-api-1a2b3c4d5e6f",
    "admin token": ADMIN_TOKEN,
}


def test_a_json_log_of_a_full_run_has_one_object_per_line_and_no_secret(tmp_path):
    receiver = Receiver(secret=SECRETS["webhook secret (CLI)"]).start()
    gw = Gateway(tmp_path / "gw", {**FAST, "admin": {"token": ADMIN_TOKEN},
                                   "log": {"format": "json", "level": "debug"},
                                   "webhooks": {"retry_initial": 0.2, "poll_interval": 0.2}})
    try:
        # accounts before the first start: no demo account, no banner
        gw.add_account("acme", SECRETS["cli account password"], "100", "--throughput", "0",
                       "--webhook-url", receiver.url,
                       "--webhook-secret", SECRETS["webhook secret (CLI)"],
                       "--deliver-via", "both")
        gw.start()
        secrets = dict(SECRETS)
        secrets["API key"] = _full_run(gw, receiver, secrets)
        gw.stop()
    finally:
        gw.close()
        receiver.stop()
    log = gw.log()
    for what, secret in secrets.items():
        assert secret not in log, f"the {what} is in the log"
    events = [json.loads(line) for line in log.splitlines()
              if line.strip() and not line.startswith("----- start")]
    assert all({"time", "level", "event", "message"} <= e.keys() for e in events)
    binds = [e for e in events if e["event"] == "smpp.bind"]
    assert binds and binds[0]["account"] == "acme" and binds[0]["peer"].startswith("127.0.0.1:")
    assert any(e["event"] == "smpp.bind_refused" for e in events)
    assert any(e["event"] == "smpp.unbind" and e["account"] == "acme" for e in events)


def _full_run(gw: Gateway, receiver: Receiver, secrets: dict[str, str]) -> str:
    """Everything that handles a secret: binds (one with a wrong password), SMPP and HTTP
    sends with Basic and Bearer credentials, admin calls (one with a wrong token), an
    account made with a password and webhook secret, an API key issued, webhooks signed."""
    admin = HttpClient(gw, bearer=ADMIN_TOKEN)  # [admin] token: no admin-token file
    status, made, _ = admin.call("POST", "/admin/v1/accounts", {
        "system_id": "shop", "password": secrets["admin API account password"],
        "balance": "10", "throughput": 0, "webhook_url": receiver.url,
        "webhook_secret": secrets["webhook secret (admin API)"]})
    assert status == 201, made
    status, key, _ = admin.call("POST", "/admin/v1/accounts/shop/api-keys", {"label": "shop"})
    assert status == 201, key
    admin.close()
    wrong = HttpClient(gw, bearer="not-the-admin-token-000")
    assert wrong.call("GET", "/admin/v1/accounts")[0] == 401
    wrong.close()
    with pytest.raises(Exception):  # noqa: B017 -- smpplib raises its own error type
        Esme(gw, "acme", secrets["wrong bind password"])
    with Esme(gw, "acme", secrets["cli account password"]) as esme:
        esme.wait_receipts([esme.submit_ok()])
        basic = HttpClient(gw, basic=("acme", secrets["cli account password"]))
        assert basic.call("POST", "/api/v1/messages",
                          {"to": "4917000002", "text": "basic", "dlr": True})[0] == 202
        basic.close()
    bearer = HttpClient(gw, bearer=key["key"])
    assert bearer.call("POST", "/api/v1/messages",
                       {"to": "4917000003", "text": "bearer", "dlr": True})[0] == 202
    bearer.close()
    wait_for(lambda: len(receiver.accepted()) >= 3, timeout=20, message="three webhooks")
    return key["key"]
