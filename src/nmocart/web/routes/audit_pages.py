"""The audit-trail view: filter by candidate, user and date; export as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from nmocart.db import audit
from nmocart.db.accounts import Actor
from nmocart.db.roles import Permission
from nmocart.web.deps import DbDep, require
from nmocart.web.errors import BadInputError
from nmocart.web.pages import render

router = APIRouter(include_in_schema=False)

AuditReader = Annotated[Actor, Depends(require(Permission.read_audit))]
PAGE_ROWS = 500
"""The page shows the newest entries up to this many; the CSV has them all."""


def _date(name: str, text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{name}: {text!r} is not a date; write YYYY-MM-DD") from None


def audit_filter(
    candidate: str = "", user: str = "", date_from: str = "", date_to: str = ""
) -> audit.AuditFilter:
    """The filter the query string describes (blank = no filter)."""
    return audit.AuditFilter(
        candidate_id=candidate.strip() or None,
        actor=user.strip() or None,
        since=_date("date_from", date_from.strip()),
        until=_date("date_to", date_to.strip()),
    )


def change_list(changes: object) -> list[dict[str, object]]:
    """An entry's field-by-field changes as (field, old, new) rows, whatever their stored shape."""
    if not isinstance(changes, list):
        return [] if changes in (None, {}) else [{"field": "(value)", "old": None, "new": changes}]
    rows: list[dict[str, object]] = []
    for change in changes:
        if isinstance(change, dict):
            field = change.get("field", change.get("path", "(value)"))
            rows.append({"field": field, "old": change.get("old"), "new": change.get("new")})
        else:
            rows.append({"field": "(value)", "old": None, "new": change})
    return rows


Filter = Annotated[audit.AuditFilter, Depends(audit_filter)]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, db: DbDep, actor: AuditReader, where: Filter) -> Response:
    """Who did what, when and why, oldest first; the hash chain's entry hashes shown."""
    rows = audit.audit_trail(db, actor, where)
    truncated = len(rows) > PAGE_ROWS
    shown = rows[-PAGE_ROWS:]
    params = {
        k: v for k, v in request.query_params.items() if k in ("candidate", "user", "date_from", "date_to")
    }
    return render(
        request,
        "audit.html.j2",
        {
            "title": "Audit trail",
            "rows": [
                {
                    "sequence": r.sequence,
                    "recorded_at": audit.timestamp_text(r.recorded_at),
                    "actor": r.actor,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "action": r.action,
                    "change_list": change_list(r.changes),
                    "reason": r.reason,
                    "entry_hash": r.entry_hash,
                }
                for r in shown
            ],
            "truncated": truncated,
            "filters": {k: params.get(k, "") for k in ("candidate", "user", "date_from", "date_to")},
            "query": urlencode(params),
        },
    )


@router.get("/audit.csv")
def audit_csv(db: DbDep, actor: AuditReader, where: Filter) -> Response:
    """The filtered audit trail as CSV."""
    return Response(
        audit.audit_csv(audit.audit_trail(db, actor, where)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
    )
