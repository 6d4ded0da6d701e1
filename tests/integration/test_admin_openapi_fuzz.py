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
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

EXAMPLES = 25  # per operation and mode

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_schema_conformance]
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
    token = f"Bearer {gateway.admin_token}"
    session = requests.Session()  # keep-alive, as real clients do

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            headers = dict(case.headers or {})
            headers["Authorization"] = token
            response = case.call(base_url=gateway.http_url, headers=headers,
                                 session=session, timeout=10)
            assert response.status_code < 500, (operation.label, response.text)
            case.validate_response(response, checks=CHECKS)

        call()


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
