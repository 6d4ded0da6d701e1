"""The public API through StubTreq: sending (prices, parts, encodings), status, balance,
idempotency, dry runs and every kind of bad request answered with JSON 4xx."""
from __future__ import annotations

import base64
import dataclasses
from decimal import Decimal

import pytest_twisted
from http_env import NOW, Env
from twisted.internet import defer

from gateway.core.apikeys import hash_api_key, key_prefix, new_api_key
from gateway.core.pricing import PriceEntry

GSM_160 = "a" * 160
GSM_161 = "a" * 161
GSM_307 = "b" * 307  # 3 parts of 153
UCS_70 = "ж" * 70
UCS_71 = "ж" * 71
UCS_135 = "ж" * 135  # 3 parts of 67


@pytest_twisted.ensureDeferred
async def test_send_one_message_charges_its_parts_and_returns_id_price_and_balance(env):
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "+4917000001", "text": "hello", "from": "ACME"})
    assert status == 202
    [sent] = body["messages"]
    assert sent["to"] == "4917000001" and sent["parts"] == 1 and sent["encoding"] == "gsm7"
    assert sent["price"] == "0.050000" and body["balance"] == "9.950000"
    stored = await env.store.get_message(sent["id"])
    assert stored.account == "acme" and stored.source.ton == 5 and stored.body == b"hello"


@pytest_twisted.ensureDeferred
async def test_part_counts_and_prices_follow_gsm7_and_ucs2_rules(env):
    cases = [(GSM_160, 1, "gsm7"), (GSM_161, 2, "gsm7"), (GSM_307, 3, "gsm7"),
             (UCS_70, 1, "ucs2"), (UCS_71, 2, "ucs2"), (UCS_135, 3, "ucs2")]
    balance = Decimal(10)
    for text, parts, encoding in cases:
        status, body, _ = await env.call("POST", "/api/v1/messages",
                                         {"to": "4917000001", "text": text})
        assert status == 202, body
        [sent] = body["messages"]
        assert (sent["parts"], sent["encoding"]) == (parts, encoding), text[:5]
        balance -= Decimal("0.05") * parts
        assert Decimal(body["balance"]) == balance


@pytest_twisted.ensureDeferred
async def test_encoding_ucs2_forced_and_gsm7_refused_for_cyrillic(env):
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "text": "hi", "encoding": "ucs2"})
    assert status == 202 and body["messages"][0]["encoding"] == "ucs2"
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "text": "жи", "encoding": "gsm7"})
    assert status == 400 and body["error"]["field"] == "text"


@pytest_twisted.ensureDeferred
async def test_price_table_longest_prefix_applies_to_http_sends(env):
    env.pricing.load([PriceEntry(account="acme", prefix="49", price=Decimal("0.07")),
                      PriceEntry(account="acme", prefix="4917", price=Decimal("0.09")),
                      PriceEntry(account="*", prefix="33", price=Decimal("0.02"))])
    status, body, _ = await env.call("POST", "/api/v1/messages", {
        "to": ["4917000001", "4930000001", "33600000001", "1555000001"], "text": GSM_161})
    assert status == 202
    assert [m["price"] for m in body["messages"]] == ["0.180000", "0.140000", "0.040000",
                                                      "0.100000"]
    assert body["total_price"] == "0.460000" and body["balance"] == "9.540000"


@pytest_twisted.ensureDeferred
async def test_insufficient_balance_is_402_with_esme_rinvbalance_and_nothing_charged(env):
    await env.add_account("poor", "0.04")
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "text": "hi"}, auth="poor")
    assert status == 402
    assert body["error"]["code"] == "ESME_RINVBALANCE"
    assert body["error"]["command_status"] == "0x40B"
    assert (await env.store.get_account("poor")).balance == Decimal("0.04")


@pytest_twisted.ensureDeferred
async def test_a_batch_the_balance_cannot_cover_whole_is_refused_whole(env):
    await env.add_account("few", "0.10")
    status, _, _ = await env.call("POST", "/api/v1/messages", {
        "to": ["4917000001", "4917000002", "4917000003"], "text": "hi"}, auth="few")
    assert status == 402
    assert (await env.store.get_account("few")).balance == Decimal("0.10")


@pytest_twisted.ensureDeferred
async def test_status_shows_state_timeline_and_only_own_messages(env):
    await env.add_account("other")
    _, body, _ = await env.call("POST", "/api/v1/messages", {
        "to": "4917000001", "text": GSM_161, "client_ref": "order-7", "dlr": True})
    message_id = body["messages"][0]["id"]
    status, msg, _ = await env.call("GET", f"/api/v1/messages/{message_id}")
    assert status == 200
    assert msg["state"] == "ENROUTE" and msg["parts"] == 2 and msg["price"] == "0.100000"
    assert msg["client_ref"] == "order-7" and msg["timeline"]["final"] is None
    assert msg["timeline"]["accepted"].startswith("2027-01-15T08:00:00")
    env.clock.advance(1)  # the simulator delivers
    await env.settle_router()
    _, msg, _ = await env.call("GET", f"/api/v1/messages/{message_id}")
    assert msg["state"] == "DELIVERED" and msg["timeline"]["final"] is not None
    status, body, _ = await env.call("GET", f"/api/v1/messages/{message_id}", auth="other")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, _ = await env.call("GET", "/api/v1/messages/99999999999999999999999")
    assert status == 404


@pytest_twisted.ensureDeferred
async def test_scheduled_message_reports_scheduled_and_validity(env):
    status, body, _ = await env.call("POST", "/api/v1/messages", {
        "to": "4917000001", "text": "later", "scheduled_at": "2027-01-15T09:00:00Z",
        "validity": 7200})
    assert status == 202 and body["messages"][0]["state"] == "SCHEDULED"
    _, msg, _ = await env.call("GET", f"/api/v1/messages/{body['messages'][0]['id']}")
    assert msg["timeline"]["scheduled"].startswith("2027-01-15T09:00:00")
    assert msg["timeline"]["sent"] is None
    assert msg["timeline"]["expires"].startswith("2027-01-15T10:00:00")


@pytest_twisted.ensureDeferred
async def test_balance_endpoint(env):
    status, body, _ = await env.call("GET", "/api/v1/balance")
    assert status == 200 and body == {"account": "acme", "balance": "10.000000"}


@pytest_twisted.ensureDeferred
async def test_dry_run_prices_without_storing_or_charging(env):
    status, body, _ = await env.call("POST", "/api/v1/messages?dry_run=true", {
        "to": ["4917000001", "4917000002"], "text": UCS_71})
    assert status == 200 and body["dry_run"] is True
    assert [m["id"] for m in body["messages"]] == [None, None]
    assert body["total_price"] == "0.200000" and body["balance"] == "10.000000"
    assert (await env.store.get_account("acme")).balance == Decimal(10)
    assert await env.store.last_message_id() is None


@pytest_twisted.ensureDeferred
async def test_idempotency_key_returns_first_result_and_charges_once(env):
    request = {"to": "4917000001", "text": "once"}
    key = {"idempotency-key": "order-42"}
    s1, first, _ = await env.call("POST", "/api/v1/messages", request, headers=key)
    s2, second, headers = await env.call("POST", "/api/v1/messages", request, headers=key)
    assert s1 == s2 == 202
    assert second == first
    assert headers.getRawHeaders("idempotent-replayed") == ["true"]
    assert (await env.store.get_account("acme")).balance == Decimal("9.95")
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "text": "other"}, headers=key)
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"


@pytest_twisted.ensureDeferred
async def test_concurrent_duplicates_under_one_key_send_once(env):
    request = {"to": "4917000001", "text": "race"}
    key = {"idempotency-key": "race-1"}
    results = await defer.gatherResults([
        defer.ensureDeferred(env.call("POST", "/api/v1/messages", request, headers=key))
        for _ in range(5)])
    ids = {r[1]["messages"][0]["id"] for r in results}
    assert {r[0] for r in results} == {202} and len(ids) == 1
    assert (await env.store.get_account("acme")).balance == Decimal("9.95")


@pytest_twisted.ensureDeferred
async def test_bearer_api_key_authenticates_until_revoked(env):
    key = new_api_key()
    stored = await env.store.add_api_key("acme", hash_api_key(key), key_prefix(key), "", NOW)
    status, body, _ = await env.call("GET", "/api/v1/balance", auth=(f"Bearer {key}",))
    assert status == 200 and body["account"] == "acme"
    await env.store.revoke_api_key("acme", stored.id, NOW)
    await env.settings_changed()  # the settings watcher notices the new settings_version
    status, body, _ = await env.call("GET", "/api/v1/balance", auth=(f"Bearer {key}",))
    assert status == 401


@pytest_twisted.ensureDeferred
async def test_basic_auth_is_cached_but_a_wrong_password_never_passes(env):
    for _ in range(3):
        assert (await env.call("GET", "/api/v1/balance"))[0] == 200
    assert env.scrypt_calls == 1
    wrong = "Basic " + base64.b64encode(b"acme:nope").decode()
    status, body, headers = await env.call("GET", "/api/v1/balance", auth=(wrong,))
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert headers.getRawHeaders("www-authenticate")
    env.clock.advance(3600)  # the cache entry expires
    assert (await env.call("GET", "/api/v1/balance"))[0] == 200
    assert env.scrypt_calls == 3


@pytest_twisted.ensureDeferred
async def test_a_disabled_account_is_refused_once_settings_change(env):
    assert (await env.call("GET", "/api/v1/balance"))[0] == 200
    account = await env.store.get_account("acme")
    await env.store.update_account(dataclasses.replace(account, enabled=False))
    await env.settings_changed()
    assert (await env.call("GET", "/api/v1/balance"))[0] == 401


@pytest_twisted.ensureDeferred
async def test_an_account_outside_its_allow_list_is_403(env):
    account = await env.store.get_account("acme")
    await env.store.update_account(dataclasses.replace(account, allow_ips=("192.0.2.0/24",)))
    await env.settings_changed()
    status, body, _ = await env.call("GET", "/api/v1/balance")
    assert status == 403 and body["error"]["code"] == "forbidden"


@pytest_twisted.ensureDeferred
async def test_missing_or_malformed_credentials_are_401(env):
    for auth in [(""), ("Basic !!!",), ("Digest abc",), ("Bearer \xff",), "nobody"]:
        status, body, _ = await env.call("GET", "/api/v1/balance",
                                         auth=auth if auth else ("",))
        assert status == 401, auth


@pytest_twisted.ensureDeferred
async def test_bad_input_gets_400_naming_the_field(env):
    cases = [
        ({"text": "hi"}, "to"),
        ({"to": "12ab", "text": "hi"}, "to"),
        ({"to": ["4917000001", "x"], "text": "hi"}, "to"),
        ({"to": "4917000001"}, "text"),
        ({"to": "4917000001", "text": "hi", "hex": "00"}, "text"),
        ({"to": "4917000001", "text": "hi", "validity": 10**30}, "validity"),
        ({"to": "4917000001", "text": "hi", "validity": "1"}, "validity"),
        ({"to": "4917000001", "text": "hi", "scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"to": "4917000001", "text": "hi", "scheduled_at": "2027-01-01T00:00:00"},
         "scheduled_at"),
        ({"to": "4917000001", "text": "hi", "from": "much too long sender"}, "from"),
        ({"to": "4917000001", "text": "hi", "surprise": 1}, "surprise"),
        ({"to": "4917000001", "text": "hi", "dlr": "yes"}, "dlr"),
        ({"to": "4917000001", "text": "x" * 40_001}, "text"),
        ({"to": "4917000001", "text": "\ud800"}, "text"),
        ({"to": "4917000001", "text": "hi", "client_ref": "\udfff"}, "client_ref"),
        ({"to": "4917000001", "text": "hi", "from": "\ud800"}, "from"),
        ({"to": "4917000001", "text": "hi", "from": "\u0000abc"}, "from"),
    ]
    for request, field in cases:
        status, body, _ = await env.call("POST", "/api/v1/messages", request)
        assert status == 400, (request, body)
        assert body["error"]["field"] == field, (request, body)
    assert (await env.store.get_account("acme")).balance == Decimal(10)


@pytest_twisted.ensureDeferred
async def test_unparseable_bodies_are_4xx_json(env):
    raw_cases = [(b"{", 400), (b"\xff\xfe", 400), (b"[" * 100_000, 400), (b"NaN", 400),
                 (b"1" * 5000, 400), (b"[]", 400), (b"null", 400), (b'"to"', 400)]
    for raw, expected in raw_cases:
        status, body, _ = await env.call("POST", "/api/v1/messages", raw=raw)
        assert status == expected, raw[:10]
        assert "error" in body
    status, body, _ = await env.call("POST", "/api/v1/messages", raw=b"{}",
                                     content_type="text/plain")
    assert status == 415


@pytest_twisted.ensureDeferred
async def test_unknown_routes_and_methods_are_json(env):
    assert (await env.call("GET", "/nowhere"))[0] == 404
    assert (await env.call("GET", "/api/v1/nowhere"))[0] == 404
    status, body, _ = await env.call("DELETE", "/api/v1/balance")
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    status, doc, _ = await env.call("GET", "/api/v1/openapi.json", auth=None)
    assert status == 200 and doc["openapi"].startswith("3.")


@pytest_twisted.ensureDeferred
async def test_binary_hex_and_flash_set_the_data_coding(env):
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "hex": "0001ff"})
    assert status == 202 and body["messages"][0]["encoding"] == "binary"
    stored = await env.store.get_message(body["messages"][0]["id"])
    assert stored.body == b"\x00\x01\xff" and stored.data_coding == 0x04
    status, body, _ = await env.call("POST", "/api/v1/messages",
                                     {"to": "4917000001", "text": "now!", "flash": True})
    stored = await env.store.get_message(body["messages"][0]["id"])
    assert stored.data_coding == 0x10


@pytest_twisted.ensureDeferred
async def test_callback_url_is_stored_and_asks_for_a_receipt(env):
    _, body, _ = await env.call("POST", "/api/v1/messages", {
        "to": "4917000001", "text": "hi", "callback_url": "https://example.test/dlr"})
    stored = await env.store.get_message(body["messages"][0]["id"])
    assert stored.callback_url == "https://example.test/dlr"
    assert stored.registered_delivery == 1


@pytest_twisted.ensureDeferred
async def test_repeated_failures_from_one_address_are_slowed_down(tmp_path):
    slow = Env(tmp_path, free_failures=3)
    await slow.add_account()
    wrong = ("Basic " + base64.b64encode(b"acme:nope").decode(),)
    try:
        for _ in range(3):
            assert (await slow.call("GET", "/api/v1/balance", auth=wrong))[0] == 401
        answer = slow.request("GET", "/api/v1/balance")
        answered = []
        answer.addCallback(lambda r: answered.append(r) or r)
        slow.stub.flush()
        assert answered == []  # the 4th attempt waits 0.5 s, even with the right password
        slow.clock.advance(0.5)
        assert (await slow.answer(answer))[0] == 200
        assert (await slow.call("GET", "/api/v1/balance", auth=wrong))[0] == 401  # count reset
    finally:
        slow.router.stop()
        await slow.store.close()


@pytest_twisted.ensureDeferred
async def test_sends_above_the_accounts_throughput_are_429_with_retry_after(env):
    await env.add_account("slow", balance="10", throughput=2)
    send = {"to": [f"4917000000{n}" for n in range(5)], "text": "hi"}
    status, _, _ = await env.call("POST", "/api/v1/messages", send, auth="slow")
    assert status == 202  # a batch is admitted on one token...
    status, body, headers = await env.call("POST", "/api/v1/messages", {"to": "4917000000",
                                                                         "text": "hi"},
                                           auth="slow")
    assert status == 429  # ...and its debt (3 messages at 2/s) waited out
    assert body["error"]["code"] == "ESME_RTHROTTLED"
    assert body["error"]["command_status"] == "0x58"
    assert headers.getRawHeaders("retry-after") == ["2"]
    env.clock.advance(2.0)
    assert (await env.call("POST", "/api/v1/messages", {"to": "4917000000", "text": "hi"},
                           auth="slow"))[0] == 202
    assert (await env.call("GET", "/api/v1/balance", auth="slow"))[1]["balance"] == "9.700000"


@pytest_twisted.ensureDeferred
async def test_a_submit_the_store_cannot_commit_is_a_503_json_error_and_charges_nothing(
        env, monkeypatch):
    import sqlite3

    def full(*args, **kwargs):
        return defer.fail(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(env.store, "accept_once", full)
    status, body, headers = await env.call("POST", "/api/v1/messages",
                                           {"to": "+4917000001", "text": "hello"})
    assert status == 503
    assert body["error"]["code"] == "store_unavailable"
    assert body["error"]["command_status"] == "0x8"
    assert headers.getRawHeaders("retry-after") == ["5"]
    monkeypatch.undo()
    status, body, _ = await env.call("GET", "/api/v1/balance")
    assert body["balance"] == "10.000000"  # nothing was charged
