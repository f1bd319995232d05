"""Candidate pages: create, checklist, record, versions, diff, section forms, sign-off, status.

Each route checks one permission and calls ``nmocart.db``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from nmocart.db import candidates as cands
from nmocart.db import screening_log as log
from nmocart.db import signatures
from nmocart.db.accounts import Actor
from nmocart.db.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from nmocart.db.roles import Permission
from nmocart.kernel.errors import readable_id
from nmocart.web.deps import MAX_NUMBER, DbDep, VersionPath, VersionQuery, get_settings, require
from nmocart.web.errors import BadInputError
from nmocart.web.pages import render
from nmocart.web.record_forms import NESTED_ROWS, SECTIONS, EditError, apply_edit, form_values, model_fields
from nmocart.web.views import form_errors, todo_items, verdict_tally

router = APIRouter(prefix="/candidates", include_in_schema=False)

Reader = Annotated[Actor, Depends(require(Permission.read_candidates))]
Editor = Annotated[Actor, Depends(require(Permission.edit_candidates))]
Signer = Annotated[Actor, Depends(require(Permission.sign))]
StatusChanger = Annotated[Actor, Depends(require(Permission.change_status))]

NDJSON_SUFFIXES = (".ndjson", ".jsonl")


def _form_text(form: Any) -> dict[str, str]:
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("", response_class=HTMLResponse)
def candidate_list(request: Request, db: DbDep, actor: Reader) -> Response:
    """Every candidate's latest version and status."""
    rows = cands.list_candidates(db, actor)
    return render(
        request,
        "candidates.html.j2",
        {"title": "Candidates", "rows": rows, "can_edit": actor.can(Permission.edit_candidates)},
    )


def _new_page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    upload_report: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "candidate_new.html.j2",
        {
            "title": "Add candidates",
            "section": SECTIONS["candidate"],
            "values": values or {},
            "errors": errors or {},
            "problems": problems or [],
            "upload_report": upload_report or [],
        },
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse)
def new_form(request: Request, actor: Editor) -> Response:
    """Upload records or start one with the form."""
    return _new_page(request)


@router.post("/new")
async def create_from_form(request: Request, db: DbDep, actor: Editor) -> Response:
    """Create a candidate from the candidate form (other sections start not collected)."""
    form = _form_text(await request.form())
    section = SECTIONS["candidate"]
    from nmocart.web.record_forms import item_from_form

    record: dict[str, Any] = {}
    candidate_id = form.get("f.candidate_id", "").strip()
    if candidate_id:
        record["candidate_id"] = candidate_id
    record.update(item_from_form(section, form))
    try:
        view = cands.create_candidate(db, actor, record)
    except (InvalidInputError, ConflictError) as exc:
        problems = exc.problems if isinstance(exc, InvalidInputError) else [str(exc)]
        errors, lines = form_errors(problems, section, None)
        for line in problems:
            if line.startswith("candidate_id"):
                errors["f.candidate_id"] = line.partition(": ")[2]
        return _new_page(request, form, errors, lines, status_code=exc.status)
    return _redirect(f"/candidates/{view.candidate_id}?saved={view.version}")


@router.post("/upload")
async def upload_records(request: Request, db: DbDep, actor: Editor, records: UploadFile) -> Response:
    """Create candidates from a JSON record or NDJSON lines; a bad line is reported, the rest go on."""
    name = records.filename or "upload.json"
    limit = get_settings(request).max_upload_bytes
    content = await records.read(limit + 1)
    if len(content) > limit:
        raise BadInputError(f"{name}: larger than {limit // (1024 * 1024)} MiB; split it into several files")
    if name.lower().endswith(NDJSON_SUFFIXES):
        items = [
            (f"{name}:{n}", line) for n, line in enumerate(content.split(b"\n"), start=1) if line.strip()
        ]
    else:
        items = [(name, content)]
    if not items:
        raise BadInputError(
            f"{name}: the file is empty; choose a .json record or an .ndjson file with one record per line"
        )
    report: list[dict[str, Any]] = []
    for source, payload in items:
        try:
            view = cands.create_candidate(db, actor, payload)
        except (InvalidInputError, ConflictError) as exc:
            report.append(
                {
                    "source": source,
                    "ok": False,
                    "candidate_id": readable_id(payload, "candidate_id"),
                    "error": str(exc),
                }
            )
            continue
        report.append(
            {"source": source, "ok": True, "candidate_id": view.candidate_id, "decision": view.decision}
        )
    failed = any(not line["ok"] for line in report)
    return _new_page(request, upload_report=report, status_code=422 if failed and len(report) == 1 else 200)


def _checklist(request: Request, db: DbDep, actor: Actor, candidate_id: str, version: int | None) -> Response:
    view = cands.get_version(db, actor, candidate_id, version)  # with every signature of the candidate
    every = view.candidate_signatures
    assert every is not None
    latest = view if view.is_latest else cands.get_version(db, actor, candidate_id, None)
    flashes = []
    saved = request.query_params.get("saved")
    if saved and saved.isdigit():
        flashes.append(("ok", f"Saved and screened: version {saved}, decision {latest.decision}."))
    if request.query_params.get("signed"):
        flashes.append(("ok", "Signature recorded."))
    return render(
        request,
        "checklist.html.j2",
        {
            "title": f"Checklist {candidate_id}",
            "cand": {"candidate_id": candidate_id, "version": view.latest_version},
            "v": _version_context(view),
            "is_latest": view.is_latest,
            "status": view.status,
            "tally": verdict_tally(view.result),
            "version_signatures": [_sig(s) for s in view.signatures],
            "earlier_signatures": [_sig(s) for s in every if s.version != view.version],
            "todo": todo_items(candidate_id, view.result["missing"]),
            "can_edit": actor.can(Permission.edit_candidates),
            "can_sign": actor.can(Permission.sign),
            "can_status": actor.can(Permission.change_status),
            "can_audit": actor.can(Permission.read_audit),
        },
        flashes=flashes,
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sig(s: cands.SignatureView) -> dict[str, Any]:
    return {
        "version": s.version,
        "username": s.username,
        "printed_name": s.printed_name,
        "signed_at": _stamp(s.signed_at),
        "meaning": s.meaning,
        "record_sha256": s.record_sha256,
        "result_sha256": s.result_sha256,
    }


def _version_context(view: cands.VersionView) -> dict[str, Any]:
    return {
        "version": view.version,
        "record": view.record,
        "result": view.result,
        "record_sha256": view.record_sha256,
        "result_sha256": view.result_sha256,
        "created_at": _stamp(view.saved_at) + " UTC",
        "created_by": f"{view.saved_by_name} ({view.saved_by})",
        "reason": view.reason,
    }


@router.get("/{candidate_id}", response_class=HTMLResponse)
def checklist(request: Request, db: DbDep, actor: Reader, candidate_id: str) -> Response:
    """The checklist of the current version: decision, criteria, evidence, to-do list, sign-off."""
    return _checklist(request, db, actor, candidate_id, None)


@router.get("/{candidate_id}/versions/{version}", response_class=HTMLResponse)
def checklist_of_version(
    request: Request, db: DbDep, actor: Reader, candidate_id: str, version: VersionPath
) -> Response:
    """The checklist of an earlier (or the current) version."""
    return _checklist(request, db, actor, candidate_id, version)


@router.get("/{candidate_id}/versions/{version}/record", response_class=HTMLResponse)
def record_view(
    request: Request, db: DbDep, actor: Reader, candidate_id: str, version: VersionPath
) -> Response:
    """One version's record, each item with the anchor that evidence pointers link to."""
    view = cands.get_version(db, actor, candidate_id, version)
    return render(
        request,
        "record.html.j2",
        {
            "title": f"Record {candidate_id} v{version}",
            "cand": {"candidate_id": candidate_id, "version": view.latest_version},
            "v": _version_context(view),
            "is_latest": view.is_latest,
            "sections": SECTIONS,
            "can_edit": actor.can(Permission.edit_candidates),
        },
    )


@router.get("/{candidate_id}/versions", response_class=HTMLResponse)
def versions(request: Request, db: DbDep, actor: Reader, candidate_id: str) -> Response:
    """Every saved version: when, who, why, decision, signed."""
    rows = cands.list_versions(db, actor, candidate_id)
    return render(
        request,
        "versions.html.j2",
        {
            "title": f"Versions {candidate_id}",
            "cand": {"candidate_id": candidate_id, "version": rows[-1].version if rows else 0},
            "versions": [
                {
                    "version": r.version,
                    "created_at": _stamp(r.saved_at),
                    "created_by": r.saved_by,
                    "reason": r.reason,
                    "decision": r.decision,
                    "signed": r.signed,
                    "record_sha256": r.record_sha256,
                }
                for r in rows
            ],
        },
    )


@router.get("/{candidate_id}/diff", response_class=HTMLResponse)
def diff(
    request: Request, db: DbDep, actor: Reader, candidate_id: str, a: VersionQuery, b: VersionQuery
) -> Response:
    """Field-by-field changes between two versions (JSON Pointer, old value, new value)."""
    changes = cands.diff_versions(db, actor, candidate_id, a, b)
    return render(
        request,
        "diff.html.j2",
        {
            "title": f"Changes {candidate_id}",
            "cand": {"candidate_id": candidate_id},
            "a": a,
            "b": b,
            "changes": changes,
        },
    )


def _edit_page(
    request: Request,
    view: cands.VersionView,
    section_name: str,
    index: int | None,
    values: dict[str, str],
    errors: dict[str, str],
    problems: list[str],
    reason: str,
    status_code: int = 200,
) -> Response:
    section = SECTIONS[section_name]
    existing = len(
        (view.record.get(section_name) or [])[index].get("syndromes") or []
        if section_name == "attacks" and index is not None and index < len(view.record.get("attacks") or [])
        else []
    )
    return render(
        request,
        "section_edit.html.j2",
        {
            "title": f"Edit {section.title}",
            "cand": {
                "candidate_id": view.candidate_id,
                "version": view.latest_version,
                "decision": view.decision,
            },
            "record": view.record,
            "section": section,
            "sections": SECTIONS,
            "index": index,
            "values": values,
            "errors": errors,
            "problems": problems,
            "reason": reason,
            "row_count": existing + NESTED_ROWS,
            "subfields": lambda field: model_fields(field.rows_model),
        },
        status_code=status_code,
    )


def _section(name: str) -> str:
    if name not in SECTIONS:
        raise NotFoundError(f"section: {name!r} is not a record section; use one of {', '.join(SECTIONS)}")
    return name


@router.get("/{candidate_id}/edit/{section}", response_class=HTMLResponse)
def edit_form(
    request: Request,
    db: DbDep,
    actor: Editor,
    candidate_id: str,
    section: str,
    index: Annotated[int | None, Query(ge=0, le=MAX_NUMBER)] = None,
) -> Response:
    """A section's form: its items with edit links, and the add (or edit) form."""
    name = _section(section)
    view = cands.get_version(db, actor, candidate_id, None)
    shape = SECTIONS[name].shape
    items = view.record.get(name) if shape == "list" else None
    if index is not None and (items is None or not 0 <= index < len(items)):
        raise NotFoundError(f"index: {name} has no item {index}")
    if shape == "list":
        current = items[index] if items is not None and index is not None else None
    elif shape == "object":
        current = view.record.get(name)
    else:
        current = view.record
    values = form_values(SECTIONS[name], current)
    values.update({k: v for k, v in request.query_params.items() if k.startswith("f.") and current is None})
    return _edit_page(request, view, name, index, values, {}, [], "")


@router.post("/{candidate_id}/edit/{section}")
async def save_section(
    request: Request, db: DbDep, actor: Editor, candidate_id: str, section: str
) -> Response:
    """Apply one form action to the base version's record, save it as a new version and screen it."""
    name = _section(section)
    form = _form_text(await request.form())
    base_text = form.get("base_version", "")
    if not base_text.isdigit() or not 1 <= int(base_text) <= MAX_NUMBER:
        raise BadInputError("base_version: missing or not a whole number; reload the form and try again")
    base = int(base_text)
    index_text = form.get("index", "")
    index = int(index_text) if index_text.isdigit() and int(index_text) <= MAX_NUMBER else None
    action = form.get("action", "")
    reason = form.get("reason", "")
    base_view = cands.get_version(db, actor, candidate_id, base)
    try:
        record = apply_edit(base_view.record, SECTIONS[name], action, index, form)
        saved = cands.save_version(db, actor, candidate_id, record, base, reason)
    except (InvalidInputError, EditError) as exc:
        problems = exc.problems if isinstance(exc, InvalidInputError) else [str(exc)]
        errors, lines = form_errors(problems, SECTIONS[name], index if action == "update" else None)
        if action == "add":
            errors, lines = form_errors(problems, SECTIONS[name], len(base_view.record.get(name) or []))
        return _edit_page(
            request, base_view, name, index if action == "update" else None, form, errors, lines, reason, 422
        )
    return _redirect(f"/candidates/{candidate_id}?saved={saved.version}")


@router.get("/{candidate_id}/sign", response_class=HTMLResponse)
def sign_form(request: Request, db: DbDep, actor: Signer, candidate_id: str) -> Response:
    """The sign-off form: printed name, hashes, meaning, password."""
    view = cands.get_version(db, actor, candidate_id, None)
    return _sign_page(request, view, None)


def _sign_page(
    request: Request, view: cands.VersionView, error: str | None, status_code: int = 200
) -> Response:
    return render(
        request,
        "sign.html.j2",
        {
            "title": f"Sign {view.candidate_id}",
            "cand": {"candidate_id": view.candidate_id},
            "v": _version_context(view),
            "confirm_meaning": signatures.standard_meaning(view.decision),
            "error": error,
        },
        status_code=status_code,
    )


@router.post("/{candidate_id}/sign")
def sign(
    request: Request,
    db: DbDep,
    actor: Signer,
    candidate_id: str,
    password: Annotated[str, Form()] = "",
    meaning: Annotated[str, Form()] = "",
    version: Annotated[int, Form(ge=0, le=MAX_NUMBER)] = 0,
) -> Response:
    """Sign the version shown (re-verifying the password); a newer version is a conflict."""
    try:
        signatures.sign(db, actor, candidate_id, password, meaning, version or None)
    except AuthenticationError as exc:
        view = cands.get_version(db, actor, candidate_id, None)
        return _sign_page(request, view, str(exc), status_code=401)
    return _redirect(f"/candidates/{candidate_id}?signed=1")


@router.get("/{candidate_id}/status", response_class=HTMLResponse)
def status_form(request: Request, db: DbDep, actor: StatusChanger, candidate_id: str) -> Response:
    """The screening-log status, its history and the change form."""
    row = next((r for r in log.screening_log(db, actor) if r.candidate_id == candidate_id), None)
    if row is None:
        raise NotFoundError(f"candidate_id: no candidate {candidate_id!r}")
    allowed_next = sorted(s.value for s in log.TRANSITIONS[log.Status(row.status)])
    return render(
        request,
        "status.html.j2",
        {
            "title": f"Status {candidate_id}",
            "cand": {"candidate_id": candidate_id},
            "status": row.status,
            "status_date": row.status_date.isoformat(),
            "statuses": allowed_next,
            "today": db.now().date().isoformat(),
            "history": [
                {
                    "effective_date": e.effective_date.isoformat(),
                    "old_status": e.old_status,
                    "new_status": e.new_status,
                    "reason": e.reason,
                    "changed_by": e.changed_by,
                    "changed_at": _stamp(e.changed_at),
                }
                for e in row.history
            ],
        },
    )


@router.post("/{candidate_id}/status")
def change_status(
    request: Request,
    db: DbDep,
    actor: StatusChanger,
    candidate_id: str,
    status: Annotated[str, Form()] = "",
    effective_date: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Record a status change (investigators; with a reason and an effective date)."""
    try:
        day = dt.date.fromisoformat(effective_date)
    except ValueError:
        raise BadInputError(f"effective_date: {effective_date!r} is not a date; write YYYY-MM-DD") from None
    log.change_status(db, actor, candidate_id, status, day, reason)
    return _redirect(f"/candidates/{candidate_id}/status")
