"""The JSON API under ``/api/v1`` (issue 7 section 9), described in the OpenAPI document.

Every error answers ``{"error": "<field>: <what is wrong>; <fix>"}`` with 401 (no or bad
credentials), 403 (role), 404, 409 (conflict) or 422 (invalid input); never 500 to bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from nmocart.db import audit, signatures
from nmocart.db import candidates as cands
from nmocart.db import screening_log as log
from nmocart.db.accounts import Actor, issue_token
from nmocart.db.roles import Permission
from nmocart.screening.record import ScreeningRecord
from nmocart.web.deps import MAX_NUMBER, DbDep, VersionQuery, require
from nmocart.web.errors import BadInputError

router = APIRouter(prefix="/api/v1", tags=["api"])

Reader = Annotated[Actor, Depends(require(Permission.read_candidates))]
Editor = Annotated[Actor, Depends(require(Permission.edit_candidates))]
Signer = Annotated[Actor, Depends(require(Permission.sign))]
StatusChanger = Annotated[Actor, Depends(require(Permission.change_status))]
LogReader = Annotated[Actor, Depends(require(Permission.read_screening_log))]
AuditReader = Annotated[Actor, Depends(require(Permission.read_audit))]

_ERRORS = {
    401: "not authenticated, or wrong password",
    403: "the role may not do this",
    404: "no such candidate or version",
    409: "conflict with the stored state",
    422: "invalid input; the message names the field",
}


class ErrorBody(BaseModel):
    """Every error: one line naming the field, what is wrong and the fix."""

    error: str


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _ERRORS[code]} for code in codes}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Strict):
    """User name and password."""

    username: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class TokenResponse(BaseModel):
    """A bearer token for ``Authorization: Bearer TOKEN`` and its expiry (UTC)."""

    token: str
    expires_at: str


class CandidateUpdate(_Strict):
    """A new version: the full record, the version it was edited from, and why."""

    record: dict[str, Any] = Field(description="The whole screening record (schema ScreeningRecord).")
    base_version: int = Field(ge=1, le=MAX_NUMBER)
    reason: str | None = Field(default=None, max_length=2000)


class SignatureRequest(_Strict):
    """The signer's password (re-entered) and the meaning of the signature."""

    password: str = Field(max_length=1024)
    meaning: str = Field(max_length=500)
    version: int | None = Field(
        default=None, ge=1, le=MAX_NUMBER, description="The version signed (default: the latest)."
    )


class StatusRequest(_Strict):
    """A screening-log status change."""

    status: Literal["screening", "eligible", "consented", "enrolled", "screen_failure", "withdrawn"]
    effective_date: dt.date
    reason: str = Field(max_length=2000)


def _created(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=201)


@router.post("/tokens", status_code=201, response_model=TokenResponse, responses=_responses(401, 422))
def create_token(db: DbDep, body: TokenRequest) -> TokenResponse:
    """Exchange a user name and password for a bearer token (failures count toward lockout)."""
    grant = issue_token(db, body.username, body.password)
    return TokenResponse(token=grant.token, expires_at=audit.timestamp_text(grant.expires_at))


_RECORD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScreeningRecord"}}},
    }
}


async def _json_body(request: Request) -> bytes:
    body = await request.body()
    if not body.strip():
        raise BadInputError("(record): the request body is empty; send the screening record as JSON")
    return body


@router.post(
    "/candidates",
    status_code=201,
    openapi_extra=_RECORD_BODY,
    responses=_responses(401, 403, 409, 422),
)
async def create_candidate(request: Request, db: DbDep, actor: Editor) -> JSONResponse:
    """Create a candidate from a screening record: version 1, screened at once."""
    view = cands.create_candidate(db, actor, await _json_body(request))
    return _created({"candidate_id": view.candidate_id, "version": view.version, "result": view.result})


@router.get("/candidates", responses=_responses(401, 403))
def list_candidates(db: DbDep, actor: Reader) -> list[dict[str, Any]]:
    """Every candidate's latest version, decision and status."""
    return [
        {
            "candidate_id": c.candidate_id,
            "version": c.latest_version,
            "decision": c.decision,
            "status": c.status,
            "screening_date": c.screening_date.isoformat(),
        }
        for c in cands.list_candidates(db, actor)
    ]


@router.get("/candidates/{candidate_id}", responses=_responses(401, 403, 404))
def get_candidate(
    db: DbDep,
    actor: Reader,
    candidate_id: str,
    version: Annotated[int | None, Query(ge=1, le=MAX_NUMBER)] = None,
) -> dict[str, object]:
    """The current (or a given) version: record, result, signatures and provenance."""
    return cands.get_version(db, actor, candidate_id, version).as_dict()


@router.put("/candidates/{candidate_id}", responses=_responses(401, 403, 404, 409, 422))
def update_candidate(db: DbDep, actor: Editor, candidate_id: str, body: CandidateUpdate) -> dict[str, object]:
    """Save a new version (a reason is required); 409 when ``base_version`` is not the latest."""
    if body.record.get("candidate_id", candidate_id) != candidate_id:
        raise BadInputError(
            f"record.candidate_id: {body.record.get('candidate_id')!r} differs from the URL's "
            f"{candidate_id!r}; send the record of this candidate"
        )
    view = cands.save_version(db, actor, candidate_id, body.record, body.base_version, body.reason)
    return {"candidate_id": view.candidate_id, "version": view.version, "result": view.result}


@router.get("/candidates/{candidate_id}/versions", responses=_responses(401, 403, 404))
def list_versions(db: DbDep, actor: Reader, candidate_id: str) -> list[dict[str, object]]:
    """Every version: when, who, why, decision, record hash, signed."""
    return [
        {
            "version": v.version,
            "saved_at": audit.timestamp_text(v.saved_at),
            "saved_by": v.saved_by,
            "reason": v.reason,
            "decision": v.decision,
            "record_sha256": v.record_sha256,
            "signed": v.signed,
        }
        for v in cands.list_versions(db, actor, candidate_id)
    ]


@router.get("/candidates/{candidate_id}/diff", responses=_responses(401, 403, 404))
def diff(
    db: DbDep,
    actor: Reader,
    candidate_id: str,
    old: VersionQuery,
    new: VersionQuery,
) -> list[dict[str, object]]:
    """Field-by-field changes between two versions (JSON Pointer paths)."""
    return [c.as_dict() for c in cands.diff_versions(db, actor, candidate_id, old, new)]


@router.post(
    "/candidates/{candidate_id}/signatures", status_code=201, responses=_responses(401, 403, 404, 409, 422)
)
def sign(db: DbDep, actor: Signer, candidate_id: str, body: SignatureRequest) -> JSONResponse:
    """Sign the latest version's decision (investigators; the password is re-verified)."""
    view = signatures.sign(db, actor, candidate_id, body.password, body.meaning, body.version)
    return _created(view.as_dict())


@router.post(
    "/candidates/{candidate_id}/status", status_code=201, responses=_responses(401, 403, 404, 409, 422)
)
def change_status(db: DbDep, actor: StatusChanger, candidate_id: str, body: StatusRequest) -> JSONResponse:
    """Record a screening-log status change (investigators)."""
    event = log.change_status(db, actor, candidate_id, body.status, body.effective_date, body.reason)
    return _created(
        {
            "candidate_id": candidate_id,
            "old_status": event.old_status,
            "new_status": event.new_status,
            "effective_date": event.effective_date.isoformat(),
            "reason": event.reason,
        }
    )


@router.get("/candidates/{candidate_id}/audit", responses=_responses(401, 403, 404))
def candidate_audit(db: DbDep, actor: AuditReader, candidate_id: str) -> list[dict[str, object]]:
    """The audit entries about one candidate."""
    return [row.as_dict() for row in cands.candidate_audit(db, actor, candidate_id)]


@router.get("/audit", responses=_responses(401, 403, 422))
def audit_entries(
    db: DbDep,
    actor: AuditReader,
    candidate: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=100)] = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_NUMBER)] = 0,
) -> list[dict[str, object]]:
    """Audit entries in sequence order, filtered by candidate, user and UTC date range."""
    where = audit.AuditFilter(candidate, user, since, until, limit, offset)
    return [row.as_dict() for row in audit.audit_trail(db, actor, where)]


@router.get(
    "/screening-log",
    responses={
        **_responses(401, 403),
        200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}},
    },
)
def screening_log(db: DbDep, actor: LogReader, format: Literal["json", "csv"] = "json") -> Response:
    """The screening log as JSON (default) or CSV (``?format=csv``)."""
    rows = log.screening_log(db, actor)
    if format == "csv":
        return Response(log.screening_log_csv(rows), media_type="text/csv; charset=utf-8")
    return JSONResponse({"candidates": [r.as_dict() for r in rows], "flow": log.consort_flow(rows).as_dict()})


def record_schema() -> dict[str, Any]:
    """The screening record's JSON Schema, for the OpenAPI components."""
    return ScreeningRecord.model_json_schema(ref_template="#/components/schemas/{model}")
