"""Schemathesis against the OpenAPI document: generated calls, authenticated, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 15
"""A bounded number of generated calls per operation and role (the suite stays quick)."""


def _fuzz(operation: Any, headers: dict[str, str], label: str, failures: list[str]) -> None:
    """Call one operation with generated inputs; record any 5xx, check every error's shape."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} as {label}: {response.status_code}")
        elif response.status_code >= 400:
            body = response.json()
            assert isinstance(body, dict)
            assert isinstance(body.get("error"), str), body

    call()


def test_no_server_error_for_any_generated_call(app: FastAPI, tokens: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in cast(Iterable[Any], schema.get_all_operations())]
    assert len(operations) == 12
    failures: list[str] = []
    for role in ("investigator", "monitor"):
        for operation in operations:
            _fuzz(operation, {"Authorization": f"Bearer {tokens[role]}"}, role, failures)
    assert failures == []
