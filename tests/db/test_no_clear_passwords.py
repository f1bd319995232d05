"""Passwords and tokens never reach the database or the logs in clear."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from nmocart.db import accounts, candidates, signatures
from nmocart.db.database import Database
from nmocart.db.errors import AuthenticationError
from tests.db.conftest import PASSWORDS, example, make_user


def _everything_stored(db: Database) -> bytes:
    """Every byte the database holds: the SQLite files, or every row of every table as text."""
    if db.dialect == "sqlite":
        path = make_url(str(db.engine.url)).database
        assert path is not None
        files = [Path(path), Path(path + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    chunks = []
    with db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for (row,) in connection.execute(text(f"SELECT t::text FROM {table} t")):
                chunks.append(row.encode())
    return b"\n".join(chunks)


def test_no_password_or_token_is_stored_or_logged_in_clear(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # statements and their parameters
    try:
        investigator = make_user(db, "investigator")
        make_user(db, "coordinator")
        actor = accounts.authenticate(db, "coordinator", PASSWORDS["coordinator"])
        with pytest.raises(AuthenticationError):
            accounts.authenticate(db, "coordinator", "a-wrong-password-typed")
        grant = accounts.create_session(db, actor)
        api = accounts.issue_token(db, "investigator", PASSWORDS["investigator"])
        candidates.create_candidate(db, actor, example("eligible"))
        with pytest.raises(AuthenticationError):
            signatures.sign(db, investigator, "SCR-0001", "another-wrong-password", "I agree")
        signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], "I agree")
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    stored = _everything_stored(db)
    logs = caplog.text
    assert "INSERT INTO user_account" in logs, "the SQL log was captured"
    assert b"SCR-0001" in stored, "the scan sees the stored data"
    secrets = [
        PASSWORDS["investigator"],
        PASSWORDS["coordinator"],
        "a-wrong-password-typed",
        "another-wrong-password",
        grant.token,
        api.token,
    ]
    for secret in secrets:
        assert secret.encode() not in stored, secret
        assert secret not in logs, secret
