"""Rendering of the server-side pages: one Jinja2 environment, the layout's shared context."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from nmocart import __version__
from nmocart.db.roles import Permission, allowed

VERDICT_CLASS = {
    "met": "ok",
    "absent": "ok",
    "not_applicable": "na",
    "unknown": "unk",
    "not_met": "bad",
    "present": "bad",
}
"""Colour class of each verdict word; the word itself is always written next to the colour."""

NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/candidates", "Candidates", Permission.read_candidates),
    ("/screening-log", "Screening log", Permission.read_screening_log),
    ("/safety", "Safety", Permission.read_uploads),
    ("/kinetics", "Kinetics", Permission.read_uploads),
    ("/audit", "Audit trail", Permission.read_audit),
    ("/export", "CDISC export", Permission.change_status),
    ("/admin/users", "Accounts", Permission.manage_accounts),
)
"""The main menu; each entry shows only to roles that may open it."""

STATIC_VERSION = __version__


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The page templates; autoescaping everywhere, undefined names are errors.

    Templates ship inside the package and do not change while the server runs: each is
    compiled once, and ``auto_reload=False`` spares the file-date check on every page.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nmocart.web", "templates"),
        autoescape=True,
        auto_reload=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["verdict_class"] = VERDICT_CLASS
    env.filters["anchor"] = pointer_anchor
    env.filters["shown"] = shown
    env.filters["audit_value"] = lambda value: "—" if value is None else shown(value)
    env.globals["static"] = lambda name: f"/static/{name}?v={STATIC_VERSION}"
    return env


def pointer_anchor(pointer: str) -> str:
    """The element id of the record view that shows a JSON Pointer's item or field.

    ``/labs/3`` -> ``labs-3``; ``/attacks/0/syndromes/1`` -> ``attacks-0``;
    ``/investigator/notes`` -> ``investigator-notes``; ``/birth_date`` -> ``birth_date``.
    """
    parts = [p for p in pointer.split("/") if p]
    if len(parts) >= 2 and parts[1].isdigit():
        return f"{parts[0]}-{parts[1]}"
    return "-".join(parts[:2]) or "candidate"


def shown(value: object) -> str:
    """A record value as words: unknown stays visibly unknown, never blank or "no"."""
    if value is None:
        return "not recorded"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {shown(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(shown(v) for v in value) if value else "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def nav_for(role: str | None) -> list[tuple[str, str]]:
    """The menu entries ``role`` may open."""
    if role is None:
        return []
    return [(href, label) for href, label, permission in NAV if allowed(role, permission)]


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """A page in the layout, for the signed-in user of ``request`` (if any)."""
    user = getattr(request.state, "user", None)
    active = "/" + request.url.path.strip("/").split("/")[0]
    if request.url.path.startswith("/admin"):
        active = "/admin/users"
    full = {
        "user": user,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "nav": nav_for(user.role if user is not None else None),
        "active": active,
        "flashes": flashes or [],
        "version": __version__,
        "title": "",
        **context,
    }
    html = environment().get_template(template).render(full)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
