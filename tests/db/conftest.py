"""Fixtures of the database tests: every test runs on SQLite and on PostgreSQL.

PostgreSQL (``NMOCART_TEST_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
gets one fresh schema per test, dropped afterwards. If PostgreSQL is unreachable the PostgreSQL
variants fail with a message saying so; ``NMOCART_TEST_POSTGRES=0`` leaves them out.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nmocart.db import accounts
from nmocart.db.accounts import Actor, SystemOperator
from nmocart.db.database import Database, make_engine, upgrade
from nmocart.db.roles import Role
from nmocart.screening.protocol import load_protocol

POSTGRES_URL = os.environ.get(
    "NMOCART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite"] + ([] if os.environ.get("NMOCART_TEST_POSTGRES") == "0" else ["postgresql"])
EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "nmocart" / "data" / "examples"
PASSWORDS = {
    "coordinator": "coordinator-secret-1",
    "investigator": "investigator-secret-2",
    "monitor": "monitor-secret-3",
    "admin": "admin-secret-4",
}
"""One password per role; each distinctive enough to scan the database and logs for."""


@dataclass
class Clock:
    """A settable UTC clock: tests move time forward for lockouts and timeouts."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _postgres_schema_url(schema: str) -> str:
    return (
        make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'nmocart.sqlite3'}"
        return
    admin = create_engine(POSTGRES_URL)
    schema = f"nmocart_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__}); start it, point "
            "NMOCART_TEST_POSTGRES_URL at one, or set NMOCART_TEST_POSTGRES=0 to leave these tests out"
        )
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(db_url: str, clock: Clock) -> Iterator[Database]:
    """A migrated database with a settable clock."""
    engine = make_engine(db_url)
    upgrade(engine)
    database = Database(engine, load_protocol(), clock)
    yield database
    database.dispose()


OPERATOR = SystemOperator("cli:test")


def make_user(db: Database, role: str, username: str | None = None) -> Actor:
    """Create an account of ``role`` (password from :data:`PASSWORDS`) and return it as an actor."""
    name = username if username is not None else role
    info = accounts.add_user(db, OPERATOR, name, role, f"Dr {name.title()}", PASSWORDS[role])
    return Actor(info.user_id, info.username, info.full_name, Role(info.role))


@pytest.fixture
def coordinator(db: Database) -> Actor:
    return make_user(db, "coordinator")


@pytest.fixture
def investigator(db: Database) -> Actor:
    return make_user(db, "investigator")


@pytest.fixture
def monitor(db: Database) -> Actor:
    return make_user(db, "monitor")


@pytest.fixture
def admin(db: Database) -> Actor:
    return make_user(db, "admin")


def example(name: str) -> bytes:
    """One of the study team's example records (eligible, ineligible, incomplete)."""
    return (EXAMPLES / f"{name}.json").read_bytes()


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with minimal cost: the policy's 64 MiB x 3 takes about a second per hash on a busy
    test machine. ``test_production_hasher_uses_the_policy`` checks the real parameters."""
    from argon2 import PasswordHasher, Type

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    monkeypatch.setattr(accounts, "_hasher", lambda: cheap)


def kinetics_csv(subjects: int = 2) -> bytes:
    """A small seeded synthetic kinetics samples CSV (the demo's generator)."""
    from nmocart.kinetics import stein

    return stein.to_csv(stein.simulate(subjects, 7)).encode()


def safety_record() -> bytes:
    """One seeded synthetic safety record (the demo's generator) as JSON."""
    import orjson

    from nmocart.safety.synthetic import synthetic_study

    return orjson.dumps(next(iter(synthetic_study(1, seed=7))))
