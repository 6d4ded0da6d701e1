"""Security checks against the real gateway (issue 12, item 7): one account cannot reach
another's messages, webhooks or CDRs over SMPP or HTTP, and the admin API refuses every route
it has, found from its Klein URL maps, without its token. (TLS below 1.2 is refused:
test_tls.py; secrets compared in constant time: tests/test_secret_comparisons.py.)"""
from __future__ import annotations

import base64
import re
import time

import pytest
from gateway_harness import ESME_ROK, HttpClient, raw_client, submit_sm, wait_for
from webhook_receiver import Receiver
from werkzeug.routing import Rule

from gateway.http.admin import AdminApi
from gateway.http.admin_cdrs import CdrAdmin
from gateway.http.admin_mo import MessagingAdmin
from gateway.http.admin_upstream import UpstreamAdmin
from gateway.smpp import pdu as P

pytestmark = pytest.mark.integration

ESME_RCANCELFAIL = 0x11
ESME_RREPLACEFAIL = 0x13
ESME_RQUERYFAIL = 0x67
IN_AN_HOUR = "000000010000000R"  # SMPP relative time: 1 hour from now
SECRET = "isolation-webhook-secret-0123456789"


def http_as(gw, system_id: str, password: str) -> HttpClient:
    client = HttpClient(gw)
    client.auth = "Basic " + base64.b64encode(f"{system_id}:{password}".encode()).decode()
    return client


@pytest.fixture
def two_accounts(gateway):
    receivers = {name: Receiver(SECRET).start() for name in ("alice", "bob")}
    names = {}
    for name, receiver in receivers.items():
        system_id = f"{name}{time.monotonic_ns() % 10**6}"
        gateway.add_account(system_id, "secret1", "100", "--throughput", "0",
                            "--webhook-url", receiver.url, "--webhook-secret", SECRET)
        names[name] = system_id
    yield names, receivers
    for receiver in receivers.values():
        receiver.stop()


def test_an_account_cannot_query_cancel_or_replace_another_accounts_message(
        gateway, two_accounts):
    names, _ = two_accounts
    with raw_client(gateway) as alice, raw_client(gateway) as bob:
        assert alice.bind(names["alice"], "secret1", "transmitter").command_status == ESME_ROK
        assert bob.bind(names["bob"], "secret1", "transmitter").command_status == ESME_ROK
        held = bob.request(submit_sm(body=b"bob's secret", registered_delivery=0,
                                     schedule_delivery_time=IN_AN_HOUR))
        assert held.command_status == ESME_ROK
        bobs = held.message_id
        source = dict(source_addr_ton=1, source_addr_npi=1, source_addr="4930123456")
        query = alice.request(P.QuerySm(message_id=bobs, **source))
        assert query.command_status == ESME_RQUERYFAIL
        cancel = alice.request(P.CancelSm(message_id=bobs, **source))
        assert cancel.command_status == ESME_RCANCELFAIL
        replace = alice.request(P.ReplaceSm(message_id=bobs, short_message=b"alice was here",
                                            **source))
        assert replace.command_status == ESME_RREPLACEFAIL
        # untouched: still SCHEDULED with Bob's own text
        assert gateway.query_db("SELECT state, body FROM messages WHERE id = ?", (bobs,)) \
            == [(0, b"bob's secret")]
        # and Bob himself may do all three (the refusals above are about ownership)
        assert bob.request(P.QuerySm(message_id=bobs, **source)).command_status == ESME_ROK
        assert bob.request(P.ReplaceSm(message_id=bobs, short_message=b"edited",
                                       **source)).command_status == ESME_ROK
        assert bob.request(P.CancelSm(message_id=bobs, **source)).command_status == ESME_ROK


def test_an_account_cannot_read_another_accounts_messages_or_receipts_over_http(
        gateway, two_accounts):
    names, receivers = two_accounts
    alice, bob = http_as(gateway, names["alice"], "secret1"), http_as(gateway, names["bob"],
                                                                      "secret1")
    try:
        status, sent, _ = bob.call("POST", "/api/v1/messages",
                                   {"to": "+4917000001", "text": "bob only", "dlr": True})
        assert status == 202
        bobs = sent["messages"][0]["id"]
        assert bob.call("GET", f"/api/v1/messages/{bobs}")[0] == 200
        status, body, _ = alice.call("GET", f"/api/v1/messages/{bobs}")
        assert status == 404 and body["error"]["code"] == "not_found"
        assert alice.call("GET", "/api/v1/balance")[1]["account"] == names["alice"]
        # Bob's receipt goes to Bob's webhook only; Alice's receiver sees nothing of it
        wait_for(lambda: receivers["bob"].accepted(), 15, message="bob's receipt webhook")
        assert {d.event["data"]["message_id"] for d in receivers["bob"].accepted()} == {bobs}
        status, sent, _ = alice.call("POST", "/api/v1/messages",
                                     {"to": "+4917000002", "text": "alice", "dlr": True})
        alices = sent["messages"][0]["id"]
        wait_for(lambda: receivers["alice"].accepted(), 15, message="alice's receipt webhook")
        seen = {d.event["data"]["message_id"] for d in receivers["alice"].accepted()}
        assert seen == {alices}
        # nor can an account's credentials reach the admin API's webhook listing or the
        # CDRs (they hold every account's traffic: operators only)
        assert alice.call("GET", "/admin/v1/webhooks/")[0] == 401
        assert alice.call("GET", f"/admin/v1/cdrs/?account={names['bob']}")[0] == 401
        assert alice.call("GET", "/api/v1/cdrs")[0] == 404
    finally:
        alice.close()
        bob.close()


def _admin_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the admin API and of every section it mounts,
    read from the Klein apps' URL maps, with sample values for the path's variables."""
    sections = {}
    for provider in (MessagingAdmin, UpstreamAdmin, CdrAdmin):
        sections.update(provider.__new__(provider).sections())  # class-level apps only
    apps = [("", AdminApi.app)] + [(f"/{name}", app) for name, app in sections.items()]
    routes = []
    for prefix, app in apps:
        for rule in app.url_map.iter_rules():
            assert isinstance(rule, Rule)
            path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>",
                          lambda m: "7" if m.group(1) == "int" else "x", rule.rule)
            if "<string:section>" in rule.rule:
                path = "/numbers/"
            for method in sorted((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
                routes.append((method, "/admin/v1" + prefix + path))
    return sorted(set(routes))


def test_the_admin_api_refuses_every_route_without_its_token(gateway):
    routes = _admin_routes()
    assert len(routes) >= 20, routes  # the URL maps were read
    assert ("GET", "/admin/v1/accounts") in routes
    assert ("POST", "/admin/v1/connectors/") in routes
    assert ("GET", "/admin/v1/cdrs/") in routes
    status, _ = gateway.admin("GET", "/admin/v1/accounts")
    assert status == 200  # the control: with the token the same client gets in
    clients = {"no token": HttpClient(gateway), "wrong token": HttpClient(gateway, bearer="x"),
               "basic": HttpClient(gateway, basic=("demo", gateway.admin_token))}
    refused = []
    try:
        for method, path in routes:
            for name, client in clients.items():
                status, body, headers = client.call(method, path, {"system_id": "evil"})
                if status != 401 or body["error"]["code"] != "unauthorized" \
                        or "www-authenticate" not in headers:
                    refused.append((name, method, path, status))
    finally:
        for client in clients.values():
            client.close()
    assert not refused, f"answered without the admin token: {refused}"
