"""schemathesis over an OpenAPI document against the running gateway, shared by the public
and the admin API's fuzz tests: every generated request (valid or invalid, as `mode`
says) must get a non-5xx answer whose status, content type and body the document lists."""
from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_schema_conformance]


def fuzz_operations(operations: list, base_url: str, authorization: str,
                    mode: GenerationMode, examples: int) -> None:
    """`examples` generated cases of each operation, sent with `authorization`."""
    session = requests.Session()  # keep-alive, as real clients do
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case):
            headers = dict(case.headers or {})
            headers["Authorization"] = authorization
            response = case.call(base_url=base_url, headers=headers, session=session,
                                 timeout=10)
            assert response.status_code < 500, (operation.label, response.text)
            case.validate_response(response, checks=CHECKS)

        call()
