"""Where the study database lives and how to open it: SQLite in a data directory, or PostgreSQL.

Every write runs in one transaction that first takes the study's write lock (``BEGIN IMMEDIATE``
on SQLite, ``SELECT ... FOR UPDATE`` of the audit chain head on PostgreSQL), so the audit hash
chain and candidate versions are appended strictly one after another, also across processes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from nmocart.db.errors import InvalidInputError, NotMigratedError
from nmocart.screening.protocol import Protocol, load_protocol

__all__ = [
    "DEFAULT_DATA_DIR",
    "ENV_DATABASE_URL",
    "SQLITE_FILE",
    "Database",
    "check_at_head",
    "current_revision",
    "database_url",
    "head_revision",
    "open_database",
    "upgrade",
    "utc_now",
]

DEFAULT_DATA_DIR = Path("nmocart-data")
"""The embedded default: a SQLite file in this folder of the working directory."""
SQLITE_FILE = "nmocart.sqlite3"
"""The SQLite file's name inside the data directory."""
ENV_DATABASE_URL = "NMOCART_DATABASE_URL"
"""Environment variable naming the database when no option does."""
_WRITE = "nmocart_write"


def utc_now() -> dt.datetime:
    """The current time in UTC (the default clock of a :class:`Database`)."""
    return dt.datetime.now(dt.UTC)


def _without_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part masked (for error messages)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def database_url(data_dir: Path | None = None, url: str | None = None) -> str:
    """The database to use: ``url``, else ``NMOCART_DATABASE_URL``, else SQLite in ``data_dir``.

    Giving both a data directory and a URL is an error: the user meant one of them.
    """
    if url is not None and data_dir is not None:
        raise InvalidInputError("--data-dir and --database-url: give one of them, not both")
    chosen = url if url is not None else (os.environ.get(ENV_DATABASE_URL) if data_dir is None else None)
    if chosen:
        try:
            parsed = make_url(chosen)
            if parsed.port is not None and not 0 < parsed.port < 65536:
                raise ValueError(f"port {parsed.port} out of range")
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number (SQLAlchemy)
            raise InvalidInputError(
                f"--database-url: {_without_password(chosen)!r} is not a database URL; "
                "write postgresql+psycopg://USER@HOST:PORT/DB or sqlite:///PATH"
            ) from None
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise InvalidInputError(
                f"--database-url: {parsed.get_backend_name()!r} is not supported; "
                "use postgresql+psycopg or sqlite"
            )
        if parsed.get_backend_name() == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    return f"sqlite:///{(folder / SQLITE_FILE).absolute()}"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the sqlite3 module, say when transactions begin
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with WAL, foreign keys and ``synchronous=FULL``; or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


@dataclass
class Database:
    """An open study database: the engine, the protocol in force, and the clock.

    ``read()`` and ``write()`` give ORM sessions; ``write()`` commits at the end of the block
    (or rolls back on an exception) and holds the study's write lock for its whole duration.
    """

    engine: Engine
    protocol: Protocol = field(default_factory=load_protocol)
    clock: Callable[[], dt.datetime] = utc_now

    def __post_init__(self) -> None:
        self._reads = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def now(self) -> dt.datetime:
        """The clock's current time, timezone-aware UTC."""
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the database clock must return timezone-aware datetimes")
        return moment.astimezone(dt.UTC)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing is committed."""
        with self._reads() as session:
            yield session
            session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session holding the study's write lock; committed when the block ends normally."""
        from nmocart.db.models import AuditHead

        with self._writes() as session, session.begin():
            head = None
            if self.dialect == "postgresql":
                # the locked row is loaded as the entity and referenced until the block ends, so
                # audit appends find it in the session's identity map instead of selecting it again
                head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
            yield session
            del head

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(
    data_dir: Path | None = None,
    url: str | None = None,
    *,
    protocol: Protocol | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    require_head: bool = True,
) -> Database:
    """Open the database named by the options; by default refuse one not at the head revision.

    With ``require_head`` a missing SQLite file is reported, not created.
    """
    chosen = database_url(data_dir, url)
    parsed = make_url(chosen)
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if require_head and sqlite_file and not Path(sqlite_file).exists():
        hint = upgrade_hint(data_dir, url)
        raise NotMigratedError(f"database not migrated (no database at {sqlite_file}); run: {hint}")
    engine = make_engine(chosen)
    db = Database(engine, protocol if protocol is not None else load_protocol(), clock)
    if require_head:
        try:
            check_at_head(engine, upgrade_hint(data_dir, url))
        except BaseException:
            engine.dispose()
            raise
    return db


def one_line(exc: BaseException) -> str:
    """A database driver's error as one line (the driver's own message, white space collapsed)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return " ".join(str(cause).split()) or type(cause).__name__


def upgrade_hint(data_dir: Path | None, url: str | None) -> str:
    """The ``nmocart db upgrade`` command line matching the options the user gave."""
    if url is not None:
        return "nmocart db upgrade --database-url URL"
    if data_dir is not None:
        return f"nmocart db upgrade --data-dir {data_dir}"
    if os.environ.get(ENV_DATABASE_URL):
        return "nmocart db upgrade"
    return f"nmocart db upgrade --data-dir {DEFAULT_DATA_DIR}"


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("nmocart.db") / "migrations"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of nmocart."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_at_head(engine: Engine, hint: str = "nmocart db upgrade") -> None:
    """Raise :class:`NotMigratedError` unless the database is at the head revision (call at startup)."""
    try:
        current = current_revision(engine)
    except Exception as exc:
        raise NotMigratedError(
            f"cannot open the database ({one_line(exc)}); check the URL and that the server is running"
        ) from None
    if current != head_revision():
        state = "empty" if current is None else f"at revision {current}"
        raise NotMigratedError(f"database not migrated ({state}, need {head_revision()}); run: {hint}")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply every pending migration; return the revisions before and after."""
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    return before, head_revision()
