"""Account administration (admins only): list, add, change role, disable.

Admins see no candidate data beyond the screening log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nmocart.db import accounts
from nmocart.db.accounts import Actor
from nmocart.db.errors import ConflictError, InvalidInputError, NotFoundError
from nmocart.db.roles import Permission, Role
from nmocart.web.deps import DbDep, require
from nmocart.web.pages import render

router = APIRouter(prefix="/admin", include_in_schema=False)

Admin = Annotated[Actor, Depends(require(Permission.manage_accounts))]


def _page(
    request: Request, db: DbDep, actor: Actor, problems: list[str] | None = None, status_code: int = 200
) -> Response:
    users = accounts.list_users(db, actor)
    return render(
        request,
        "users.html.j2",
        {
            "title": "Accounts",
            "users": [
                {
                    "username": u.username,
                    "full_name": u.full_name,
                    "role": u.role.value,
                    "active": u.active,
                    "locked_until": u.locked_until.strftime("%Y-%m-%d %H:%M:%S") if u.locked_until else None,
                }
                for u in users
            ],
            "roles": [r.value for r in Role],
            "problems": problems or [],
        },
        status_code=status_code,
    )


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, db: DbDep, actor: Admin) -> Response:
    """Every account: role, active, locked."""
    return _page(request, db, actor)


@router.post("/users")
def add_user(
    request: Request,
    db: DbDep,
    actor: Admin,
    username: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Add an account (argon2id hash of the initial password; never stored in clear)."""
    try:
        accounts.add_user(db, actor, username.strip(), role, full_name.strip(), password)
    except (InvalidInputError, ConflictError) as exc:
        return _page(request, db, actor, [str(exc)], status_code=exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{username}/role")
def set_role(
    request: Request,
    db: DbDep,
    actor: Admin,
    username: str,
    role: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Change an account's role (with a reason, audited)."""
    try:
        accounts.set_role(db, actor, username, role, reason)
    except (InvalidInputError, NotFoundError, ConflictError) as exc:
        return _page(request, db, actor, [str(exc)], status_code=exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{username}/disable")
def disable(
    request: Request, db: DbDep, actor: Admin, username: str, reason: Annotated[str, Form()] = ""
) -> Response:
    """Disable an account (never deleted; its sessions and tokens stop working)."""
    try:
        accounts.disable_user(db, actor, username, reason)
    except (InvalidInputError, NotFoundError, ConflictError) as exc:
        return _page(request, db, actor, [str(exc)], status_code=exc.status)
    return RedirectResponse("/admin/users", status_code=303)
