"""The admin API through StubTreq: its token, accounts, top-ups, API keys, prices, binds,
and the sections other parts of the gateway mount under /admin/v1/<name>/."""
from __future__ import annotations

import base64

import pytest
import pytest_twisted
from http_env import Env
from klein import Klein

from gateway.model import BindKind


def _webhooks_app() -> Klein:
    app = Klein()

    @app.route("/outbox", methods=["GET"])
    def outbox(request):
        request.setHeader(b"content-type", b"application/json")
        return b'{"section": "webhooks", "path": "outbox"}'

    return app


@pytest.fixture
def admin_env(tmp_path):
    e = Env(tmp_path, sections={"webhooks": _webhooks_app()})
    yield e
    e.router.stop()
    pytest_twisted.blockon(e.store.close())


@pytest_twisted.ensureDeferred
async def test_every_admin_route_needs_the_token(admin_env):
    for method, path in [("GET", "/admin/v1/accounts"), ("POST", "/admin/v1/accounts"),
                         ("GET", "/admin/v1/prices"), ("GET", "/admin/v1/binds"),
                         ("GET", "/admin/v1/webhooks/outbox"), ("GET", "/admin/v1/nope")]:
        for auth in [None, ("Bearer wrong",), ("Basic " + base64.b64encode(b"a:b").decode(),)]:
            status, body, _ = await admin_env.call(method, path, {}, auth=auth)
            assert status == 401, (method, path, auth)
            assert body["error"]["code"] == "unauthorized"


@pytest_twisted.ensureDeferred
async def test_sections_are_delegated_after_the_token_check(admin_env):
    status, body, _ = await admin_env.call("GET", "/admin/v1/webhooks/outbox", auth="admin")
    assert status == 200 and body == {"section": "webhooks", "path": "outbox"}
    status, body, _ = await admin_env.call("GET", "/admin/v1/numbers/x", auth="admin")
    assert status == 404


@pytest_twisted.ensureDeferred
async def test_account_lifecycle_create_show_change_topup(admin_env):
    status, body, _ = await admin_env.call("POST", "/admin/v1/accounts", {
        "system_id": "acme", "password": "secret1", "balance": "12.5", "max_binds": 3,
        "allow_ips": ["192.0.2.0/24"]}, auth="admin")
    assert status == 201 and body["balance"] == "12.500000" and body["max_binds"] == 3
    status, body, _ = await admin_env.call("POST", "/admin/v1/accounts", {
        "system_id": "acme", "password": "x"}, auth="admin")
    assert status == 409
    status, body, _ = await admin_env.call("PATCH", "/admin/v1/accounts/acme", {
        "throughput": 0, "allow_ips": [], "enabled": False}, auth="admin")
    assert status == 200 and body["enabled"] is False and body["allow_ips"] == []
    status, body, _ = await admin_env.call("PATCH", "/admin/v1/accounts/acme", {
        "password": "newpass", "enabled": True}, auth="admin")
    assert status == 200
    new_basic = ("Basic " + base64.b64encode(b"acme:newpass").decode(),)
    assert (await admin_env.call("GET", "/api/v1/balance", auth=new_basic))[0] == 200
    assert (await admin_env.call("GET", "/api/v1/balance"))[0] == 401  # the old password
    status, body, _ = await admin_env.call("POST", "/admin/v1/accounts/acme/topup",
                                           {"amount": "7.5"}, auth="admin")
    assert status == 200 and body["balance"] == "20.000000"
    status, body, _ = await admin_env.call("GET", "/admin/v1/accounts", auth="admin")
    assert [a["system_id"] for a in body["accounts"]] == ["acme"]
    assert (await admin_env.call("GET", "/admin/v1/accounts/ghost", auth="admin"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_admin_rejects_bad_fields_with_400(admin_env):
    await admin_env.add_account()
    cases = [("POST", "/admin/v1/accounts", {"system_id": "x" * 16, "password": "p"},
              "system_id"),
             ("POST", "/admin/v1/accounts", {"system_id": "ok", "password": "p",
                                             "allow_ips": ["nope"]}, "allow_ips[0]"),
             ("POST", "/admin/v1/accounts/acme/topup", {"amount": "1e999999"}, "amount"),
             ("POST", "/admin/v1/accounts/acme/topup", {"amount": "0.0000001"}, "amount"),
             ("PUT", "/admin/v1/prices", {"account": "acme", "prefix": "4x", "price": "1"},
              "prefix"),
             ("PUT", "/admin/v1/prices", {"account": "acme", "price": "-1"}, "price")]
    for method, path, body, field in cases:
        status, answer, _ = await admin_env.call(method, path, body, auth="admin")
        assert status == 400, (path, body, answer)
        assert answer["error"]["field"] == field


@pytest_twisted.ensureDeferred
async def test_api_key_issued_once_works_then_revoked(admin_env):
    await admin_env.add_account()
    status, issued, _ = await admin_env.call("POST", "/admin/v1/accounts/acme/api-keys",
                                             {"label": "shop"}, auth="admin")
    assert status == 201 and issued["key"].startswith("smsgw_") and issued["active"]
    status, listed, _ = await admin_env.call("GET", "/admin/v1/accounts/acme/api-keys",
                                             auth="admin")
    assert "key" not in listed["api_keys"][0] and listed["api_keys"][0]["label"] == "shop"
    bearer = (f"Bearer {issued['key']}",)
    assert (await admin_env.call("GET", "/api/v1/balance", auth=bearer))[0] == 200
    status, _, _ = await admin_env.call(
        "DELETE", f"/admin/v1/accounts/acme/api-keys/{issued['id']}", auth="admin")
    assert status == 200
    assert (await admin_env.call("GET", "/api/v1/balance", auth=bearer))[0] == 401
    status, _, _ = await admin_env.call(
        "DELETE", f"/admin/v1/accounts/acme/api-keys/{issued['id']}", auth="admin")
    assert status == 404


@pytest_twisted.ensureDeferred
async def test_prices_set_list_delete(admin_env):
    await admin_env.add_account()
    for body in [{"account": "acme", "prefix": "+4917", "price": "0.08"},
                 {"account": "*", "prefix": "", "price": "0.06"}]:
        assert (await admin_env.call("PUT", "/admin/v1/prices", body, auth="admin"))[0] == 200
    assert (await admin_env.call("PUT", "/admin/v1/prices", {
        "account": "ghost", "price": "1"}, auth="admin"))[0] == 404
    _, body, _ = await admin_env.call("GET", "/admin/v1/prices", auth="admin")
    assert [(p["account"], p["prefix"], p["price"]) for p in body["prices"]] == [
        ("*", "", "0.060000"), ("acme", "4917", "0.080000")]
    status, _, _ = await admin_env.call("DELETE", "/admin/v1/prices?account=acme&prefix=4917",
                                        auth="admin")
    assert status == 200
    _, body, _ = await admin_env.call("GET", "/admin/v1/prices?account=acme", auth="admin")
    assert body["prices"] == []
    assert (await admin_env.call("DELETE", "/admin/v1/prices?account=acme&prefix=4917",
                                 auth="admin"))[0] == 404


class _Bind:
    account = "acme"
    kind = BindKind.TRANSCEIVER
    transport = None

    def load(self) -> int:
        return 3


@pytest_twisted.ensureDeferred
async def test_live_binds_are_listed(admin_env):
    admin_env.parts.binds.add(_Bind())
    status, body, _ = await admin_env.call("GET", "/admin/v1/binds", auth="admin")
    assert status == 200
    assert body["binds"] == [{"account": "acme", "kind": "transceiver", "in_flight": 3,
                              "peer": ""}]


def test_admin_api_refuses_to_run_without_a_token(tmp_path):
    with pytest.raises(ValueError):
        from gateway.http.admin import AdminApi

        AdminApi(token="", store=None, binds=None, clock=None, run_in_thread=None)


