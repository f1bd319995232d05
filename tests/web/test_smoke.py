"""Quick end-to-end: sign in, create, edit, sign."""

from __future__ import annotations

from fastapi import FastAPI

from tests.web.conftest import Browser, example_as


def test_create_and_view(app: FastAPI, browsers: dict[str, Browser], tokens: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    api = TestClient(app)
    r = api.post(
        "/api/v1/candidates",
        json=example_as("incomplete", "SMOKE-1"),
        headers={"Authorization": f"Bearer {tokens['coordinator']}"},
    )
    assert r.status_code == 201, r.text
    page = browsers["coordinator"].client.get("/candidates/SMOKE-1")
    assert page.status_code == 200, page.text
    assert "INCOMPLETE" in page.text
