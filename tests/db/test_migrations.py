"""Migrations from empty, the head check at startup, and SQLite's durability settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from nmocart.db.database import (
    ENV_DATABASE_URL,
    check_at_head,
    current_revision,
    database_url,
    head_revision,
    make_engine,
    open_database,
    upgrade,
)
from nmocart.db.errors import InvalidInputError, NotMigratedError
from nmocart.db.models import Base

TABLES = {
    "user_account",
    "browser_session",
    "api_token",
    "candidate",
    "candidate_version",
    "signature",
    "status_change",
    "upload",
    "audit_head",
    "audit_entry",
}


def test_upgrade_from_empty_creates_every_table_at_head(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(NotMigratedError, match=r"database not migrated \(empty.*run: nmocart db upgrade"):
            check_at_head(engine)
        before, after = upgrade(engine)
        assert (before, after) == (None, head_revision())
        check_at_head(engine)
        names = set(inspect(engine).get_table_names())
        assert names >= TABLES
        assert set(Base.metadata.tables) == TABLES
        assert upgrade(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()


def test_migrated_columns_match_the_models(db_url: str) -> None:
    """The hand-written migration and the ORM models describe the same columns."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        inspector = inspect(engine)
        for name, table in Base.metadata.tables.items():
            migrated = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
            modelled = {c.name: c.nullable for c in table.columns}
            assert migrated == modelled, name
    finally:
        engine.dispose()


def test_open_database_refuses_an_unmigrated_database_naming_the_command(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    with pytest.raises(NotMigratedError) as caught:
        open_database(folder)
    assert f"run: nmocart db upgrade --data-dir {folder}" in str(caught.value)
    assert not folder.exists(), "checking must not create the database"
    engine = make_engine(database_url(folder))
    upgrade(engine)
    engine.dispose()
    open_database(folder).dispose()


def test_sqlite_runs_with_wal_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    engine = make_engine(database_url(tmp_path))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_database_url_prefers_option_then_environment_then_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert database_url() == f"sqlite:///{(Path('nmocart-data') / 'nmocart.sqlite3').absolute()}"
    assert database_url(tmp_path) == f"sqlite:///{tmp_path / 'nmocart.sqlite3'}"
    monkeypatch.setenv(ENV_DATABASE_URL, "postgresql://u@h:5432/d")
    assert make_url(database_url()).drivername == "postgresql+psycopg"
    assert database_url(tmp_path).startswith("sqlite:///"), "an explicit --data-dir beats the environment"
    with pytest.raises(InvalidInputError, match="give one of them"):
        database_url(tmp_path, "postgresql+psycopg://u@h/d")
    with pytest.raises(InvalidInputError, match="not a database URL"):
        database_url(url="not a url")
    with pytest.raises(InvalidInputError, match="'mysql' is not supported"):
        database_url(url="mysql://u@h/d")
