"""Schemathesis over the OpenAPI: whatever the schema admits, no request gets a 5xx.

Schemathesis generates requests for every operation from the published OpenAPI document
(valid and edge-case bodies, paths and query strings) and sends them through the ASGI app with a
servicing token. Runs on SQLite; PostgreSQL has its own service tests.

CI runs a fixed (derandomised) set of examples so that a red build always means a change broke
something; `TAILGUARD_FUZZ_EXAMPLES=500 TAILGUARD_FUZZ_RANDOM=1 scripts/test -k fuzz` explores
new ground locally, and whatever it finds becomes a named regression test.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.services.booking import book_application
from tests.service.conftest import make_platform
from tests.service.factories import application, with_dealer

warnings.simplefilter("ignore", CalendarFallbackWarning)
EXAMPLES = int(os.environ.get("TAILGUARD_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("TAILGUARD_FUZZ_RANDOM") == "1"


@pytest.mark.filterwarnings("ignore")
def test_no_operation_answers_with_a_server_error(sqlite_template: Any, tmp_path: Any) -> None:
    import shutil

    target = tmp_path / "fuzz.db"
    shutil.copyfile(sqlite_template, target)
    clock = FixedClock.at(application(1).disbursement_date)
    platform = make_platform(f"sqlite:///{target}", clock)
    with_dealer(platform)
    book_application(platform, "officer", application(1, loan_id="L00001"))
    clock.advance(timedelta(days=60))
    app = create_app(platform)
    token = app.state.tokens.issue("fuzz-servicing", Role.SERVICING)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "fuzz-key-0001"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=not RANDOM)
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:200]}")
            assert response.status_code < 500

        with contextlib.suppress(AssertionError):  # failures are collected above
            check()
    platform.engine.dispose()
    assert operations >= 15
    assert len(calls) >= 10 * operations  # really sent, not just collected
    assert failures == []
