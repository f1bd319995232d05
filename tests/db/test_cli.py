"""The commands ``nmocart db upgrade``, ``nmocart user ...`` and ``nmocart audit ...``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from nmocart.cli import app
from nmocart.db.database import make_engine
from tests.db.conftest import OPERATOR, PASSWORDS

runner = CliRunner()


def run(db_url: str, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, [*args, "--database-url", db_url], input=stdin)


def test_commands_refuse_an_unmigrated_database_saying_what_to_run(db_url: str) -> None:
    for command in (["user", "list"], ["audit", "verify"]):
        result = run(db_url, *command)
        assert result.exit_code == 2
        assert "database not migrated" in result.output
        assert "run: nmocart db upgrade --database-url URL" in result.output
        assert "Traceback" not in result.output


def test_db_upgrade_creates_then_reports_the_revision(db_url: str) -> None:
    first = run(db_url, "db", "upgrade")
    assert (first.exit_code, first.output) == (0, "database migrated from empty to revision 0001\n")
    again = run(db_url, "db", "upgrade")
    assert (again.exit_code, again.output) == (0, "database already at revision 0001\n")


def test_db_upgrade_with_a_data_dir(tmp_path: Path) -> None:
    folder = str(tmp_path)
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", folder])
    assert result.exit_code == 0
    listed = runner.invoke(app, ["user", "list", "--data-dir", folder, "--format", "json"])
    assert (listed.exit_code, listed.output) == (0, "")


def test_user_lifecycle(db_url: str) -> None:
    assert run(db_url, "db", "upgrade").exit_code == 0
    added = run(
        db_url,
        "user",
        "add",
        "jdoe",
        "--role",
        "investigator",
        "--full-name",
        "Dr Jane Doe",
        "--password-stdin",
        stdin=PASSWORDS["investigator"] + "\n",
    )
    assert (added.exit_code, added.output) == (0, "added user jdoe (investigator, Dr Jane Doe)\n")
    listed = run(db_url, "user", "list", "--format", "json")
    (line,) = [orjson.loads(x) for x in listed.output.splitlines()]
    assert (line["username"], line["role"], line["full_name"], line["active"]) == (
        "jdoe",
        "investigator",
        "Dr Jane Doe",
        True,
    )
    assert set(line) == {
        "username",
        "full_name",
        "role",
        "active",
        "locked_until",
        "created_at",
        "last_login_at",
    }
    table = run(db_url, "user", "list")
    assert "jdoe" in table.output
    assert "Dr Jane Doe" in table.output
    changed = run(db_url, "user", "set-role", "jdoe", "monitor", "--reason", "now monitors")
    assert (changed.exit_code, changed.output) == (0, "user jdoe now has role monitor\n")
    disabled = run(db_url, "user", "disable", "jdoe", "--reason", "left the site")
    assert (disabled.exit_code, disabled.output) == (0, "disabled user jdoe\n")
    assert orjson.loads(run(db_url, "user", "list", "--format", "json").output)["active"] is False
    verified = run(db_url, "audit", "verify")
    assert (verified.exit_code, verified.output) == (0, "audit trail intact: 3 entries\n")
    exported = list(
        csv.DictReader(io.StringIO(run(db_url, "audit", "export", "--user", OPERATOR.name).output))
    )
    assert exported == []
    exported = list(csv.DictReader(io.StringIO(run(db_url, "audit", "export").output)))
    assert [(r["action"], r["reason"]) for r in exported] == [
        ("create", ""),
        ("set_role", "now monitors"),
        ("disable", "left the site"),
    ]
    assert all(r["actor"].startswith("cli:") for r in exported)
    for result in (added, listed, table, changed, disabled):
        assert PASSWORDS["investigator"] not in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "admin", "--full-name", "A", "--password-stdin"], "short\n", "password: shorter than 12"),
        (
            ["--role", "admin", "--full-name", " ", "--password-stdin"],
            "long enough secret\n",
            "full name: empty",
        ),
        (["--role", "admin", "--full-name", "A"], "", "password: give --password-stdin"),
    ],
)
def test_user_add_rejects_bad_input_in_one_line(
    db_url: str, args: list[str], stdin: str, message: str
) -> None:
    assert run(db_url, "db", "upgrade").exit_code == 0
    result = run(db_url, "user", "add", "alice", *args, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_user_commands_report_unknown_and_duplicate_users(db_url: str) -> None:
    assert run(db_url, "db", "upgrade").exit_code == 0
    add = ["user", "add", "alice", "--role", "admin", "--full-name", "Alice", "--password-stdin"]
    assert run(db_url, *add, stdin="long enough secret\n").exit_code == 0
    duplicate = run(db_url, *add, stdin="long enough secret\n")
    assert duplicate.exit_code == 2
    assert "username: 'alice' already exists" in duplicate.output
    unknown = run(db_url, "user", "disable", "bob", "--reason", "x")
    assert unknown.exit_code == 2
    assert "no account 'bob'" in unknown.output
    bad_role = run(db_url, "user", "set-role", "alice", "boss", "--reason", "x")
    assert bad_role.exit_code == 2
    bad_date = run(db_url, "audit", "export", "--since", "2026-02-30")
    assert bad_date.exit_code == 2
    assert "--since: '2026-02-30' is not a calendar date" in bad_date.output


def test_audit_verify_names_the_tampered_entry(db_url: str) -> None:
    assert run(db_url, "db", "upgrade").exit_code == 0
    for name in ("alice", "bob", "carol"):
        add = ["user", "add", name, "--role", "monitor", "--full-name", name.title(), "--password-stdin"]
        assert run(db_url, *add, stdin="long enough secret\n").exit_code == 0
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
            else:
                connection.execute(text("DROP TRIGGER audit_entry_no_update"))
            connection.execute(text("UPDATE audit_entry SET entity_id = 'mallory' WHERE sequence = 2"))
    finally:
        engine.dispose()
    result = run(db_url, "audit", "verify")
    assert result.exit_code == 1
    assert "audit trail broken: entry 2: content does not match its hash (altered)" in result.output


def test_an_unreachable_database_is_one_line_not_a_traceback() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2"
    for command in (["user", "list"], ["audit", "verify"], ["db", "upgrade"]):
        result = runner.invoke(app, [*command, "--database-url", url])
        assert result.exit_code == 2, command
        assert "Traceback" not in result.output
        assert result.output.startswith("error: cannot ")
        assert "Is the server running" in " ".join(result.output.split())  # the driver's own words


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:notaport/test",
        "postgresql+psycopg://postgres@127.0.0.1:99999999999/test",
        "postgresql+psycopg://postgres:db-secret-9@127.0.0.1:notaport/test",
        "postgresql+psycopg://postgres:db-secret-9@[::1/test",
    ],
)
def test_a_malformed_url_is_a_one_line_error_not_a_traceback(url: str) -> None:
    result = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: --database-url: ")
    assert len(result.output.strip().splitlines()) == 1
    assert "db-secret-9" not in result.output  # the database password is never echoed
