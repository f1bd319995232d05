"""Security: CSRF, cookie flags, lockout, idle timeout, no clear passwords, headers, redirects."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from nmocart.db import accounts
from nmocart.db.accounts import SystemOperator
from nmocart.db.database import Database, open_database
from nmocart.db.roles import POLICY
from nmocart.web import WebSettings, create_app
from tests.web.conftest import CSRF_INPUT, Browser, example_as, sign_in


def test_form_post_without_csrf_token_is_rejected(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    record = orjson.dumps(example_as("eligible", "SEC-CSRF-1"))
    for data in ({}, {"csrf_token": "forged"}):
        response = coordinator.client.post(
            "/candidates/upload", data=data, files={"records": ("e.json", record, "application/json")}
        )
        assert response.status_code == 403
        assert "csrf_token" in response.text
    assert coordinator.client.get("/api/v1/candidates/SEC-CSRF-1").status_code == 404
    # with the token it goes through
    assert (
        coordinator.post(
            "/candidates/upload", files={"records": ("e.json", record, "application/json")}
        ).status_code
        == 200
    )
    assert coordinator.client.get("/api/v1/candidates/SEC-CSRF-1").status_code == 200


def test_cookie_authenticated_api_writes_need_the_csrf_header(browsers: dict[str, Browser]) -> None:
    coordinator = browsers["coordinator"]
    record = example_as("eligible", "SEC-CSRF-2")
    assert coordinator.client.post("/api/v1/candidates", json=record).status_code == 403
    ok = coordinator.client.post(
        "/api/v1/candidates", json=record, headers={"X-CSRF-Token": coordinator.csrf}
    )
    assert ok.status_code == 201


def test_login_form_needs_its_token(app: FastAPI, passwords: dict[str, str]) -> None:
    client = TestClient(app, follow_redirects=False)
    response = client.post("/login", data={"username": "monitor", "password": passwords["monitor"]})
    assert response.status_code == 403
    assert "nmocart_session" not in response.headers.get("set-cookie", "")


def _session_cookie(app: FastAPI, password: str, base_url: str = "http://testserver") -> str:
    client = TestClient(app, follow_redirects=False, base_url=base_url)
    token = CSRF_INPUT.search(client.get("/login").text)
    assert token is not None
    response = client.post(
        "/login", data={"username": "monitor", "password": password, "csrf_token": token[1]}
    )
    assert response.status_code == 303
    cookies: list[str] = response.headers.get_list("set-cookie")
    return next(c for c in cookies if c.startswith("nmocart_session="))


def test_session_cookie_flags(
    app: FastAPI, passwords: dict[str, str], database_url: str, db: Database
) -> None:
    cookie = _session_cookie(app, passwords["monitor"]).lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie
    secure_app = create_app(WebSettings(database_url=database_url, secure_cookies=True), db=db)
    assert "; secure" in _session_cookie(secure_app, passwords["monitor"], "https://testserver").lower()


def test_lockout_after_repeated_failures(app: FastAPI, db: Database) -> None:
    password = "a-long-enough-password-1"
    accounts.add_user(db, SystemOperator("test"), "lockme", "monitor", "Lock Me", password)
    client = TestClient(app, follow_redirects=False)
    for _ in range(POLICY.max_failed_logins):
        token = CSRF_INPUT.search(client.get("/login").text)
        assert token is not None
        failed = client.post(
            "/login", data={"username": "lockme", "password": "wrong", "csrf_token": token[1]}
        )
        assert failed.status_code == 401
    token = CSRF_INPUT.search(client.get("/login").text)
    assert token is not None
    locked = client.post("/login", data={"username": "lockme", "password": password, "csrf_token": token[1]})
    assert locked.status_code == 401
    assert "locked" in locked.text
    api = client.post("/api/v1/tokens", json={"username": "lockme", "password": password})
    assert api.status_code == 401
    assert "locked" in api.json()["error"]


class Clock:
    """A settable UTC clock for the idle-timeout test."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clocked(database_url: str) -> Iterator[tuple[FastAPI, Clock]]:
    clock = Clock()
    database = open_database(url=database_url, clock=clock)
    yield create_app(WebSettings(database_url=database_url), db=database), clock
    database.dispose()


def test_idle_timeout_ends_the_session(clocked: tuple[FastAPI, Clock], passwords: dict[str, str]) -> None:
    app, clock = clocked
    browser = sign_in(app, "monitor", passwords["monitor"])
    clock.now += dt.timedelta(minutes=POLICY.session_idle_minutes - 1)
    assert browser.client.get("/candidates").status_code == 200
    clock.now += dt.timedelta(minutes=POLICY.session_idle_minutes - 1)
    assert browser.client.get("/candidates").status_code == 200  # each use restarts the idle timer
    clock.now += dt.timedelta(minutes=POLICY.session_idle_minutes + 1)
    expired = browser.client.get("/candidates")
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/login")


def test_logout_ends_the_session(app: FastAPI, passwords: dict[str, str]) -> None:
    browser = sign_in(app, "monitor", passwords["monitor"])
    assert browser.post("/logout").status_code == 303
    assert browser.client.get("/candidates").status_code == 303


def test_passwords_never_stored_or_logged_in_clear(
    app: FastAPI, db: Database, passwords: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "clear-text-canary-password-42"
    accounts.add_user(db, SystemOperator("test"), "canary", "investigator", "Canary Person", secret)
    browser = sign_in(app, "canary", secret)
    client = TestClient(app)
    client.post("/api/v1/tokens", json={"username": "canary", "password": secret})
    client.post("/api/v1/tokens", json={"username": "canary", "password": secret + "-wrong"})
    record = example_as("eligible", "SEC-PW-1")
    browser.client.post("/api/v1/candidates", json=record, headers={"X-CSRF-Token": browser.csrf})
    browser.post(
        "/candidates/SEC-PW-1/sign",
        {"password": secret, "meaning": "I confirm the eligibility decision: eligible", "version": "1"},
    )
    assert secret not in caplog.text
    dump = _dump(db)
    assert secret not in dump
    for password in passwords.values():
        assert password not in dump
    assert "$argon2id$" in dump


def _dump(db: Database) -> str:
    """Every table's rows as text."""
    from nmocart.db.models import Base

    parts = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(text(f"SELECT * FROM {table.name}")):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_security_headers_and_no_open_redirect(app: FastAPI, passwords: dict[str, str]) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    token = CSRF_INPUT.search(page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={
            "username": "monitor",
            "password": passwords["monitor"],
            "csrf_token": token[1],
            "next": "//evil.test/x",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
