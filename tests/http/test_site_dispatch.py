"""The site's resource (http/site.ApiFirst) sends /api/v1/ requests straight to the public
API: every answer must be the one Root's own routing gives, for API paths and the rest."""
from __future__ import annotations

import pytest
import pytest_twisted
from treq.testing import StubTreq

from gateway.http.site import ApiFirst, Root

PATHS = [
    ("GET", "/api/v1/balance"), ("GET", "/api/v1/nothing-here"), ("GET", "/api/v1/"),
    ("GET", "/api/v1"), ("GET", "/api/v2/balance"), ("GET", "/api%2Fv1/balance"),
    ("DELETE", "/api/v1/balance"), ("POST", "/api/v1/messages"), ("GET", "/"),
    ("GET", "/admin/v1/accounts"), ("GET", "/console"), ("GET", "/health"),
    ("GET", "/api/v1/openapi.json"), ("GET", "/api/v1//balance"), ("GET", "/api/v1/balance/"),
    ("GET", "/api/v1/messages//x"), ("GET", "/api/v1/messages%2F/x"), ("GET", "/api/v1/%ff"),
    ("GET", "/%61pi/v1/balance"), ("GET", "/api/v1/balance?x=1"), ("HEAD", "/api/v1/balance"),
]


async def _answer(env, method, path):
    # the raw answer: some are not JSON (a HEAD, Klein's 400 for a non-UTF-8 path)
    response = await env._settle(env.request(method, path, {} if method == "POST" else None))
    content = await env._settle(response.content())
    headers = response.headers
    return (response.code, content, headers.getRawHeaders(b"allow"),
            headers.getRawHeaders(b"location"), headers.getRawHeaders(b"content-type"))


@pytest.mark.parametrize(("method", "path"), PATHS)
@pytest_twisted.ensureDeferred
async def test_every_answer_is_roots_own(env, method, path):
    root = Root(env.api, env.admin)
    env.stub = StubTreq(root.app.resource())
    expected = await _answer(env, method, path)
    env.stub = StubTreq(ApiFirst(root))
    assert await _answer(env, method, path) == expected


@pytest_twisted.ensureDeferred
async def test_the_api_sees_the_same_prepath_and_postpath(env):
    seen = []
    root = Root(env.api, env.admin)
    api = root.api_resource
    original = api.render

    def render(request):
        seen.append((list(request.prepath), list(request.postpath)))
        return original(request)

    api.render = render
    for resource in (root.app.resource(), ApiFirst(root)):
        env.stub = StubTreq(resource)
        await env.call("GET", "/api/v1/messages/abc")
    assert seen[0] == seen[1] == ([b"api", b"v1"], [b"messages", b"abc"])
