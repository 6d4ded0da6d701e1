"""The admin API's OpenAPI description (/admin/v1/openapi.json, behind the admin token) is
true, and no admin route answers a 5xx or anything but JSON: schemathesis generates valid
and invalid requests for every operation (huge ids, wrong types, missing fields) against
the real gateway over loopback. The gateway is this module's own, so what the fuzzer
creates, changes and deletes touches no other test.

Bounded for CI on 2 cores: EXAMPLES cases per operation and mode (~30 operations)."""
from __future__ import annotations

import pytest
import requests
import schemathesis
from openapi_fuzz import fuzz_operations
from schemathesis import GenerationMode

pytestmark = pytest.mark.integration

EXAMPLES = 25  # per operation and mode
SECTIONS = {"numbers", "webhooks", "inbound", "connectors", "routes", "cdrs"}


@pytest.fixture(scope="module")
def admin_document(gateway) -> dict:
    gateway.add_account("fuzzme", "secret1", "100")  # something for the ids to find
    answer = requests.get(f"{gateway.http_url}/admin/v1/openapi.json", timeout=10,
                          headers={"Authorization": f"Bearer {gateway.admin_token}"})
    assert answer.status_code == 200
    return answer.json()


def test_the_document_describes_every_admin_section(admin_document):
    paths = set(admin_document["paths"])
    assert {"/admin/v1/accounts", "/admin/v1/accounts/{system_id}/api-keys/{key_id}",
            "/admin/v1/prices", "/admin/v1/binds"} <= paths
    assert {path.split("/")[3] for path in paths} >= SECTIONS


def test_the_document_needs_the_admin_token(gateway):
    answer = requests.get(f"{gateway.http_url}/admin/v1/openapi.json", timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_admin_answer_is_described_and_never_a_server_error(gateway, admin_document,
                                                                  mode):
    schema = schemathesis.openapi.from_dict(admin_document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28
    fuzz_operations(operations, gateway.http_url, f"Bearer {gateway.admin_token}", mode,
                    EXAMPLES)


def test_huge_ids_on_every_admin_route_are_json_400_or_404(gateway, admin_document):
    token = {"Authorization": f"Bearer {gateway.admin_token}"}
    huge = "1000000000000000000000000000000"
    for method, path in [("GET", f"/admin/v1/webhooks/{huge}"),
                         ("DELETE", f"/admin/v1/routes/{huge}"),
                         ("DELETE", f"/admin/v1/accounts/fuzzme/api-keys/{huge}"),
                         ("GET", f"/admin/v1/webhooks/?after={huge}"),
                         ("GET", f"/admin/v1/cdrs/?since=0&limit={huge}"),
                         ("GET", f"/api/v1/messages/{huge}")]:
        answer = requests.request(method, gateway.http_url + path, headers=token, timeout=10)
        assert answer.status_code in (400, 401, 404), (path, answer.text)
        assert answer.headers["content-type"] == "application/json", path
        assert "error" in answer.json()
