"""The screening log (GCP essential document): table, CSV and the CONSORT-style flow as SVG."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from nmocart.db import screening_log as log
from nmocart.db.accounts import Actor
from nmocart.db.roles import Permission
from nmocart.web.deps import DbDep, require
from nmocart.web.flow import flow_svg
from nmocart.web.pages import render

router = APIRouter(include_in_schema=False)

LogReader = Annotated[Actor, Depends(require(Permission.read_screening_log))]


@router.get("/screening-log", response_class=HTMLResponse)
def screening_log_page(request: Request, db: DbDep, actor: LogReader) -> Response:
    """Every candidate's screening date, decision, failure reasons and status, with the flow."""
    rows = log.screening_log(db, actor)
    return render(
        request,
        "screening_log.html.j2",
        {
            "title": "Screening log",
            "rows": rows,
            "flow_svg": flow_svg(log.consort_flow(rows)),
            "can_read_candidates": actor.can(Permission.read_candidates),
        },
    )


@router.get("/screening-log.csv")
def screening_log_csv(db: DbDep, actor: LogReader) -> Response:
    """The screening log as CSV (cells neutralised against spreadsheet formula injection)."""
    text = log.screening_log_csv(log.screening_log(db, actor))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="screening-log.csv"'},
    )


@router.get("/screening-log/flow.svg")
def flow(db: DbDep, actor: LogReader) -> Response:
    """The CONSORT-style flow diagram (assessed, excluded by reason, enrolled)."""
    return Response(flow_svg(log.consort_flow(log.screening_log(db, actor))), media_type="image/svg+xml")
