"""`[admin] allow`: the admin API and the console answer only the configured client networks
(loopback by default), also when the HTTP port is open to the network; the public API is not
affected. StubTreq's requests come from 127.0.0.1."""
from __future__ import annotations

import pytest
import pytest_twisted
from treq.testing import StubTreq

from gateway.core.accounts import LOOPBACK_NETWORKS
from gateway.http.site import ApiFirst, Root


def serve(env, allow: tuple[str, ...]) -> None:
    env.stub = StubTreq(ApiFirst(Root(env.api, env.admin, admin_allow=allow)))


@pytest_twisted.ensureDeferred
async def test_loopback_clients_reach_the_admin_api_by_default(env):
    serve(env, LOOPBACK_NETWORKS)
    status, body, _ = await env.call("GET", "/admin/v1/accounts", auth="admin")
    assert status == 200 and [a["system_id"] for a in body["accounts"]] == ["acme"]


@pytest.mark.parametrize("path", ["/admin/v1/accounts", "/admin/v1/nothing-here",
                                  "/console/", "/console/login"])
@pytest_twisted.ensureDeferred
async def test_clients_outside_admin_allow_get_403_json_even_with_the_token(env, path):
    serve(env, ("10.0.0.0/8", "::1/128"))
    status, body, _ = await env.call("GET", path, auth="admin")
    assert status == 403
    assert body["error"]["code"] == "forbidden" and "[admin] allow" in body["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_the_public_api_answers_whatever_admin_allow_says(env):
    serve(env, ("10.0.0.0/8",))
    status, body, _ = await env.call("GET", "/api/v1/balance")
    assert status == 200 and body["account"] == "acme"
