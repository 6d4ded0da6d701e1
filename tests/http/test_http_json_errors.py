"""Every answer is JSON and names what was wrong: ids and numbers out of range or not
numbers at all (400 naming the id, never a store's OverflowError), unknown paths and wrong
methods under the admin API (404/405 naming the path, not a section that was never meant),
and an exception nobody expected (a JSON 500, never Twisted's HTML "Processing Failed")."""
from __future__ import annotations

import json

import pytest
import pytest_twisted
from http_env import Env
from klein import Klein
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.resource import Resource

from gateway.http.admin_cdrs import CdrAdmin
from gateway.http.admin_mo import MessagingAdmin
from gateway.http.admin_upstream import UpstreamAdmin
from gateway.http.web import CappedSite, json_errors

HUGE = "1000000000000000000000000000000"


def _sections(env: Env):
    sections = MessagingAdmin(store=env.store, webhook_store=env.store,
                              simulator=env.parts.simulator, clock=env.clock).sections()
    sections.update(UpstreamAdmin(env.store).sections())
    sections.update(CdrAdmin(store=env.store, clock=env.clock).sections())
    sections["broken"] = _Broken().app
    return sections


class _Broken:
    """A section whose handler fails the way a bug would."""

    app = Klein()

    @app.route("/", strict_slashes=False)
    def fail(self, request):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    json_errors(app, "/admin/v1/broken")


@pytest.fixture
def env(make_env):
    return make_env(sections_for=_sections)


async def admin(env: Env, method: str, path: str, body=None):
    """(status, the error object (or the whole answer), headers) of an admin request."""
    status, answer, headers = await env.call(method, "/admin/v1" + path, body, auth="admin")
    return status, answer.get("error", answer), headers


@pytest_twisted.ensureDeferred
async def test_a_key_id_that_is_not_a_number_is_named_in_a_400(env):
    await env.add_account("demo")
    status, err, _ = await admin(env, "DELETE", "/accounts/demo/api-keys/abc")
    assert (status, err["field"]) == (400, "key_id")
    assert "api key id 'abc' is not a number" in err["message"]


@pytest.mark.parametrize("key_id", [HUGE, "0", "-1", "+5", "٣", "1_0"])
@pytest_twisted.ensureDeferred
async def test_key_ids_out_of_range_or_spelled_oddly_are_400(env, key_id):
    await env.add_account("demo")
    status, err, _ = await admin(env, "DELETE", f"/accounts/demo/api-keys/{key_id}")
    assert (status, err["code"], err["field"]) == (400, "invalid_field", "key_id")


@pytest_twisted.ensureDeferred
async def test_an_unknown_key_and_an_unknown_account_are_told_apart(env):
    await env.add_account("demo")
    status, err, _ = await admin(env, "DELETE", "/accounts/demo/api-keys/7")
    assert (status, err["message"]) == (404, "no active api key 7 for account demo")
    status, err, _ = await admin(env, "DELETE", "/accounts/nobody/api-keys/7")
    assert (status, err["message"]) == (404, "no account 'nobody'")


@pytest_twisted.ensureDeferred
async def test_a_wrong_method_on_an_admin_path_is_405_with_allow(env):
    status, err, headers = await admin(env, "DELETE", "/accounts/demo")
    assert (status, err["code"]) == (405, "method_not_allowed")
    assert "DELETE is not allowed on /admin/v1/accounts/demo" == err["message"]
    assert headers.getRawHeaders(b"allow") == [b"GET, HEAD, PATCH"]


@pytest_twisted.ensureDeferred
async def test_an_unknown_path_under_a_builtin_part_names_the_path_not_a_section(env):
    status, err, _ = await admin(env, "GET", "/accounts/demo/nothing-here")
    assert (status, err["message"]) == (404, "no such resource: "
                                             "/admin/v1/accounts/demo/nothing-here")
    status, err, _ = await admin(env, "GET", "/nothing/")
    assert (status, err["message"]) == (404, "no admin section 'nothing'")


@pytest.mark.parametrize("method,path,body,field", [
    ("GET", f"/webhooks/{HUGE}", None, "id"),
    ("GET", "/webhooks/abc", None, "id"),
    ("GET", f"/webhooks/?after={HUGE}", None, "after"),
    ("GET", "/webhooks/?after=-1", None, "after"),
    ("GET", "/webhooks/?limit=%C2%B2", None, "limit"),  # '²' passes str.isdigit()
    ("POST", "/webhooks/replay", {"ids": [int(HUGE)]}, "ids"),
    ("DELETE", f"/routes/{HUGE}", None, "id"),
    ("DELETE", "/routes/x", None, "id"),
    ("POST", "/routes/", {"connectors": [{"name": "simulator", "weight": int(HUGE)}]},
     "connectors"),
    ("POST", "/routes/", {"connectors": [{"name": ["not", "hashable"]}]}, "connectors"),
    ("GET", "/cdrs/?since=0&limit=%C2%B2", None, "limit"),
    ("GET", f"/cdrs/?since=0&limit={HUGE}", None, "limit"),
    ("POST", "/connectors/", {"name": "up1", "host": "127.0.0.1", "binds": int(HUGE)},
     "binds"),
    ("POST", "/connectors/", {"name": "up1", "host": "127.0.0.1", "throughput": "nan"},
     "throughput"),
    ("POST", "/inbound/", {"from": "1", "to": "2", "text": "x", "drop": [int(HUGE)]},
     "drop"),
])
@pytest_twisted.ensureDeferred
async def test_numbers_out_of_range_are_400_naming_the_field(env, method, path, body, field):
    status, err, _ = await admin(env, method, path, body)
    assert (status, err["code"], err.get("field")) == (400, "invalid_field", field), err


@pytest_twisted.ensureDeferred
async def test_unknown_paths_and_methods_inside_a_section_are_json(env):
    status, err, _ = await admin(env, "GET", "/numbers/a/b/c")
    assert (status, err["code"]) == (404, "not_found")
    status, err, headers = await admin(env, "GET", "/webhooks/replay")
    assert (status, headers.getRawHeaders(b"allow")) == (405, [b"POST"])
    status, err, headers = await admin(env, "PUT", "/cdrs/")
    assert (status, err["code"]) == (405, "method_not_allowed")
    assert headers.getRawHeaders(b"allow") == [b"GET, HEAD"]


@pytest_twisted.ensureDeferred
async def test_an_exception_in_a_section_is_a_json_500_without_details(env):
    status, err, _ = await admin(env, "GET", "/broken/")
    assert (status, err) == (500, {"code": "internal_error",
                                   "message": "the gateway failed to answer"})


@pytest_twisted.ensureDeferred
async def test_a_wrong_method_at_the_root_is_a_json_405(env):
    status, body, _ = await env.call("POST", "/health", {}, auth=None)
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


class _Raises(Resource):
    isLeaf = True

    def render(self, request):
        raise RuntimeError("secret detail")


def test_the_site_answers_an_unhandled_exception_with_a_json_500():
    site = CappedSite(_Raises(), max_body=1024)
    channel = site.buildProtocol(IPv4Address("TCP", "10.0.0.1", 40000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /anything HTTP/1.1\r\nHost: gw\r\n\r\n")
    head, _, body = transport.value().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body) == {"error": {"code": "internal_error",
                                          "message": "the gateway failed to answer"}}
    assert b"secret detail" not in transport.value()
    channel.connectionLost(None)
