"""``nmocart serve``: run the study web application with uvicorn.

Refuses a database that is not migrated (one line saying what to run); ``--demo`` seeds a
demo study into a fresh data directory and prints the demo passwords once. uvicorn stops
cleanly on SIGTERM/SIGINT: it finishes the requests in flight, then exits 0.

``--workers N`` runs N uvicorn worker processes on one listening socket (to use N cores). The
database is their only shared state: browser sessions with their CSRF tokens, API tokens,
lockout counters, candidate versions and the audit hash chain are stored there, and every
write takes the study's write lock (``BEGIN IMMEDIATE`` on SQLite, the audit head row
``FOR UPDATE`` on PostgreSQL), which serialises appends across processes as across threads.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from nmocart.db.errors import DatabaseError

EXIT_REJECTED = 2


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(EXIT_REJECTED)


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="SQLite data directory (default ./nmocart-data).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="postgresql+psycopg://USER@HOST:PORT/DB (or NMOCART_DATABASE_URL)."
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Seed a demo study (accounts, examples, safety, kinetics) into a fresh database."
        ),
    ] = False,
    secure_cookies: Annotated[
        bool,
        typer.Option("--secure-cookies", help="Mark the session cookie Secure (when served over https)."),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes (one per core to use; they share only the database).",
        ),
    ] = 1,
) -> None:
    """Run the study web application (pages and the JSON API under /api/v1)."""
    import uvicorn

    from nmocart.db.candidates import candidate_count
    from nmocart.db.database import database_url as resolve_url
    from nmocart.db.database import make_engine, open_database, upgrade
    from nmocart.web import WebSettings, create_app

    try:
        url = resolve_url(data_dir, database_url)
        if demo:
            engine = make_engine(url)
            try:
                upgrade(engine)
            finally:
                engine.dispose()
        db = open_database(data_dir, database_url)
    except DatabaseError as exc:
        raise _fail(str(exc)) from None
    if demo:
        from nmocart.db.accounts import SystemOperator, list_users
        from nmocart.web.demo_study import seed_demo

        if candidate_count(db) or list_users(db, SystemOperator("serve --demo")):
            db.dispose()
            raise _fail("--demo: the database already holds data; give a fresh --data-dir (or omit --demo)")
        created = seed_demo(db)
        sys.stdout.write(
            "Demo study seeded. Accounts (passwords shown once, stored only as argon2id hashes):\n"
        )
        for account in created:
            sys.stdout.write(
                f"  {account.username:<13} role {account.role:<13} password {account.password}\n"
            )
        sys.stdout.flush()
    if workers > 1:
        db.dispose()  # each worker process opens its own pool
        _serve_workers(url, host, port, workers, secure_cookies)
        return
    app = create_app(WebSettings(database_url=url, secure_cookies=secure_cookies), db=db)
    sys.stdout.write(f"nmocart serving on http://{host}:{port}/  (Ctrl-C or SIGTERM to stop)\n")
    sys.stdout.flush()
    # uvicorn finishes the requests in flight on SIGTERM/SIGINT, then re-raises the signal
    # to the handler in place before it started: make that a clean exit with status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stopped)
    try:
        uvicorn.run(
            app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=10
        )
    except _StoppedError:
        sys.stdout.write("nmocart serve stopped.\n")
    finally:
        db.dispose()


def _serve_workers(url: str, host: str, port: int, workers: int, secure_cookies: bool) -> None:
    """Run ``workers`` uvicorn worker processes; return once SIGTERM/SIGINT stopped them all.

    uvicorn's supervisor handles the stop signals: it asks every worker to finish the requests
    in flight (SIGTERM) and waits for them.
    """
    import os

    import uvicorn

    from nmocart.web.app import SERVE_DATABASE_URL, SERVE_SECURE_COOKIES

    os.environ[SERVE_DATABASE_URL] = url
    os.environ[SERVE_SECURE_COOKIES] = "1" if secure_cookies else "0"
    sys.stdout.write(
        f"nmocart serving on http://{host}:{port}/ with {workers} worker processes  "
        "(Ctrl-C or SIGTERM to stop)\n"
    )
    sys.stdout.flush()
    uvicorn.run(
        "nmocart.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    sys.stdout.write("nmocart serve stopped.\n")


class _StoppedError(Exception):
    """Raised by the stop-signal handler once uvicorn has shut down gracefully."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _StoppedError(signum)
