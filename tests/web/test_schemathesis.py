"""Property-based run of the OpenAPI spec against the app (in process): no server errors, responses match the spec.

Bounded to a few examples per operation so it stays fast; the survey-trigger operation writes links only
(links are not answers), so the workspace is not changed.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from csmetrics.web.app import create_app
from csmetrics.web.store import Store

# The app is built now (the schema needs no data); its store is attached by the fixture below.
APP = create_app(None)  # type: ignore[arg-type]
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture(scope="module")
def api_token(shared_store: Store) -> str:
    APP.state.store = shared_store
    return shared_store.create_token("schemathesis")


@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_has_no_server_errors_and_follows_its_spec(case: schemathesis.Case, api_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance])
