"""``nmocart db``, ``nmocart user`` and ``nmocart audit``: the study database from the command line.

A thin adapter over :mod:`nmocart.db`: parse options, call the service, print one line per
outcome. Exit 0 on success, 1 when ``audit verify`` finds a broken chain, 2 for unusable input
(the message names the option or field and the fix).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from nmocart.db import accounts, audit
from nmocart.db.database import Database, database_url, make_engine, one_line, open_database, upgrade
from nmocart.db.errors import DatabaseError
from nmocart.db.roles import Role

__all__ = ["audit_app", "db_app", "user_app"]

EXIT_BROKEN = 1
"""``audit verify``: the chain does not match."""
EXIT_REJECTED = 2
"""Unusable input or an action the database refused."""

db_app = typer.Typer(help="Create and migrate the study database.", no_args_is_help=True)
user_app = typer.Typer(help="Manage user accounts (no default accounts exist).", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and export the hash-chained audit trail.", no_args_is_help=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the embedded SQLite database (default ./nmocart-data).",
        show_default=False,
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql+psycopg://USER@HOST:PORT/DB (or NMOCART_DATABASE_URL).",
        show_default=False,
    ),
]


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(message: str, code: int = EXIT_REJECTED) -> typer.Exit:
    _stderr().print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _database(data_dir: Path | None, url: str | None) -> Iterator[Database]:
    """Open the migrated database, turning every database error into a one-line exit."""
    try:
        db = open_database(data_dir, url)
    except DatabaseError as exc:
        raise _fail(str(exc)) from None
    try:
        yield db
    except DatabaseError as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"database error: {one_line(exc)}") from None
    finally:
        db.dispose()


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDirOption = None, database_url_option: UrlOption = None) -> None:
    """Create the database or apply pending migrations (safe to run again)."""
    try:
        engine = make_engine(database_url(data_dir, database_url_option))
    except DatabaseError as exc:
        raise _fail(str(exc)) from None
    try:
        before, after = upgrade(engine)
    except SQLAlchemyError as exc:
        raise _fail(f"cannot migrate the database: {one_line(exc)}") from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"database already at revision {after}")
    else:
        typer.echo(f"database migrated from {'empty' if before is None else before} to revision {after}")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise _fail("password: give --password-stdin to read it from standard input")
    first: str = typer.prompt("Password", hide_input=True)
    second: str = typer.prompt("Repeat password", hide_input=True)
    if first != second:
        raise _fail("password: the two entries differ; try again")
    return first


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name (lower case, e.g. jdoe).")],
    role: Annotated[Role, typer.Option("--role", help="coordinator, investigator, monitor or admin.")],
    full_name: Annotated[
        str,
        typer.Option(
            "--full-name", help="Printed name shown with the user's signatures (e.g. 'Dr Jane Doe')."
        ),
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    data_dir: DataDirOption = None,
    database_url_option: UrlOption = None,
) -> None:
    """Add an account; the password is read from stdin or prompted, never from the command line."""
    password = _read_password(password_stdin)
    with _database(data_dir, database_url_option) as db:
        info = accounts.add_user(db, accounts.SystemOperator.from_os(), name, role.value, full_name, password)
    typer.echo(f"added user {info.username} ({info.role}, {info.full_name})")


class ListFormat(StrEnum):
    """Output formats of ``nmocart user list``."""

    text = "text"
    json = "json"


def _when(moment: dt.datetime | None) -> str | None:
    return None if moment is None else audit.timestamp_text(moment)


@user_app.command("list")
def user_list(
    output_format: Annotated[ListFormat, typer.Option("--format")] = ListFormat.text,
    data_dir: DataDirOption = None,
    database_url_option: UrlOption = None,
) -> None:
    """List every account (never a password or its hash)."""
    with _database(data_dir, database_url_option) as db:
        users = accounts.list_users(db, accounts.SystemOperator.from_os())
    if output_format is ListFormat.json:
        for u in users:
            line = {
                "username": u.username,
                "full_name": u.full_name,
                "role": u.role.value,
                "active": u.active,
                "locked_until": _when(u.locked_until),
                "created_at": _when(u.created_at),
                "last_login_at": _when(u.last_login_at),
            }
            sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
        return
    from rich.table import Table

    table = Table("User", "Full name", "Role", "State", "Created (UTC)", "Last login (UTC)")
    for u in users:
        state = "active" if u.active else "disabled"
        if u.locked_until is not None:
            state += f", locked until {_when(u.locked_until)}"
        table.add_row(
            u.username, u.full_name, u.role.value, state, _when(u.created_at), _when(u.last_login_at)
        )
    Console(highlight=False).print(table)


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit trail).")]


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name.")],
    reason: ReasonOption,
    data_dir: DataDirOption = None,
    database_url_option: UrlOption = None,
) -> None:
    """Disable an account (kept for attribution; its sessions and tokens end)."""
    with _database(data_dir, database_url_option) as db:
        info = accounts.disable_user(db, accounts.SystemOperator.from_os(), name, reason)
    typer.echo(f"disabled user {info.username}")


@user_app.command("set-role")
def user_set_role(
    name: Annotated[str, typer.Argument(metavar="NAME", help="User name.")],
    role: Annotated[
        Role, typer.Argument(metavar="ROLE", help="coordinator, investigator, monitor or admin.")
    ],
    reason: ReasonOption,
    data_dir: DataDirOption = None,
    database_url_option: UrlOption = None,
) -> None:
    """Change an account's role."""
    with _database(data_dir, database_url_option) as db:
        info = accounts.set_role(db, accounts.SystemOperator.from_os(), name, role.value, reason)
    typer.echo(f"user {info.username} now has role {info.role}")


@audit_app.command("verify")
def audit_verify(data_dir: DataDirOption = None, database_url_option: UrlOption = None) -> None:
    """Walk the hash chain: exit 0 with the entry count, or 1 naming the first bad entry."""
    with _database(data_dir, database_url_option) as db:
        report = audit.verify_chain(db.engine)
    if report.ok:
        typer.echo(f"audit trail intact: {report.entries} entries")
        return
    raise _fail(f"audit trail broken: {report.problem}", EXIT_BROKEN)


def _day(option: str, text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option}: {text!r} is not a calendar date; write YYYY-MM-DD") from None


@audit_app.command("export")
def audit_export(
    candidate: Annotated[str | None, typer.Option("--candidate", help="Only this candidate id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only entries by this user.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this UTC date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to this UTC date, inclusive.")] = None,
    data_dir: DataDirOption = None,
    database_url_option: UrlOption = None,
) -> None:
    """Write the audit trail (filtered) as CSV to stdout."""
    where = audit.AuditFilter(candidate, user, _day("--since", since), _day("--until", until))
    with _database(data_dir, database_url_option) as db:
        rows = audit.audit_trail(db, accounts.SystemOperator.from_os(), where)
    sys.stdout.write(audit.audit_csv(rows))
