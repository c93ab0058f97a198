"""Schema-driven fuzzing of the OpenAPI spec (schemathesis): valid and invalid inputs for every operation of a
real server; every answer is a documented, well-formed JSON response and bad input is a 4xx with a message,
never a 5xx.

The operations' hypothesis strategies are driven here directly (schemathesis' pytest loader relies on pytest
internals that pytest 9 no longer has). schemathesis' ``negative_data_rejection`` check is not run: it judges
the generated value, not the bytes sent, and flags values that become valid once serialized into a query
string (a one-element array is one plain parameter); what it found for real (unknown and repeated query
parameters accepted silently) is refused now and tested in test_endpoints."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import KeyedServer

EXAMPLES = int(os.environ.get("MEMLAYER_FUZZ_EXAMPLES", "30"))
PARSER_REJECTED = "Invalid HTTP request received."
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def operations(server: KeyedServer) -> dict[str, schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    schema.config.generation.update(with_security_parameters=False)  # the key is sent by the test
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def test_the_spec_covers_the_api(operations: dict[str, schemathesis.APIOperation]) -> None:
    assert len(operations) == 23, sorted(operations)  # with GET /v1/scopes, GET /v1/search/presets and lifetimes (refresh, sweep, GET/PUT retention)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_5xx_and_clear_4xx(operations: dict[str, schemathesis.APIOperation], server: KeyedServer,
                              mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {server.keys['fuzz']}"}
    seen: dict[str, set[int]] = {}

    def fuzz(label: str, operation: schemathesis.APIOperation) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, headers=headers)
            seen.setdefault(label, set()).add(response.status_code)
            assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:500]}"
            if response.status_code == 400 and response.text == PARSER_REJECTED:
                return  # uvicorn's HTTP parser refused bytes that are not HTTP (before any app code runs)
            if response.status_code >= 400:
                assert response.headers.get("content-type") == ["application/json"], (
                    f"{label}: {response.status_code} {response.headers} {response.text[:300]!r}")
                error = response.json()["error"]
                assert error["status"] == response.status_code and error["code"] and len(error["message"]) > 10
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception:
                print(f"failing case of {label}: query={case.query!r} path={case.path_parameters!r} "
                      f"body={str(case.body)[:300]}")
                raise

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid: the operation takes no parameters and no body
            definition = operation.definition.raw
            assert mode == GenerationMode.NEGATIVE and not definition.get("parameters") and "requestBody" not in definition
            seen[label] = set()

    for label, operation in sorted(operations.items()):
        fuzz(label, operation)
    assert set(seen) == set(operations)
