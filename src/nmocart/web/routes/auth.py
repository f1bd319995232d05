"""Sign-in, sign-out and the start page."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nmocart.db.accounts import Actor, authenticate, create_session, end_session
from nmocart.db.errors import AuthenticationError
from nmocart.web import csrf
from nmocart.web.deps import SESSION_COOKIE, ActorDep, DbDep, get_settings
from nmocart.web.errors import CsrfRejectedError
from nmocart.web.pages import render
from nmocart.web.settings import WebSettings

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _login_page(
    request: Request, settings: WebSettings, next_path: str, username: str, error: str | None
) -> Response:
    token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    flashes = [("error", error)] if error else []
    response = render(
        request,
        "login.html.j2",
        {"title": "Sign in", "next": next_path, "username": username},
        status_code=401 if error else 200,
        flashes=flashes,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, settings: Annotated[WebSettings, Depends(get_settings)], next: str = "/"
) -> Response:
    """The sign-in form."""
    return _login_page(request, settings, _safe_next(next), "", None)


@router.post("/login")
def login(
    request: Request,
    db: DbDep,
    settings: Annotated[WebSettings, Depends(get_settings)],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (with lockout) and start a server-side session."""
    if not csrf.token_matches(request.cookies.get(csrf.LOGIN_COOKIE, ""), csrf_token):
        raise CsrfRejectedError(
            "csrf_token: the sign-in form's security token is missing or stale; reload the page"
        )
    try:
        actor = authenticate(db, username.strip(), password)
    except AuthenticationError as exc:
        return _login_page(request, settings, _safe_next(next), username, str(exc))
    grant = create_session(db, actor)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        grant.token,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, actor: ActorDep) -> Response:
    """End the session (the CSRF token was checked by the actor dependency)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(db, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbDep, actor: ActorDep) -> Response:
    """The start page: what this role can open."""
    protocol = db.protocol.stamp
    return render(request, "home.html.j2", {"title": "Start", "protocol": protocol, "actor": actor})


__all__ = ["Actor", "router"]
