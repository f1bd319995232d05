"""Role-by-route matrix: every route and API call, every role and anonymous, expected status.

The expected permission of each route is written here by hand (from issue 7's roles), not read
from the code, and the test enumerates ``app.routes``: a new route without an entry fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmocart.db.roles import Permission, allowed
from tests.web.conftest import ROLES, Browser, example_as
from tests.web.routes import all_routes

PUBLIC = "public"
SIGNED_IN = "signed-in"


@dataclass(frozen=True)
class Case:
    """How to call one route and what a permitted caller gets."""

    permission: Permission | str
    path: str
    ok: frozenset[int]
    kind: str = "page"  # page (cookie + CSRF form), api (bearer token), or public
    body: Callable[[str], dict[str, Any]] = field(default=lambda role: {})
    files: Callable[[str], dict[str, Any]] | None = None


C = "MX-1"
OK = frozenset({200})
SEE_OTHER = frozenset({303})


def _csv() -> bytes:
    from nmocart.kinetics import stein

    return stein.to_csv(stein.simulate(2, 7)).encode()


def _safety() -> bytes:
    import orjson

    from nmocart.safety.synthetic import synthetic_study

    return orjson.dumps(next(iter(synthetic_study(1, seed=3))))


MATRIX: dict[tuple[str, str], Case] = {
    ("MOUNT", "/static"): Case(PUBLIC, "/static/app.css", OK, "public"),
    ("GET", "/api/v1/openapi.json"): Case(PUBLIC, "/api/v1/openapi.json", OK, "public"),
    ("GET", "/api/docs"): Case(PUBLIC, "/api/docs", OK, "public"),
    ("GET", "/login"): Case(PUBLIC, "/login", OK, "public"),
    ("POST", "/login"): Case(PUBLIC, "/login", frozenset({403}), "public"),
    ("POST", "/logout"): Case(SIGNED_IN, "/logout", SEE_OTHER),
    ("GET", "/"): Case(SIGNED_IN, "/", OK),
    ("GET", "/candidates"): Case(Permission.read_candidates, "/candidates", OK),
    ("GET", "/candidates/new"): Case(Permission.edit_candidates, "/candidates/new", OK),
    ("POST", "/candidates/new"): Case(
        Permission.edit_candidates,
        "/candidates/new",
        SEE_OTHER,
        body=lambda role: {
            "f.candidate_id": f"MX-NEW-{role}",
            "f.screening_date": "2026-03-01",
            "f.sex": "female",
        },
    ),
    ("POST", "/candidates/upload"): Case(
        Permission.edit_candidates,
        "/candidates/upload",
        OK,
        files=lambda role: {
            "records": (
                "r.json",
                __import__("orjson").dumps(example_as("eligible", f"MX-UP-{role}")),
                "application/json",
            )
        },
    ),
    ("GET", "/candidates/{candidate_id}"): Case(Permission.read_candidates, f"/candidates/{C}", OK),
    ("GET", "/candidates/{candidate_id}/versions"): Case(
        Permission.read_candidates, f"/candidates/{C}/versions", OK
    ),
    ("GET", "/candidates/{candidate_id}/versions/{version}"): Case(
        Permission.read_candidates, f"/candidates/{C}/versions/1", OK
    ),
    ("GET", "/candidates/{candidate_id}/versions/{version}/record"): Case(
        Permission.read_candidates, f"/candidates/{C}/versions/1/record", OK
    ),
    ("GET", "/candidates/{candidate_id}/diff"): Case(
        Permission.read_candidates, f"/candidates/{C}/diff?a=1&b=1", OK
    ),
    ("GET", "/candidates/{candidate_id}/edit/{section}"): Case(
        Permission.edit_candidates, f"/candidates/{C}/edit/labs", OK
    ),
    ("POST", "/candidates/{candidate_id}/edit/{section}"): Case(
        Permission.edit_candidates,
        f"/candidates/{C}/edit/labs",
        frozenset({422}),
        body=lambda role: {"action": "add", "base_version": "1"},
    ),
    ("GET", "/candidates/{candidate_id}/sign"): Case(Permission.sign, f"/candidates/{C}/sign", OK),
    ("POST", "/candidates/{candidate_id}/sign"): Case(
        Permission.sign,
        f"/candidates/{C}/sign",
        frozenset({401}),
        body=lambda role: {"password": "not-the-password", "meaning": "x"},
    ),
    ("GET", "/candidates/{candidate_id}/status"): Case(
        Permission.change_status, f"/candidates/{C}/status", OK
    ),
    ("POST", "/candidates/{candidate_id}/status"): Case(
        Permission.change_status,
        f"/candidates/{C}/status",
        frozenset({409}),
        body=lambda role: {"effective_date": "2026-03-02", "status": "enrolled", "reason": "matrix"},
    ),
    ("GET", "/screening-log"): Case(Permission.read_screening_log, "/screening-log", OK),
    ("GET", "/screening-log.csv"): Case(Permission.read_screening_log, "/screening-log.csv", OK),
    ("GET", "/screening-log/flow.svg"): Case(Permission.read_screening_log, "/screening-log/flow.svg", OK),
    ("GET", "/audit"): Case(Permission.read_audit, "/audit", OK),
    ("GET", "/audit.csv"): Case(Permission.read_audit, "/audit.csv", OK),
    ("GET", "/safety"): Case(Permission.read_uploads, "/safety", OK),
    ("POST", "/safety"): Case(
        Permission.upload_data,
        "/safety",
        SEE_OTHER,
        files=lambda role: {"file": ("s.json", _safety(), "application/json")},
    ),
    ("GET", "/safety/{upload_id}"): Case(Permission.read_uploads, "/safety/1", OK),
    ("GET", "/kinetics"): Case(Permission.read_uploads, "/kinetics", OK),
    ("POST", "/kinetics"): Case(
        Permission.upload_data,
        "/kinetics",
        SEE_OTHER,
        files=lambda role: {"file": ("k.csv", _csv(), "text/csv")},
    ),
    ("GET", "/kinetics/{upload_id}"): Case(Permission.read_uploads, "/kinetics/2", OK),
    ("GET", "/kinetics/{upload_id}/report"): Case(Permission.read_uploads, "/kinetics/2/report", OK),
    ("GET", "/export"): Case(Permission.change_status, "/export", OK),
    ("POST", "/export"): Case(Permission.change_status, "/export", frozenset({422})),
    ("GET", "/admin/users"): Case(Permission.manage_accounts, "/admin/users", OK),
    ("POST", "/admin/users"): Case(
        Permission.manage_accounts, "/admin/users", frozenset({422}), body=lambda role: {"username": "x"}
    ),
    ("POST", "/admin/users/{username}/role"): Case(
        Permission.manage_accounts,
        "/admin/users/nobody/role",
        frozenset({404}),
        body=lambda role: {"role": "monitor", "reason": "matrix"},
    ),
    ("POST", "/admin/users/{username}/disable"): Case(
        Permission.manage_accounts,
        "/admin/users/nobody/disable",
        frozenset({404}),
        body=lambda role: {"reason": "matrix"},
    ),
    # the JSON API
    ("POST", "/api/v1/tokens"): Case(
        PUBLIC,
        "/api/v1/tokens",
        frozenset({401}),
        "public",
        body=lambda role: {"username": "nobody", "password": "wrong"},
    ),
    ("POST", "/api/v1/candidates"): Case(
        Permission.edit_candidates,
        "/api/v1/candidates",
        frozenset({201}),
        "api",
        body=lambda role: example_as("eligible", f"MX-API-{role}"),
    ),
    ("GET", "/api/v1/candidates"): Case(Permission.read_candidates, "/api/v1/candidates", OK, "api"),
    ("GET", "/api/v1/candidates/{candidate_id}"): Case(
        Permission.read_candidates, f"/api/v1/candidates/{C}", OK, "api"
    ),
    ("PUT", "/api/v1/candidates/{candidate_id}"): Case(
        Permission.edit_candidates,
        f"/api/v1/candidates/{C}",
        frozenset({409}),
        "api",
        body=lambda role: {"record": example_as("incomplete", C), "base_version": 99, "reason": "matrix"},
    ),
    ("GET", "/api/v1/candidates/{candidate_id}/versions"): Case(
        Permission.read_candidates, f"/api/v1/candidates/{C}/versions", OK, "api"
    ),
    ("GET", "/api/v1/candidates/{candidate_id}/diff"): Case(
        Permission.read_candidates, f"/api/v1/candidates/{C}/diff?old=1&new=1", OK, "api"
    ),
    ("POST", "/api/v1/candidates/{candidate_id}/signatures"): Case(
        Permission.sign,
        f"/api/v1/candidates/{C}/signatures",
        frozenset({401}),
        "api",
        body=lambda role: {"password": "wrong", "meaning": "x"},
    ),
    ("POST", "/api/v1/candidates/{candidate_id}/status"): Case(
        Permission.change_status,
        f"/api/v1/candidates/{C}/status",
        frozenset({409}),
        "api",
        body=lambda role: {"status": "enrolled", "effective_date": "2026-03-02", "reason": "matrix"},
    ),
    ("GET", "/api/v1/candidates/{candidate_id}/audit"): Case(
        Permission.read_audit, f"/api/v1/candidates/{C}/audit", OK, "api"
    ),
    ("GET", "/api/v1/audit"): Case(Permission.read_audit, "/api/v1/audit", OK, "api"),
    ("GET", "/api/v1/screening-log"): Case(
        Permission.read_screening_log, "/api/v1/screening-log?format=csv", OK, "api"
    ),
}


def test_every_route_has_an_entry(app: FastAPI) -> None:
    """A route added without a matrix entry (or an entry whose route is gone) fails here."""
    routes = set(all_routes(app))
    assert routes - set(MATRIX) == set(), "routes without an expected permission"
    assert set(MATRIX) - routes == set(), "matrix entries for routes that do not exist"


@pytest.fixture(scope="module")
def seeded(app: FastAPI, tokens: dict[str, str]) -> None:
    """The candidate and uploads the matrix's paths name."""
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {tokens['coordinator']}"}
    assert (
        client.post("/api/v1/candidates", json=example_as("incomplete", C), headers=auth).status_code == 201
    )
    from nmocart.db import uploads
    from nmocart.db.accounts import lookup_token

    actor = lookup_token(app.state.db, tokens["coordinator"])
    assert actor is not None
    assert uploads.store_upload(app.state.db, actor, "safety", "s.json", _safety()).upload_id == 1
    assert uploads.store_upload(app.state.db, actor, "kinetics", "k.csv", _csv()).upload_id == 2


def _call(
    case: Case,
    method: str,
    client: TestClient,
    role: str | None,
    browsers: dict[str, Browser],
    tokens: dict[str, str],
) -> int:
    kwargs: dict[str, Any] = {}
    if case.kind == "api" or case.path.startswith("/api/"):
        if role is not None and case.kind == "api":
            kwargs["headers"] = {"Authorization": f"Bearer {tokens[role]}"}
        if method in ("POST", "PUT"):
            kwargs["json"] = case.body(role or "anon")
    elif method == "POST":
        data = dict(case.body(role or "anon"))
        if role is not None and case.kind == "page":
            data["csrf_token"] = browsers[role].csrf
        kwargs["data"] = data
        if case.files is not None:
            kwargs["files"] = case.files(role or "anon")
    response = client.request("GET" if method == "MOUNT" else method, case.path, **kwargs)
    if response.status_code == 303 and role is None:
        assert response.headers["location"].startswith("/login"), response.headers["location"]
    return int(response.status_code)


@pytest.mark.parametrize("who", [*ROLES, None], ids=[*ROLES, "anonymous"])
def test_role_by_route(
    app: FastAPI, seeded: None, browsers: dict[str, Browser], tokens: dict[str, str], who: str | None
) -> None:
    """Each role gets the permitted outcome or 403; anonymous gets 401 (or the sign-in page)."""
    failures = []
    # signing out ends the session the other page calls use: do it last
    for (method, template), case in sorted(
        MATRIX.items(), key=lambda item: (item[0] == ("POST", "/logout"), item[0])
    ):
        if who is None:
            client = TestClient(app, follow_redirects=False)
        elif case.kind == "page":
            client = browsers[who].client
        else:
            client = TestClient(app, follow_redirects=False)
        status = _call(case, method, client, who, browsers, tokens)
        if case.permission == PUBLIC:
            expected = case.ok
        elif who is None:
            expected = frozenset({303}) if (case.kind == "page" and method == "GET") else frozenset({401})
        elif case.permission == SIGNED_IN or allowed(who, Permission(case.permission)):
            expected = case.ok
        else:
            expected = frozenset({403})
        if status not in expected:
            failures.append(
                f"{method} {template} as {who or 'anonymous'}: {status}, expected {sorted(expected)}"
            )
    assert failures == []
