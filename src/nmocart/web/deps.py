"""Typed request dependencies: the database, who is acting, and one check per permission.

Routes declare what they need (``Actor = Depends(require(Permission.sign))``); the checks and
their failures live here, not in the routes. A browser request is authenticated by the
session cookie (and must carry the CSRF token when it changes anything); an API request by
``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from nmocart.db.accounts import Actor, lookup_session, lookup_token
from nmocart.db.database import Database
from nmocart.db.roles import Permission
from nmocart.web import csrf
from nmocart.web.errors import CsrfRejectedError, LoginRequiredError, NotAllowedError
from nmocart.web.settings import WebSettings

SESSION_COOKIE = "nmocart_session"
MAX_NUMBER = 2**31 - 1
"""Largest version, upload or item number a request may name (a 32-bit database integer)."""
VersionPath = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
VersionQuery = Annotated[int, Query(ge=1, le=MAX_NUMBER)]
IdPath = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_db(request: Request) -> Database:
    """The application's open database (async: no I/O, so no hop through the thread pool)."""
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> WebSettings:
    """The application's settings."""
    settings: WebSettings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]


async def current_actor(request: Request, db: DbDep) -> Actor:
    """Who is acting: the bearer token's user, else the session cookie's (CSRF-checked on writes)."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, Actor):
        return cached
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        actor = lookup_token(db, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if actor is None:
            raise LoginRequiredError(
                "Authorization: the bearer token is unknown or expired; get one from POST /api/v1/tokens"
            )
        request.state.user = actor
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    info = lookup_session(db, cookie) if cookie else None
    if info is None:
        raise LoginRequiredError("not signed in (or the session ended after inactivity); sign in again")
    request.state.user = info.actor
    request.state.csrf_token = info.csrf_token
    if request.method not in _SAFE_METHODS:
        presented = request.headers.get(csrf.HEADER)
        if presented is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get(csrf.FORM_FIELD)
            presented = value if isinstance(value, str) else None
        if not csrf.token_matches(info.csrf_token, presented):
            raise CsrfRejectedError(
                "csrf_token: the form's security token is missing or stale; reload the page and try again"
            )
    return info.actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission) -> Callable[..., object]:
    """A dependency that returns the acting user when their role holds ``permission``, else 403."""

    async def check(actor: ActorDep) -> Actor:
        if not actor.can(permission):
            raise NotAllowedError(f"role {actor.role} may not {permission.value.replace('_', ' ')}")
        return actor

    check.__name__ = f"require_{permission.value}"
    return check
