"""The API keeps its contract: the OpenAPI document in docs/ is the one the server serves,
and schemathesis, generating requests from it, never gets a 500 or an answer that breaks
the document."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis import checks

from tests.e2e.api_client import api_server
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

schemathesis.serializer.alias("audio/wav", "application/octet-stream")  # greeting uploads

COMMITTED = ROOT / "docs" / "openapi.json"
MAX_EXAMPLES = 25
"""Requests per operation: 21 operations stay well under a minute."""
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_the_committed_openapi_document_is_the_served_one(tmp_path: Path) -> None:
    with api_server(tmp_path) as api:
        served = api.client.get("/openapi.json").json()
    regenerate = (
        "python -c 'from switchboard.api.http import openapi_document as d; "
        'open("docs/openapi.json", "w").write(d())\''
    )
    assert json.loads(COMMITTED.read_text()) == served, f"regenerate it: {regenerate}"


def fuzz(
    operation: schemathesis.APIOperation,
    base: str,
    headers: dict[str, str],
    wanted: list,
    statuses: Counter[int],
) -> None:
    """Send ``MAX_EXAMPLES`` generated requests to one operation and check each answer."""

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base, headers=headers, checks=wanted)
        statuses[response.status_code] += 1

    check()


def test_generated_requests_never_get_a_server_error(tmp_path: Path) -> None:
    with api_server(tmp_path) as api:
        schema = schemathesis.openapi.from_url(f"{api.base}/openapi.json")
        headers = {"Authorization": f"Bearer {api.token}"}
        started = time.monotonic()
        problems: list[str] = []
        statuses: Counter[int] = Counter()
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            name = f"{operation.method.upper()} {operation.path}"
            try:
                fuzz(operation, api.base, headers, CHECKS, statuses)
            except (Exception, BaseExceptionGroup) as failure:  # report every operation
                problems.append(f"{name}: {failure}")
        took = time.monotonic() - started
        print(f"schemathesis: {len(operations)} operations in {took:.1f} s; statuses {statuses}")
        assert len(operations) >= 20
        assert problems == [], "\n\n".join(problems)
        assert statuses[200] > 0 and statuses[401] == 0  # the generated requests got in
        assert "Traceback" not in api.server.log
