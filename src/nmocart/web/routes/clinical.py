"""Safety and kinetics uploads, shown through the existing engines and report code.

A subject's safety record gives grades and the swimmer plot; a kinetics CSV the NCA table
and plots.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nmocart.db import uploads
from nmocart.db.accounts import Actor
from nmocart.db.errors import InvalidInputError
from nmocart.db.roles import Permission
from nmocart.web.clinical import ClinicalInputError, KineticsView, kinetics_view, safety_view
from nmocart.web.deps import DbDep, IdPath, require
from nmocart.web.errors import BadInputError
from nmocart.web.pages import environment, render

router = APIRouter(include_in_schema=False)

UploadReader = Annotated[Actor, Depends(require(Permission.read_uploads))]
Uploader = Annotated[Actor, Depends(require(Permission.upload_data))]


def _fragment(template: str, **context: object) -> str:
    return environment().get_template(template).render(context)


def _listing(
    request: Request,
    db: DbDep,
    actor: Actor,
    kind: str,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = uploads.list_uploads(db, actor, kind)
    extra = ""
    if kind == "safety" and rows:
        latest: dict[str, int] = {}
        for row in rows:
            latest[row.label] = row.upload_id
        contents = [uploads.get_upload(db, actor, i).content or b"" for i in sorted(latest.values())]
        view = safety_view(contents)
        extra = (
            f'<p class="muted">Study tables over the latest upload of each of {len(latest)} subject(s).</p>'
            + _fragment("safety_view.html.j2", svg=view.swimmer_svg, tables=view.tables)
        )
    return render(
        request,
        "uploads.html.j2",
        {
            "title": kind.capitalize(),
            "heading": "Safety: grades and swimmer plot"
            if kind == "safety"
            else "Kinetics: non-compartmental analysis",
            "base": f"/{kind}",
            "uploads": [
                {
                    "id": u.upload_id,
                    "label": u.label,
                    "filename": u.filename,
                    "uploaded_at": u.uploaded_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "uploaded_by": u.uploaded_by,
                    "sha256": u.sha256,
                }
                for u in rows
            ],
            "can_upload": actor.can(Permission.upload_data),
            "file_label": "a subject's safety record (.json)"
            if kind == "safety"
            else "a kinetics samples CSV",
            "accept": ".json,application/json" if kind == "safety" else ".csv,text/csv",
            "problems": problems or [],
            "extra_html": extra,
        },
        status_code=status_code,
    )


async def _store(request: Request, db: DbDep, actor: Actor, kind: str, file: UploadFile) -> Response:
    content = await file.read()
    try:
        stored = uploads.store_upload(db, actor, kind, file.filename or f"{kind}-upload", content)
    except InvalidInputError as exc:
        return _listing(request, db, actor, kind, exc.problems, status_code=422)
    return RedirectResponse(f"/{kind}/{stored.upload_id}", status_code=303)


def _upload(db: DbDep, actor: Actor, kind: str, upload_id: int) -> uploads.UploadView:
    found = uploads.get_upload(db, actor, upload_id)
    if found.kind.value != kind:
        raise BadInputError(
            f"upload: {upload_id} is a {found.kind.value} upload; open it under /{found.kind.value}"
        )
    return found


@router.get("/safety", response_class=HTMLResponse)
def safety_list(request: Request, db: DbDep, actor: UploadReader) -> Response:
    """Stored safety records and the study's grade tables and swimmer plot."""
    return _listing(request, db, actor, "safety")


@router.post("/safety")
async def safety_upload(request: Request, db: DbDep, actor: Uploader, file: UploadFile) -> Response:
    """Store one subject's safety record (validated with the CLI's messages)."""
    return await _store(request, db, actor, "safety", file)


@router.get("/safety/{upload_id}", response_class=HTMLResponse)
def safety_detail(request: Request, db: DbDep, actor: UploadReader, upload_id: IdPath) -> Response:
    """One subject's grades and swimmer plot."""
    found = _upload(db, actor, "safety", upload_id)
    try:
        view = safety_view([found.content or b""])
    except ClinicalInputError as exc:
        raise BadInputError("; ".join(exc.problems)) from None
    body = _fragment("safety_view.html.j2", svg=view.swimmer_svg, tables=view.tables)
    return _detail(request, found, f"Safety · subject {found.label}", "/safety", body)


def _detail(request: Request, found: uploads.UploadView, heading: str, base: str, body: str) -> Response:
    return render(
        request,
        "upload_view.html.j2",
        {
            "title": heading,
            "heading": heading,
            "base": base,
            "upload": {
                "filename": found.filename,
                "uploaded_at": found.uploaded_at.strftime("%Y-%m-%d %H:%M:%S"),
                "uploaded_by": found.uploaded_by,
                "sha256": found.sha256,
            },
            "body": body,
        },
    )


@router.get("/kinetics", response_class=HTMLResponse)
def kinetics_list(request: Request, db: DbDep, actor: UploadReader) -> Response:
    """Stored kinetics CSV files."""
    return _listing(request, db, actor, "kinetics")


@router.post("/kinetics")
async def kinetics_upload(request: Request, db: DbDep, actor: Uploader, file: UploadFile) -> Response:
    """Store a kinetics samples CSV (validated with the CLI's messages)."""
    return await _store(request, db, actor, "kinetics", file)


@router.get("/kinetics/{upload_id}", response_class=HTMLResponse)
def kinetics_detail(request: Request, db: DbDep, actor: UploadReader, upload_id: IdPath) -> Response:
    """The NCA table and plots of one CSV."""
    found = _upload(db, actor, "kinetics", upload_id)
    view = _kinetics(found)
    body = _fragment(
        "nca_view.html.j2", upload_id=upload_id, header=view.header, rows=view.rows, figures=view.figures
    )
    return _detail(request, found, f"Kinetics · {found.filename}", "/kinetics", body)


@router.get("/kinetics/{upload_id}/report", response_class=HTMLResponse)
def kinetics_report(db: DbDep, actor: UploadReader, upload_id: IdPath) -> Response:
    """The report code's self-contained NCA report for one CSV."""
    view = _kinetics(_upload(db, actor, "kinetics", upload_id))
    return HTMLResponse(view.report_html, headers={"Cache-Control": "no-store"})


def _kinetics(found: uploads.UploadView) -> KineticsView:
    try:
        return kinetics_view(found.content or b"", found.filename)
    except ClinicalInputError as exc:
        raise BadInputError("; ".join(exc.problems)) from None


__all__ = ["router"]
