"""The application factory: ``create_app(settings)`` wires the database, routes and handlers."""

from __future__ import annotations

import os
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nmocart import __version__
from nmocart.db.database import Database, open_database
from nmocart.web import errors
from nmocart.web.settings import WebSettings

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
"""Sent with every response: no inline scripts, no framing, no content sniffing."""


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response that lacks them.

    A plain ASGI wrapper of ``send`` rather than ``@app.middleware("http")``: the latter runs
    every request through an extra task and memory streams, a measurable cost per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: WebSettings, db: Database | None = None) -> FastAPI:
    """The study web application on the database ``settings`` names (which must be migrated).

    ``db`` lets a test hand in an already open database (e.g. one with a fixed clock).
    """
    from nmocart.web.routes import admin, api, audit_pages, auth, candidates, clinical, export, screening_log

    database = db if db is not None else open_database(url=settings.database_url)
    app = FastAPI(
        title="nmocart study application",
        version=__version__,
        description=(
            "Screening, sign-off, screening log, audit trail, safety and kinetics for protocol "
            "CD19-CAR-T-NMOSD (NCT05828212). The JSON API is under /api/v1; authenticate with "
            "`Authorization: Bearer TOKEN` from `POST /api/v1/tokens`."
        ),
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.db = database
    errors.install(app)

    app.add_middleware(SecurityHeaders)

    _document_record_schema(app)
    static = resources.files("nmocart.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (auth, candidates, screening_log, audit_pages, clinical, export, admin, api):
        app.include_router(module.router)
    return app


SERVE_DATABASE_URL = "NMOCART_SERVE_DATABASE_URL"
"""How ``nmocart serve --workers N`` tells each worker process which database to open."""
SERVE_SECURE_COOKIES = "NMOCART_SERVE_SECURE_COOKIES"
"""``1`` when ``nmocart serve --workers N`` was given ``--secure-cookies``."""


def app_from_environment() -> FastAPI:
    """The application of one ``nmocart serve --workers N`` worker process (a uvicorn factory).

    Each worker opens its own connection pool on the database the parent process checked; the
    database is the only state the workers share (sessions, CSRF tokens, lockout counters and
    the audit chain all live there, and writes are serialised by the database's write lock).
    """
    url = os.environ.get(SERVE_DATABASE_URL)
    if not url:
        raise RuntimeError(f"{SERVE_DATABASE_URL} is not set: start workers with nmocart serve --workers N")
    secure = os.environ.get(SERVE_SECURE_COOKIES) == "1"
    return create_app(WebSettings(database_url=url, secure_cookies=secure))


def _document_record_schema(app: FastAPI) -> None:
    """Add the screening record's JSON Schema (from the validating models) to the OpenAPI document."""
    from fastapi.openapi.utils import get_openapi

    from nmocart.web.routes.api import record_schema

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema = record_schema()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["ScreeningRecord"] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
