"""The admin sections for two-way messaging (http/admin_mo.py) through StubTreq, behind the
admin token, on the real router and SQLite store: numbers, MO injected into the simulator,
the webhook outbox and its replay; and the accounts' webhook settings."""
from __future__ import annotations

import json

import pytest
import pytest_twisted
from http_env import Env

from gateway.http.admin_mo import MessagingAdmin
from gateway.model import Channel

HOOK = "https://hooks.example.test/smsgw"


def _sections(env: Env):
    return MessagingAdmin(store=env.store, webhook_store=env.store,
                          simulator=env.parts.simulator, clock=env.clock,
                          settings_changed=env.settings_changed).sections()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path, sections_for=_sections)
    yield e
    e.router.stop()
    pytest_twisted.blockon(e.store.close())


async def admin(env: Env, method: str, path: str, body=None):
    status, answer, _ = await env.call(method, "/admin/v1" + path, body, auth="admin")
    return status, answer


@pytest_twisted.ensureDeferred
async def test_the_sections_need_the_admin_token(env):
    for method, path in [("GET", "/admin/v1/numbers/"), ("POST", "/admin/v1/inbound/"),
                         ("GET", "/admin/v1/webhooks/"), ("POST", "/admin/v1/webhooks/replay")]:
        status, body, _ = await env.call(method, path, {}, auth=None)
        assert (status, body["error"]["code"]) == (401, "unauthorized")


@pytest_twisted.ensureDeferred
async def test_numbers_are_added_normalized_listed_and_removed(env):
    await env.add_account("acme")
    await env.add_account("beta")
    status, body = await admin(env, "POST", "/numbers/", {"number": "+4915550001",
                                                         "account": "acme"})
    assert (status, body) == (201, {"number": "4915550001", "keyword": "", "account": "acme"})
    status, body = await admin(env, "POST", "/numbers/", {"number": "7777", "account": "beta",
                                                         "keyword": "stop"})
    assert (status, body["keyword"]) == (201, "STOP")
    status, body = await admin(env, "GET", "/numbers/?account=beta")
    assert body == {"numbers": [{"number": "7777", "keyword": "STOP", "account": "beta"}]}
    status, body = await admin(env, "GET", "/numbers/")
    assert [n["number"] for n in body["numbers"]] == ["4915550001", "7777"]
    assert (await admin(env, "DELETE", "/numbers/7777?keyword=stop"))[0] == 200
    assert (await admin(env, "DELETE", "/numbers/7777?keyword=stop"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_number_errors_name_the_field(env):
    await env.add_account("acme")
    await admin(env, "POST", "/numbers/", {"number": "4915550001", "account": "acme"})
    cases = [
        ({"number": "4915550001", "account": "acme"}, 409, "number"),
        ({"number": "0049 1555", "account": "acme"}, 400, "number"),
        ({"number": "4444", "account": "acme", "keyword": "two words"}, 400, "keyword"),
        ({"number": "4444", "account": "ghost"}, 404, "account"),
        ({"account": "acme"}, 400, "number"),
        ({"number": 4444, "account": "acme"}, 400, "number"),
    ]
    for body, status, field in cases:
        answer_status, answer = await admin(env, "POST", "/numbers/", body)
        assert (answer_status, answer["error"]["field"]) == (status, field), body


@pytest_twisted.ensureDeferred
async def test_an_injected_mo_reaches_the_owner_and_an_unowned_number_is_422(env):
    await env.add_account("acme")
    status, body = await admin(env, "POST", "/inbound/", {"from": "4917600000001",
                                                         "to": "4915550001", "text": "hi"})
    assert status == 422
    assert body["error"] == {"code": "ESME_RINVDSTADR", "command_status": "0xB",
                             "message": body["error"]["message"]}
    await admin(env, "POST", "/numbers/", {"number": "4915550001", "account": "acme"})
    await env._settle(env.settings_changed())  # the number reaches the directory
    status, body = await admin(env, "POST", "/inbound/", {
        "from": "4917600000001", "to": "4915550001", "text": "YES please " * 20,
        "split": "sar", "order": "reverse"})
    assert status == 202 and body["injected"] == 2 and len(body["ids"]) == 2
    [first, second] = await env._settle(env.store.pending_outbox("acme", 0, 10))
    assert (first.esm_class, second.esm_class) == (0x40, 0x40)  # numbered by a UDH
    assert first.body[5] == 1 and second.body[5] == 2  # in order


@pytest_twisted.ensureDeferred
async def test_inject_checks_its_fields(env):
    base = {"from": "4917600000001", "to": "4915550001"}
    for body, field in [
        ({**base}, "text"), ({**base, "text": "a", "hex": "00"}, "text"),
        ({**base, "hex": "zz"}, "hex"), ({**base, "text": "a", "split": "odd"}, "split"),
        ({**base, "text": "a", "order": "random"}, "order"),
        ({**base, "text": "a", "drop": "2"}, "drop"),
        ({**base, "text": "a", "data_coding": 300}, "data_coding"),
        ({"to": "4915550001", "text": "a"}, "from"),
    ]:
        status, answer = await admin(env, "POST", "/inbound/", body)
        assert (status, answer["error"]["field"]) == (400, field), body


@pytest_twisted.ensureDeferred
async def test_an_account_with_a_webhook_url_gets_a_secret_and_its_mo_in_the_webhook_outbox(
        env):
    status, body = await admin(env, "POST", "/accounts", {
        "system_id": "shop", "password": "pw", "webhook_url": HOOK})
    assert status == 201 and body["webhook_url"] == HOOK and len(body["webhook_secret"]) >= 32
    assert body["deliver_via"] == "auto"
    assert (await admin(env, "PATCH", "/accounts/shop", {"deliver_via": "sometimes"}))[0] == 400
    status, body = await admin(env, "PATCH", "/accounts/shop", {"deliver_via": "both"})
    assert (status, body["deliver_via"]) == (200, "both")
    await admin(env, "POST", "/numbers/", {"number": "4915550002", "account": "shop"})
    await env._settle(env.settings_changed())
    assert (await admin(env, "POST", "/inbound/", {
        "from": "4917600000001", "to": "4915550002", "text": "hello shop"}))[0] == 202
    status, listing = await admin(env, "GET", "/webhooks/")
    [item] = listing["webhooks"]
    assert (item["account"], item["kind"], item["url"], item["state"]) == (
        "shop", "mo", HOOK, "pending")
    assert listing["counts"] == {"pending": 1, "dead": 0}
    status, shown = await admin(env, "GET", f"/webhooks/{item['id']}")
    assert json.loads(shown["payload"])["data"]["text"] == "hello shop"
    [smpp] = await env._settle(env.store.pending_outbox("shop", 0, 10))  # 'both'
    assert smpp.channel is Channel.SMPP and smpp.body == b"hello shop"


@pytest_twisted.ensureDeferred
async def test_dead_letters_are_listed_and_replayed(env):
    await admin(env, "POST", "/accounts", {"system_id": "shop", "password": "pw",
                                           "webhook_url": HOOK})
    await admin(env, "POST", "/numbers/", {"number": "4915550002", "account": "shop"})
    await env._settle(env.settings_changed())
    await admin(env, "POST", "/inbound/", {"from": "1", "to": "4915550002", "text": "x"})
    [item] = (await admin(env, "GET", "/webhooks/"))[1]["webhooks"]
    await env._settle(env.store.webhook_failed(item["id"], 7, env.clock.seconds() + 60,
                                               "HTTP 503", env.clock.seconds()))
    status, dead = await admin(env, "GET", "/webhooks/?state=dead")
    assert [(d["id"], d["attempts"], d["last_error"]) for d in dead["webhooks"]] == [
        (item["id"], 7, "HTTP 503")]
    assert (await admin(env, "GET", "/webhooks/?state=pending"))[1]["webhooks"] == []
    assert (await admin(env, "POST", "/webhooks/replay", {}))[0] == 400
    assert await admin(env, "POST", "/webhooks/replay", {"account": "shop"}) == (
        200, {"replayed": 1})
    [again] = (await admin(env, "GET", "/webhooks/?state=pending"))[1]["webhooks"]
    assert (again["attempts"], again["dead_at"]) == (0, None)
    for bad in ("/webhooks/?state=gone", "/webhooks/?limit=0", "/webhooks/?after=x"):
        assert (await admin(env, "GET", bad))[0] == 400
    assert (await admin(env, "GET", "/webhooks/999999"))[0] == 404
