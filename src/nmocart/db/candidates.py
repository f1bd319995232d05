"""Candidates: every save is a new immutable version, screened at once by the one engine.

A version stores the record as canonical JSON (sorted keys, compact) and its SHA-256, and the
screening result exactly as ``nmocart screen`` prints it (compact) and its SHA-256, with the
protocol id, version and parameters hash. Saves after version 1 need a reason and the
``base_version`` the edit started from; a stale base raises :class:`ConflictError`, so the second of
two concurrent edits never overwrites the first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nmocart.db import audit
from nmocart.db.accounts import Actor, require, require_user
from nmocart.db.database import Database
from nmocart.db.errors import ConflictError, InvalidInputError, NotFoundError, is_storable, storable_text
from nmocart.db.models import Candidate, CandidateVersion, Signature, StatusChange, User
from nmocart.db.roles import Permission
from nmocart.screening.eligibility import screen
from nmocart.screening.record import RecordError, ScreeningRecord, parse_record

__all__ = [
    "CandidateSummary",
    "FieldChange",
    "SignatureView",
    "VersionView",
    "candidate_audit",
    "create_candidate",
    "diff_versions",
    "get_version",
    "json_diff",
    "list_candidates",
    "list_versions",
    "parse_screening_record",
    "save_version",
]


def sha256_text(text: str) -> str:
    """SHA-256 (hex) of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_screening_record(data: bytes | str | Mapping[str, Any]) -> ScreeningRecord:
    """Validate a screening record with the CLI's messages; raise :class:`InvalidInputError`.

    A mapping (an already-decoded API body) is re-encoded to JSON so validation is the same
    strict JSON validation the CLI applies.
    """
    try:
        return parse_record(orjson.dumps(data) if isinstance(data, Mapping) else data)
    except RecordError as exc:
        raise InvalidInputError(str(exc), exc.problems) from None
    except orjson.JSONEncodeError as exc:
        raise InvalidInputError(f"(record): cannot be written as JSON ({exc}); send a JSON object") from None


def canonical_record(record: ScreeningRecord) -> str:
    """The record's canonical JSON text (what is stored and hashed)."""
    return audit.canonical_json(record.model_dump(mode="json"))


@dataclass(frozen=True)
class FieldChange:
    """One difference between two JSON documents at a JSON Pointer (RFC 6901)."""

    path: str
    kind: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, object]:
        """JSON shape: ``{"path", "kind", "old", "new"}``; kind is added, removed or changed."""
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


_ABSENT = object()


def json_diff(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Field-by-field differences, objects by key (sorted) and arrays by index.

    Paths are JSON Pointers (RFC 6901): ``""`` is the whole document, ``/labs/0/value`` a field.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for key in sorted(old.keys() | new.keys()):
            out += _diff_member(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}/{_escape(key)}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else _ABSENT
            b = new[index] if index < len(new) else _ABSENT
            out += _diff_member(a, b, f"{path}/{index}")
        return out
    if old == new and type(old) is type(new):
        return []
    return [FieldChange(path, "changed", old, new)]


def _diff_member(old: Any, new: Any, path: str) -> list[FieldChange]:
    if old is _ABSENT:
        return [FieldChange(path, "added", None, new)]
    if new is _ABSENT:
        return [FieldChange(path, "removed", old, None)]
    return json_diff(old, new, path)


@dataclass(frozen=True)
class SignatureView:
    """A signature as shown: who (printed name), when (UTC), meaning, and what it binds."""

    candidate_id: str
    version: int
    username: str
    printed_name: str
    signed_at: dt.datetime
    meaning: str
    record_sha256: str
    result_sha256: str
    decision: str

    def as_dict(self) -> dict[str, object]:
        """JSON shape of the API."""
        return {
            "candidate_id": self.candidate_id,
            "version": self.version,
            "username": self.username,
            "printed_name": self.printed_name,
            "signed_at": audit.timestamp_text(self.signed_at),
            "meaning": self.meaning,
            "record_sha256": self.record_sha256,
            "result_sha256": self.result_sha256,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class VersionView:
    """One saved version with its screening result, signatures and the candidate's current state."""

    candidate_id: str
    version: int
    latest_version: int
    record: dict[str, Any]
    record_json: str
    record_sha256: str
    result: dict[str, Any]
    result_json: str
    result_sha256: str
    decision: str
    protocol: dict[str, str]
    saved_at: dt.datetime
    saved_by: str
    saved_by_name: str
    reason: str | None
    signatures: tuple[SignatureView, ...]
    latest_signed: bool
    status: str
    candidate_signatures: tuple[SignatureView, ...] | None = None
    """Every signature of the candidate, any version, oldest first (by time, then version);
    None in the view a save returns (only the saved version's own state is loaded there)."""

    @property
    def is_latest(self) -> bool:
        """Whether this is the candidate's current version."""
        return self.version == self.latest_version

    @property
    def signed(self) -> bool:
        """Whether this version carries at least one signature."""
        return bool(self.signatures)

    def as_dict(self) -> dict[str, object]:
        """JSON shape of ``GET /api/v1/candidates/{id}`` (plus provenance fields)."""
        return {
            "candidate_id": self.candidate_id,
            "version": self.version,
            "latest_version": self.latest_version,
            "record": self.record,
            "record_sha256": self.record_sha256,
            "result": self.result,
            "result_sha256": self.result_sha256,
            "saved_at": audit.timestamp_text(self.saved_at),
            "saved_by": self.saved_by,
            "reason": self.reason,
            "signatures": [s.as_dict() for s in self.signatures],
            "latest_signed": self.latest_signed,
            "status": self.status,
        }


@dataclass(frozen=True)
class VersionSummary:
    """One line of a candidate's version list."""

    version: int
    saved_at: dt.datetime
    saved_by: str
    reason: str | None
    decision: str
    record_sha256: str
    signed: bool


@dataclass(frozen=True)
class CandidateSummary:
    """One line of the candidate list."""

    candidate_id: str
    latest_version: int
    decision: str
    status: str
    screening_date: dt.date
    updated_at: dt.datetime


def find_candidate(session: Session, candidate_id: str) -> Candidate:
    """The candidate with this id, or :class:`NotFoundError`."""
    found = (
        None
        if not is_storable(candidate_id)
        else session.scalar(select(Candidate).where(Candidate.candidate_id == candidate_id))
    )
    if found is None:
        raise NotFoundError(f"candidate_id: no candidate {candidate_id!r}")
    return found


@dataclass(frozen=True)
class _Screened:
    """A record's canonical text and screening result with their hashes, computed before any lock.

    Screening depends only on the record and the protocol in force, never on stored state, so
    it runs before the write transaction: the study's write lock is held only for the reads
    and writes that need it.
    """

    record: ScreeningRecord
    record_json: str
    record_sha256: str
    result_json: str
    result_sha256: str
    decision: str

    @classmethod
    def of(cls, db: Database, record: ScreeningRecord) -> _Screened:
        """Screen ``record`` with the database's protocol."""
        record_json = canonical_record(record)
        result = screen(record, db.protocol)
        result_json = orjson.dumps(result.as_dict()).decode()
        record_sha256 = sha256_text(record_json)
        return cls(record, record_json, record_sha256, result_json, sha256_text(result_json), result.decision)


def _screened_version(
    db: Database, screened: _Screened, candidate_pk: int, version: int, user_id: int, reason: str | None
) -> CandidateVersion:
    stamp = db.protocol.stamp
    return CandidateVersion(
        candidate_pk=candidate_pk,
        version=version,
        record_json=screened.record_json,
        record_sha256=screened.record_sha256,
        result_json=screened.result_json,
        result_sha256=screened.result_sha256,
        decision=screened.decision,
        screening_date=screened.record.screening_date,
        protocol_id=stamp["id"],
        protocol_version=stamp["version"],
        protocol_parameters_sha256=stamp["parameters_sha256"],
        saved_at=db.now(),
        saved_by=user_id,
        reason=reason,
    )


def _version_changes(old: CandidateVersion | None, new: CandidateVersion) -> list[dict[str, object]]:
    before = orjson.loads(old.record_json) if old is not None else {}
    changes: list[dict[str, object]] = [
        {"field": c.path, "old": c.old, "new": c.new}
        for c in json_diff(before, orjson.loads(new.record_json))
    ]
    changes += [
        {"field": "version", "old": None if old is None else old.version, "new": new.version},
        {"field": "decision", "old": None if old is None else old.decision, "new": new.decision},
        {
            "field": "record_sha256",
            "old": None if old is None else old.record_sha256,
            "new": new.record_sha256,
        },
        {
            "field": "result_sha256",
            "old": None if old is None else old.result_sha256,
            "new": new.result_sha256,
        },
    ]
    if old is None or old.protocol_parameters_sha256 != new.protocol_parameters_sha256:
        changes.append(
            {
                "field": "protocol",
                "old": None
                if old is None
                else f"{old.protocol_id} v{old.protocol_version} {old.protocol_parameters_sha256}",
                "new": f"{new.protocol_id} v{new.protocol_version} {new.protocol_parameters_sha256}",
            }
        )
    return changes


def create_candidate(
    db: Database,
    actor: Actor,
    record: ScreeningRecord | bytes | str | Mapping[str, Any],
    reason: str | None = None,
) -> VersionView:
    """Create a candidate from a screening record: version 1, screened, status ``screening``.

    Raises :class:`InvalidInputError` for an invalid record and :class:`ConflictError` if the id exists.
    """
    parsed = record if isinstance(record, ScreeningRecord) else parse_screening_record(record)
    note = storable_text("reason", reason.strip()) if reason is not None and reason.strip() else None
    screened = _Screened.of(db, parsed)
    with db.write() as session:
        user = require_user(session, actor, Permission.edit_candidates)
        name = user.username
        if session.scalar(select(Candidate.id).where(Candidate.candidate_id == parsed.candidate_id)):
            raise ConflictError(f"candidate_id: {parsed.candidate_id!r} already exists; edit it instead")
        now = db.now()
        candidate = Candidate(
            candidate_id=parsed.candidate_id,
            latest_version=1,
            status="screening",
            status_date=parsed.screening_date,
            created_at=now,
            created_by=actor.user_id,
        )
        session.add(candidate)
        try:
            session.flush()
        except IntegrityError:
            raise ConflictError(
                f"candidate_id: {parsed.candidate_id!r} already exists; edit it instead"
            ) from None
        version = _screened_version(db, screened, candidate.id, 1, actor.user_id, note)
        session.add(version)
        session.add(
            StatusChange(
                candidate_pk=candidate.id,
                old_status=None,
                new_status="screening",
                effective_date=parsed.screening_date,
                reason="candidate created",
                changed_at=now,
                changed_by=actor.user_id,
            )
        )
        session.flush()
        audit.append(
            session,
            db,
            actor=name,
            entity="candidate",
            entity_id=parsed.candidate_id,
            candidate_id=parsed.candidate_id,
            action="create",
            changes=_version_changes(None, version),
            reason=note,
        )
        audit.append(
            session,
            db,
            actor=name,
            entity="status",
            entity_id=parsed.candidate_id,
            candidate_id=parsed.candidate_id,
            action="set_status",
            changes=[
                {"field": "status", "old": None, "new": "screening"},
                {"field": "status_date", "old": None, "new": parsed.screening_date.isoformat()},
            ],
            reason="candidate created",
        )
        return _fresh_view(candidate, version, user)


def save_version(
    db: Database,
    actor: Actor,
    candidate_id: str,
    record: ScreeningRecord | bytes | str | Mapping[str, Any],
    base_version: int,
    reason: str | None,
) -> VersionView:
    """Save an edited record as the next version, screened at once.

    ``base_version`` is the version the edit started from: if another save came first,
    :class:`ConflictError` is raised and nothing is written. A reason is required. The record's
    ``candidate_id`` must be the candidate's. A record identical to the latest version is refused.
    """
    if reason is None or not reason.strip():
        raise InvalidInputError("reason: required for a change after version 1; say why the record changes")
    why = storable_text("reason", reason.strip())
    parsed = record if isinstance(record, ScreeningRecord) else parse_screening_record(record)
    if parsed.candidate_id != candidate_id:
        raise InvalidInputError(
            f"candidate_id: {parsed.candidate_id!r} differs from the candidate being edited "
            f"{candidate_id!r}; a candidate's id cannot change"
        )
    screened = _Screened.of(db, parsed)
    with db.write() as session:
        user = require_user(session, actor, Permission.edit_candidates)
        name = user.username
        candidate, previous, _ = _version_row(session, candidate_id, None)
        if base_version != candidate.latest_version:
            raise ConflictError(
                f"base_version: {base_version} is not the latest version ({candidate.latest_version}) "
                f"of {candidate_id}; reload it and re-apply your change"
            )
        version = _screened_version(db, screened, candidate.id, base_version + 1, actor.user_id, why)
        if (
            version.record_sha256 == previous.record_sha256
            and version.protocol_parameters_sha256 == previous.protocol_parameters_sha256
        ):
            raise InvalidInputError(
                f"record: identical to version {previous.version}; change something or leave it as it is"
            )
        session.add(version)
        candidate.latest_version = version.version
        try:
            session.flush()
        except IntegrityError:
            raise ConflictError(
                f"base_version: version {version.version} of {candidate_id} was saved by someone else "
                "first; reload it and re-apply your change"
            ) from None
        audit.append(
            session,
            db,
            actor=name,
            entity="candidate",
            entity_id=candidate_id,
            candidate_id=candidate_id,
            action="update",
            changes=_version_changes(previous, version),
            reason=why,
        )
        return _fresh_view(candidate, version, user)


def stored_version(session: Session, candidate: Candidate, version: int) -> CandidateVersion:
    found = session.scalar(
        select(CandidateVersion).where(
            CandidateVersion.candidate_pk == candidate.id, CandidateVersion.version == version
        )
    )
    if found is None:
        raise NotFoundError(
            f"version: {candidate.candidate_id} has no version {version} (latest {candidate.latest_version})"
        )
    return found


def candidate_signatures(session: Session, candidate: Candidate) -> list[SignatureView]:
    """Every signature of every version of ``candidate``, in the order they were stored (one query)."""
    rows = session.execute(
        select(Signature, User.username, CandidateVersion.version)
        .join(User, User.id == Signature.user_id)
        .join(CandidateVersion, CandidateVersion.id == Signature.version_id)
        .where(CandidateVersion.candidate_pk == candidate.id)
        .order_by(Signature.id)
    )
    return [
        SignatureView(
            candidate.candidate_id,
            number,
            username,
            signature.printed_name,
            signature.signed_at,
            signature.meaning,
            signature.record_sha256,
            signature.result_sha256,
            signature.decision,
        )
        for signature, username, number in rows
    ]


def _view(
    candidate: Candidate, version: CandidateVersion, saver: User, every: list[SignatureView] | None
) -> VersionView:
    """The view of ``version`` given its saver and every signature of the candidate (id order)."""
    return VersionView(
        candidate_id=candidate.candidate_id,
        version=version.version,
        latest_version=candidate.latest_version,
        record=orjson.loads(version.record_json),
        record_json=version.record_json,
        record_sha256=version.record_sha256,
        result=orjson.loads(version.result_json),
        result_json=version.result_json,
        result_sha256=version.result_sha256,
        decision=version.decision,
        protocol={
            "id": version.protocol_id,
            "version": version.protocol_version,
            "parameters_sha256": version.protocol_parameters_sha256,
        },
        saved_at=version.saved_at,
        saved_by=saver.username,
        saved_by_name=saver.full_name,
        reason=version.reason,
        signatures=tuple(s for s in every or () if s.version == version.version),
        latest_signed=any(s.version == candidate.latest_version for s in every or ()),
        status=candidate.status,
        candidate_signatures=None
        if every is None
        else tuple(sorted(every, key=lambda s: (s.signed_at, s.version))),
    )


def _fresh_view(candidate: Candidate, version: CandidateVersion, saver: User) -> VersionView:
    """The view of a version just written in the current write transaction.

    It is the latest version and carries no signature yet (the write lock is held since it was
    inserted), so its own signatures and the signed state need no query; the earlier versions'
    signatures are not loaded (``candidate_signatures`` is None).
    """
    view = _view(candidate, version, saver, None)
    assert view.is_latest
    return view


def _version_row(
    session: Session, candidate_id: str, version: int | None
) -> tuple[Candidate, CandidateVersion, User]:
    """The candidate, its version ``version`` (default: the latest) and who saved it, in one query.

    Raises :class:`NotFoundError` naming the candidate or the version that does not exist.
    """
    if is_storable(candidate_id):
        number = Candidate.latest_version if version is None else version
        row = session.execute(
            select(Candidate, CandidateVersion, User)
            .join(
                CandidateVersion,
                (CandidateVersion.candidate_pk == Candidate.id) & (CandidateVersion.version == number),
            )
            .join(User, User.id == CandidateVersion.saved_by)
            .where(Candidate.candidate_id == candidate_id)
        ).first()
        if row is not None:
            return row[0], row[1], row[2]
    candidate = find_candidate(session, candidate_id)
    stored = stored_version(session, candidate, candidate.latest_version if version is None else version)
    saver = session.get(User, stored.saved_by)
    assert saver is not None
    return candidate, stored, saver


def get_version(db: Database, actor: Actor, candidate_id: str, version: int | None = None) -> VersionView:
    """A candidate's version (default: the latest) with result, signatures and signed state.

    Three queries in one read transaction: the reader's account (role re-checked), the candidate
    with the version and its saver, and every signature of the candidate.
    """
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        candidate, stored, saver = _version_row(session, candidate_id, version)
        return _view(candidate, stored, saver, candidate_signatures(session, candidate))


def list_versions(db: Database, actor: Actor, candidate_id: str) -> list[VersionSummary]:
    """Every version of a candidate, oldest first."""
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        candidate = find_candidate(session, candidate_id)
        signed = set(
            session.scalars(
                select(CandidateVersion.version)
                .join(Signature, Signature.version_id == CandidateVersion.id)
                .where(CandidateVersion.candidate_pk == candidate.id)
            )
        )
        rows = session.execute(
            select(CandidateVersion, User.username)
            .join(User, User.id == CandidateVersion.saved_by)
            .where(CandidateVersion.candidate_pk == candidate.id)
            .order_by(CandidateVersion.version)
        )
        return [
            VersionSummary(
                v.version, v.saved_at, username, v.reason, v.decision, v.record_sha256, v.version in signed
            )
            for v, username in rows
        ]


def diff_versions(db: Database, actor: Actor, candidate_id: str, old: int, new: int) -> list[FieldChange]:
    """Field-by-field differences of the records of two versions (any order, any two)."""
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        candidate = find_candidate(session, candidate_id)
        a = stored_version(session, candidate, old)
        b = stored_version(session, candidate, new)
        return json_diff(orjson.loads(a.record_json), orjson.loads(b.record_json))


def list_candidates(db: Database, actor: Actor) -> list[CandidateSummary]:
    """Every candidate with its latest decision and status, by candidate id."""
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        rows = session.execute(
            select(Candidate, CandidateVersion)
            .join(
                CandidateVersion,
                (CandidateVersion.candidate_pk == Candidate.id)
                & (CandidateVersion.version == Candidate.latest_version),
            )
            .order_by(Candidate.candidate_id)
        )
        return [
            CandidateSummary(
                c.candidate_id, c.latest_version, v.decision, c.status, v.screening_date, v.saved_at
            )
            for c, v in sorted(rows, key=lambda pair: pair[0].candidate_id)
        ]


def candidate_count(db: Database) -> int:
    """How many candidates exist (no permission needed: a number only)."""
    with db.read() as session:
        return int(session.scalar(select(func.count(Candidate.id))) or 0)


def candidate_audit(db: Database, actor: Actor, candidate_id: str) -> list[audit.AuditRow]:
    """The audit entries about one candidate (for those who may read candidates)."""
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        find_candidate(session, candidate_id)
        return audit.query_entries(session, audit.AuditFilter(candidate_id=candidate_id))
