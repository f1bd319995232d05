"""Fixtures of the web tests: a migrated database per test module on SQLite and on PostgreSQL,
one account per role, signed-in browser clients and API tokens.

PostgreSQL is the server at 127.0.0.1:5432 (trust authentication, user ``postgres``); each test
module gets its own database, created and dropped here. If it cannot be reached the PostgreSQL
variants fail with a message saying so, unless ``NMOCART_TEST_POSTGRES=0`` leaves them out.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nmocart.db import accounts
from nmocart.db.accounts import SystemOperator
from nmocart.db.database import Database, make_engine, open_database, upgrade
from nmocart.web import WebSettings, create_app

PG_ADMIN_URL = os.environ.get("NMOCART_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite"] if os.environ.get("NMOCART_TEST_POSTGRES") == "0" else ["sqlite", "postgresql"]
ROLES = ("coordinator", "investigator", "monitor", "admin")
FULL_NAMES = {
    "coordinator": "Casey Coordinator",
    "investigator": "Dr Ines Investigator",
    "monitor": "Morgan Monitor",
    "admin": "Ada Admin",
}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def _pg_database(name: str) -> str:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc}); start it or set NMOCART_TEST_POSTGRES=0 "
            "to run the SQLite variants only"
        )
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated, empty study database for this test module."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("web-db")
        url = f"sqlite:///{folder / 'nmocart.sqlite3'}"
        name = None
    else:
        module = re.sub(r"[^a-z0-9]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
        name = f"nmocart_{module}_{secrets.token_hex(4)}"
        url = _pg_database(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    if name is not None:
        _pg_drop(name)


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Database]:
    """The open database (shared by the app and the test)."""
    database = open_database(url=database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def passwords(db: Database) -> dict[str, str]:
    """One account per role (user name = role); their passwords."""
    out = {}
    for role in ROLES:
        password = f"pw-{role}-{secrets.token_hex(8)}"
        accounts.add_user(db, SystemOperator("test"), role, role, FULL_NAMES[role], password)
        out[role] = password
    return out


@pytest.fixture(scope="module")
def app(db: Database, database_url: str, passwords: dict[str, str]) -> FastAPI:
    """The application on this module's database, with the role accounts in place."""
    return create_app(WebSettings(database_url=database_url), db=db)


@dataclass
class Browser:
    """A signed-in browser: the client (holding the cookies) and the session's CSRF token."""

    client: TestClient
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """A form POST carrying the CSRF token."""
        response: httpx.Response = self.client.post(
            path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs
        )
        return response


def sign_in(app: FastAPI, username: str, password: str) -> Browser:
    """Sign in through the login form, as a browser does."""
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    token = CSRF_INPUT.search(page.text)
    assert token is not None
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token[1], "next": "/"}
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    found = CSRF_INPUT.search(home.text)
    assert found is not None
    return Browser(client, found[1])


@pytest.fixture(scope="module")
def browsers(app: FastAPI, passwords: dict[str, str]) -> dict[str, Browser]:
    """A signed-in browser per role."""
    return {role: sign_in(app, role, passwords[role]) for role in ROLES}


@pytest.fixture(scope="module")
def tokens(app: FastAPI, passwords: dict[str, str]) -> dict[str, str]:
    """An API bearer token per role."""
    client = TestClient(app)
    out = {}
    for role in ROLES:
        response = client.post("/api/v1/tokens", json={"username": role, "password": passwords[role]})
        assert response.status_code == 201, response.text
        out[role] = response.json()["token"]
    return out


def example(name: str) -> bytes:
    """A shipped example record."""
    from nmocart.demo import example_bytes

    return example_bytes(name)


def example_as(name: str, candidate_id: str) -> dict[str, Any]:
    """A shipped example under another candidate id."""
    import orjson

    record: dict[str, Any] = orjson.loads(example(name))
    record["candidate_id"] = candidate_id
    return record
