"""The study's CDISC SDTM export (investigators): a form and a ZIP download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from nmocart.cdisc.inputs import ExportInputError
from nmocart.db.accounts import Actor
from nmocart.web.deps import DbDep, require
from nmocart.web.pages import render
from nmocart.web.study_export import EXPORT_PERMISSION, export_zip

router = APIRouter(include_in_schema=False)

Exporter = Annotated[Actor, Depends(require(EXPORT_PERMISSION))]


def _page(request: Request, problems: list[str] | None = None, status_code: int = 200) -> Response:
    return render(
        request,
        "export.html.j2",
        {"title": "CDISC export", "problems": problems or []},
        status_code=status_code,
    )


@router.get("/export", response_class=HTMLResponse)
def export_form(request: Request, actor: Exporter) -> Response:
    """What the export contains and the enrolment CSV it needs."""
    return _page(request)


@router.post("/export")
async def export(request: Request, db: DbDep, actor: Exporter) -> Response:
    """Build the SDTM export from the database now and send it as a ZIP (audited)."""
    form = await request.form()
    enrolment = form.get("enrolment")
    text: str | None = None
    name = "enrolment"
    if isinstance(enrolment, UploadFile) and enrolment.filename:
        raw = await enrolment.read()
        name = enrolment.filename
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _page(request, [f"{name}: not UTF-8 text; save the CSV as UTF-8"], 422)
    try:
        result = export_zip(db, actor, text, name)
    except ExportInputError as exc:
        return _page(request, exc.problems, 422)
    return Response(
        result.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{result.filename}"',
            "X-Content-SHA256": result.sha256,
        },
    )
