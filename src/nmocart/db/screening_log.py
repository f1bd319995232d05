"""The screening log (a GCP essential document): statuses, their changes, CSV, CONSORT-style flow.

Statuses and the transitions an investigator may record (each with a reason and an effective
date; see docs/database.md)::

    screening      -> eligible*, screen_failure, withdrawn
    eligible       -> consented, screening, screen_failure, withdrawn
    consented      -> enrolled*, screen_failure, withdrawn
    enrolled       -> withdrawn
    screen_failure, withdrawn: final

``*`` needs the latest version's decision to be ``eligible`` and that version to be signed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

import orjson
from sqlalchemy import select

from nmocart.db import audit
from nmocart.db.accounts import Actor, require
from nmocart.db.candidates import find_candidate, stored_version
from nmocart.db.database import Database
from nmocart.db.errors import ConflictError, InvalidInputError, storable_text
from nmocart.db.models import Candidate, CandidateVersion, Signature, StatusChange, User
from nmocart.db.roles import Permission
from nmocart.screening.protocol import CRITERION_ORDER

__all__ = [
    "TRANSITIONS",
    "ConsortFlow",
    "LogRow",
    "Status",
    "StatusEvent",
    "change_status",
    "consort_flow",
    "screening_log",
    "screening_log_csv",
]


class Status(StrEnum):
    """Screening-log statuses."""

    screening = "screening"
    eligible = "eligible"
    consented = "consented"
    enrolled = "enrolled"
    screen_failure = "screen_failure"
    withdrawn = "withdrawn"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.screening: frozenset({Status.eligible, Status.screen_failure, Status.withdrawn}),
    Status.eligible: frozenset({Status.consented, Status.screening, Status.screen_failure, Status.withdrawn}),
    Status.consented: frozenset({Status.enrolled, Status.screen_failure, Status.withdrawn}),
    Status.enrolled: frozenset({Status.withdrawn}),
    Status.screen_failure: frozenset(),
    Status.withdrawn: frozenset(),
}
"""Allowed status changes (from -> to)."""

NEEDS_SIGNED_ELIGIBLE = frozenset({Status.eligible, Status.enrolled})
"""Statuses that need the latest version decided eligible and signed by an investigator."""


@dataclass(frozen=True)
class StatusEvent:
    """One status change in a candidate's history."""

    old_status: str | None
    new_status: str
    effective_date: dt.date
    reason: str
    changed_at: dt.datetime
    changed_by: str


def _status(word: str) -> Status:
    try:
        return Status(word)
    except ValueError:
        words = ", ".join(s.value for s in Status)
        raise InvalidInputError(f"status: {word!r} is not a status; use one of {words}") from None


def change_status(
    db: Database, actor: Actor, candidate_id: str, new_status: str, effective_date: dt.date, reason: str
) -> StatusEvent:
    """Record a status change (investigators only), checked against :data:`TRANSITIONS`.

    The effective date is the day the event happened (consent signed, enrolment, ...): not
    before the current status's date and not after today (UTC).
    """
    target = _status(new_status)
    if reason is None or not reason.strip():
        raise InvalidInputError("reason: required for a status change; say why")
    why = storable_text("reason", reason.strip())
    with db.write() as session:
        name = require(session, actor, Permission.change_status)
        candidate = find_candidate(session, candidate_id)
        current = Status(candidate.status)
        if target not in TRANSITIONS[current]:
            options = ", ".join(sorted(TRANSITIONS[current])) or "none (final status)"
            raise ConflictError(
                f"status: cannot go from {current} to {target}; allowed from {current}: {options}"
            )
        today = db.now().date()
        if effective_date > today:
            raise InvalidInputError(
                f"effective_date: {effective_date.isoformat()} is in the future; give the day it happened"
            )
        if effective_date < candidate.status_date:
            raise InvalidInputError(
                f"effective_date: {effective_date.isoformat()} is before the current status date "
                f"{candidate.status_date.isoformat()} ({current}); correct the date"
            )
        if target in NEEDS_SIGNED_ELIGIBLE:
            latest = stored_version(session, candidate, candidate.latest_version)
            if latest.decision != "eligible":
                raise ConflictError(
                    f"status: {target} needs the decision eligible; "
                    f"version {latest.version} is {latest.decision}"
                )
            signed = session.scalar(select(Signature.id).where(Signature.version_id == latest.id).limit(1))
            if signed is None:
                raise ConflictError(
                    f"status: {target} needs version {latest.version} signed by an investigator; "
                    "sign it first"
                )
        now = db.now()
        session.add(
            StatusChange(
                candidate_pk=candidate.id,
                old_status=current.value,
                new_status=target.value,
                effective_date=effective_date,
                reason=why,
                changed_at=now,
                changed_by=actor.user_id,
            )
        )
        old_date = candidate.status_date
        candidate.status = target.value
        candidate.status_date = effective_date
        audit.append(
            session,
            db,
            actor=name,
            entity="status",
            entity_id=candidate_id,
            candidate_id=candidate_id,
            action="set_status",
            changes=[
                {"field": "status", "old": current.value, "new": target.value},
                {"field": "status_date", "old": old_date.isoformat(), "new": effective_date.isoformat()},
            ],
            reason=why,
            at=now,
        )
        return StatusEvent(current.value, target.value, effective_date, why, now, name)


@dataclass(frozen=True)
class LogRow:
    """One candidate's line in the screening log."""

    candidate_id: str
    screening_date: dt.date
    decision: str
    failed_criteria: tuple[str, ...]
    status: str
    status_date: dt.date
    latest_version: int
    latest_signed: bool
    status_dates: dict[str, dt.date] = field(default_factory=dict)
    history: tuple[StatusEvent, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON shape of ``GET /api/v1/screening-log``."""
        return {
            "candidate_id": self.candidate_id,
            "screening_date": self.screening_date.isoformat(),
            "decision": self.decision,
            "screen_failure_reasons": list(self.failed_criteria),
            "status": self.status,
            "status_date": self.status_date.isoformat(),
            "status_dates": {k: v.isoformat() for k, v in self.status_dates.items()},
            "latest_version": self.latest_version,
            "latest_signed": self.latest_signed,
            "history": [
                {
                    "old_status": e.old_status,
                    "new_status": e.new_status,
                    "effective_date": e.effective_date.isoformat(),
                    "reason": e.reason,
                    "changed_at": audit.timestamp_text(e.changed_at),
                    "changed_by": e.changed_by,
                }
                for e in self.history
            ],
        }


def _failed_criteria(result_json: str) -> tuple[str, ...]:
    result = orjson.loads(result_json)
    return tuple(
        f"{c['id']} {c['verdict']}" for c in result["criteria"] if c["verdict"] in ("not_met", "present")
    )


def screening_log(db: Database, actor: Actor) -> list[LogRow]:
    """Every candidate's log line, by candidate id (admins may read it too)."""
    with db.read() as session:
        require(session, actor, Permission.read_screening_log)
        latest = session.execute(
            select(Candidate, CandidateVersion)
            .join(
                CandidateVersion,
                (CandidateVersion.candidate_pk == Candidate.id)
                & (CandidateVersion.version == Candidate.latest_version),
            )
            .order_by(Candidate.candidate_id)
        ).all()
        signed_ids = set(session.scalars(select(Signature.version_id)))
        history: dict[int, list[StatusEvent]] = {}
        events = session.execute(
            select(StatusChange, User.username)
            .join(User, User.id == StatusChange.changed_by)
            .order_by(StatusChange.id)
        )
        for change, username in events:
            history.setdefault(change.candidate_pk, []).append(
                StatusEvent(
                    change.old_status,
                    change.new_status,
                    change.effective_date,
                    change.reason,
                    change.changed_at,
                    username,
                )
            )
        rows = []
        # sorted here, not by the database's collation: same order on every backend and locale
        for candidate, version in sorted(latest, key=lambda pair: pair[0].candidate_id):
            own = history.get(candidate.id, [])
            dates: dict[str, dt.date] = {}
            for event in own:
                dates[event.new_status] = event.effective_date
            rows.append(
                LogRow(
                    candidate.candidate_id,
                    version.screening_date,
                    version.decision,
                    _failed_criteria(version.result_json),
                    candidate.status,
                    candidate.status_date,
                    candidate.latest_version,
                    version.id in signed_ids,
                    dates,
                    tuple(own),
                )
            )
        return rows


LOG_CSV_HEADER = (
    "candidate_id",
    "screening_date",
    "decision",
    "screen_failure_reasons",
    "status",
    "status_date",
    *(f"date_{s.value}" for s in Status),
    "latest_version",
    "latest_signed",
)


def screening_log_csv(rows: list[LogRow]) -> str:
    """The screening log as CSV (cells neutralised against CSV injection)."""
    return audit.write_csv(
        LOG_CSV_HEADER,
        (
            (
                r.candidate_id,
                r.screening_date.isoformat(),
                r.decision,
                "; ".join(r.failed_criteria),
                r.status,
                r.status_date.isoformat(),
                *(r.status_dates[s].isoformat() if s in r.status_dates else None for s in Status),
                r.latest_version,
                "yes" if r.latest_signed else "no",
            )
            for r in rows
        ),
    )


@dataclass(frozen=True)
class ConsortFlow:
    """Numbers for a CONSORT-style screening flow diagram.

    ``assessed`` every candidate; ``excluded`` the screen failures plus those withdrawn before
    enrolment; ``excluded_by_criterion`` counts screen failures per failed criterion (a candidate
    failing two criteria counts under both); ``screen_failure_without_criterion`` those recorded as
    screen failures while no criterion is not_met/present (e.g. data that could not be obtained);
    ``in_screening`` those still in screening, eligible or consented; ``enrolled`` everyone ever
    enrolled, of whom ``withdrawn_after_enrolment`` later withdrew.
    """

    assessed: int
    excluded: int
    screen_failures: int
    excluded_by_criterion: dict[str, int]
    screen_failure_without_criterion: int
    withdrawn_before_enrolment: int
    in_screening: int
    enrolled: int
    withdrawn_after_enrolment: int

    def as_dict(self) -> dict[str, object]:
        """JSON shape."""
        return {
            "assessed": self.assessed,
            "excluded": self.excluded,
            "screen_failures": self.screen_failures,
            "excluded_by_criterion": self.excluded_by_criterion,
            "screen_failure_without_criterion": self.screen_failure_without_criterion,
            "withdrawn_before_enrolment": self.withdrawn_before_enrolment,
            "in_screening": self.in_screening,
            "enrolled": self.enrolled,
            "withdrawn_after_enrolment": self.withdrawn_after_enrolment,
        }


def consort_flow(rows: list[LogRow]) -> ConsortFlow:
    """The flow numbers of a screening log (criteria in protocol order: IN1..IN7, EX1..EX12)."""
    by_criterion: Counter[str] = Counter()
    failures = without = withdrawn_before = pending = enrolled = withdrawn_after = 0
    for row in rows:
        ever_enrolled = Status.enrolled in row.status_dates
        if row.status == Status.screen_failure:
            failures += 1
            ids = [reason.split(" ")[0] for reason in row.failed_criteria]
            by_criterion.update(ids)
            without += not ids
        elif row.status == Status.withdrawn and not ever_enrolled:
            withdrawn_before += 1
        elif row.status in (Status.screening, Status.eligible, Status.consented):
            pending += 1
        if ever_enrolled:
            enrolled += 1
            withdrawn_after += row.status == Status.withdrawn
    order = {cid: i for i, cid in enumerate(CRITERION_ORDER)}
    return ConsortFlow(
        assessed=len(rows),
        excluded=failures + withdrawn_before,
        screen_failures=failures,
        excluded_by_criterion={
            k: by_criterion[k] for k in sorted(by_criterion, key=lambda c: order.get(c, 99))
        },
        screen_failure_without_criterion=without,
        withdrawn_before_enrolment=withdrawn_before,
        in_screening=pending,
        enrolled=enrolled,
        withdrawn_after_enrolment=withdrawn_after,
    )
