"""H5: the OpenAPI description served at /api/v1/openapi.json is true. schemathesis
generates requests from it (valid and invalid ones) against the real gateway over
loopback; every answer must be a non-5xx, with a status, content type and body the
description lists."""
from __future__ import annotations

import base64

import pytest
import schemathesis
from openapi_fuzz import fuzz_operations
from schemathesis import GenerationMode

pytestmark = pytest.mark.integration

EXAMPLES = 60  # per operation and mode


@pytest.fixture(scope="module")
def fuzz_account(gateway) -> str:
    system_id, password = gateway.add_account("fuzz", "secret1", "1000000000",
                                              "--throughput", "0")
    return "Basic " + base64.b64encode(f"{system_id}:{password}".encode()).decode()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_described_and_never_a_server_error(gateway, fuzz_account, mode):
    schema = schemathesis.openapi.from_url(f"{gateway.http_url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /api/v1/messages", "GET /api/v1/messages/{id}", "GET /api/v1/balance"}
    fuzz_operations(operations, gateway.http_url, fuzz_account, mode, EXAMPLES)


def test_fuzzing_without_credentials_is_401_never_5xx(gateway):
    import json
    import urllib.error
    import urllib.request

    for path, method in [("/api/v1/messages", "POST"), ("/api/v1/balance", "GET"),
                         ("/api/v1/messages/1", "GET")]:
        request = urllib.request.Request(gateway.http_url + path, method=method,
                                         data=b"{}" if method == "POST" else None,
                                         headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 401
        assert json.loads(caught.value.read())["error"]["code"] == "unauthorized"
