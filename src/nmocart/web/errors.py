"""Web-layer refusals and how every error becomes a response: JSON ``{"error"}`` or a page.

The database layer's errors carry their HTTP status; these add the web's own. Nothing here
shows a traceback: an unexpected failure is logged and answered with a one-line 500.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from nmocart.db.errors import DatabaseError
from nmocart.kernel.errors import field_path

log = logging.getLogger("nmocart.web")


class WebError(Exception):
    """A refusal the web layer itself decides; ``status`` is the HTTP status."""

    status = 400


class LoginRequiredError(WebError):
    """No valid session cookie or bearer token."""

    status = 401


class NotAllowedError(WebError):
    """The role does not hold the permission the route needs."""

    status = 403


class CsrfRejectedError(WebError):
    """A state-changing browser request without the session's CSRF token."""

    status = 403


class BadInputError(WebError):
    """A request the web layer cannot use (names the field and the fix)."""

    status = 422


def wants_json(request: Request) -> bool:
    """API calls (and clients that ask for JSON) get JSON errors; browsers get pages."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status: int, message: str) -> Response:
    """The answer to a refused request, in the form the client reads."""
    if wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    if status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    from nmocart.web.pages import render

    heading = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Changed meanwhile"}.get(
        status, "Cannot do that"
    )
    return render(
        request,
        "error.html.j2",
        {"heading": heading, "message": message, "title": heading},
        status_code=status,
    )


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors():
        loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        msg = str(error.get("msg", "invalid"))
        problems.append(f"{field_path(loc)}: {msg}")
    return "; ".join(problems) or "the request is not valid"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a one-line answer."""

    @app.exception_handler(WebError)
    async def _web(request: Request, exc: WebError) -> Response:
        return error_response(request, exc.status, str(exc))

    @app.exception_handler(DatabaseError)
    async def _database(request: Request, exc: DatabaseError) -> Response:
        return error_response(request, exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "the request cannot be served"
        if exc.status_code == 404 and message == "Not Found":
            message = f"{request.url.path}: no such page"
        if exc.status_code == 405:
            message = f"{request.method} {request.url.path}: method not allowed"
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unexpected error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc
        )
        return error_response(
            request, 500, "internal error; the request was not completed and nothing was saved"
        )
