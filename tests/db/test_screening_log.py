"""The screening log: status transitions, their rules and dates, CSV with injection defence, CONSORT."""

from __future__ import annotations

import csv
import datetime as dt
import io

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmocart.db import audit, candidates, screening_log, signatures
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import ConflictError, ForbiddenError, InvalidInputError
from nmocart.db.screening_log import TRANSITIONS, Status
from tests.db.conftest import PASSWORDS, Clock, example

DAY = dt.date(2026, 3, 2)


def _signed_eligible(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    signatures.sign(
        db, investigator, "SCR-0001", PASSWORDS["investigator"], signatures.standard_meaning("eligible")
    )


def test_the_full_path_to_enrolment_with_dates(db: Database, clock: Clock, investigator: Actor) -> None:
    _signed_eligible(db, investigator)
    clock.advance(days=10)
    screening_log.change_status(db, investigator, "SCR-0001", "eligible", DAY, "signed eligible")
    screening_log.change_status(
        db, investigator, "SCR-0001", "consented", DAY + dt.timedelta(days=3), "ICF v2"
    )
    event = screening_log.change_status(
        db, investigator, "SCR-0001", "enrolled", DAY + dt.timedelta(days=7), "day 0"
    )
    assert (event.old_status, event.new_status, event.changed_by) == ("consented", "enrolled", "investigator")
    (row,) = screening_log.screening_log(db, investigator)
    assert (row.status, row.status_date, row.decision, row.failed_criteria) == (
        "enrolled",
        DAY + dt.timedelta(days=7),
        "eligible",
        (),
    )
    assert row.status_dates == {
        "screening": DAY,
        "eligible": DAY,
        "consented": DAY + dt.timedelta(days=3),
        "enrolled": DAY + dt.timedelta(days=7),
    }
    assert [e.new_status for e in row.history] == ["screening", "eligible", "consented", "enrolled"]
    trail = [r for r in candidates.candidate_audit(db, investigator, "SCR-0001") if r.entity == "status"]
    assert [r.reason for r in trail] == ["candidate created", "signed eligible", "ICF v2", "day 0"]


@pytest.mark.parametrize("target", ["eligible", "enrolled"])
def test_eligible_and_enrolled_need_a_signed_eligible_latest_version(
    db: Database, investigator: Actor, target: str
) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    if target == "enrolled":
        signatures.sign(
            db, investigator, "SCR-0001", PASSWORDS["investigator"], signatures.standard_meaning("eligible")
        )
        screening_log.change_status(db, investigator, "SCR-0001", "eligible", DAY, "ok")
        screening_log.change_status(db, investigator, "SCR-0001", "consented", DAY, "ok")
        data = orjson.loads(example("eligible"))
        data["investigator"]["notes"] = "edited after signing"
        candidates.save_version(db, investigator, "SCR-0001", data, 1, "edit")
    with pytest.raises(ConflictError, match=f"status: {target} needs version \\d signed"):
        screening_log.change_status(db, investigator, "SCR-0001", target, DAY, "go")


def test_an_ineligible_candidate_cannot_be_made_eligible_but_can_fail_screening(
    db: Database, investigator: Actor
) -> None:
    candidates.create_candidate(db, investigator, example("ineligible"))
    signatures.sign(
        db, investigator, "SCR-0002", PASSWORDS["investigator"], signatures.standard_meaning("ineligible")
    )
    with pytest.raises(ConflictError, match="needs the decision eligible; version 1 is ineligible"):
        screening_log.change_status(db, investigator, "SCR-0002", "eligible", DAY, "no")
    screening_log.change_status(db, investigator, "SCR-0002", "screen_failure", DAY, "criteria not met")
    (row,) = screening_log.screening_log(db, investigator)
    assert row.status == "screen_failure"
    assert row.failed_criteria
    assert all(reason.split(" ")[1] in ("not_met", "present") for reason in row.failed_criteria)
    result = candidates.get_version(db, investigator, "SCR-0002").result
    expected = [
        f"{c['id']} {c['verdict']}" for c in result["criteria"] if c["verdict"] in ("not_met", "present")
    ]
    assert list(row.failed_criteria) == expected
    with pytest.raises(
        ConflictError, match=r"cannot go from screen_failure to screening; .*none \(final status\)"
    ):
        screening_log.change_status(db, investigator, "SCR-0002", "screening", DAY, "retry")


def test_transition_table_is_closed_and_final_states_are_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.screen_failure] == TRANSITIONS[Status.withdrawn] == frozenset()
    assert Status.enrolled not in TRANSITIONS[Status.screening], "enrolment needs consent first"
    for status, targets in TRANSITIONS.items():
        assert status not in targets


def test_status_changes_need_an_investigator_a_reason_and_a_plausible_date(
    db: Database, clock: Clock, investigator: Actor, coordinator: Actor, monitor: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("incomplete"))
    for actor, role in ((coordinator, "coordinator"), (monitor, "monitor")):
        with pytest.raises(ForbiddenError, match=f"role {role} may not change status"):
            screening_log.change_status(db, actor, "SCR-0003", "withdrawn", DAY, "x")
    with pytest.raises(InvalidInputError, match="reason: required"):
        screening_log.change_status(db, investigator, "SCR-0003", "withdrawn", DAY, "  ")
    with pytest.raises(InvalidInputError, match="status: 'gone' is not a status"):
        screening_log.change_status(db, investigator, "SCR-0003", "gone", DAY, "x")
    today = clock.now.date()
    with pytest.raises(InvalidInputError, match="is in the future"):
        screening_log.change_status(
            db, investigator, "SCR-0003", "withdrawn", today + dt.timedelta(days=1), "x"
        )
    with pytest.raises(InvalidInputError, match="is before the current status date 2026-03-02"):
        screening_log.change_status(
            db, investigator, "SCR-0003", "withdrawn", DAY - dt.timedelta(days=1), "x"
        )
    screening_log.change_status(db, investigator, "SCR-0003", "withdrawn", today, "consent withdrawn")
    assert screening_log.screening_log(db, investigator)[0].status == "withdrawn"


def test_the_screening_log_is_readable_by_admins_but_not_candidates(
    db: Database, coordinator: Actor, admin: Actor, monitor: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    assert [r.candidate_id for r in screening_log.screening_log(db, admin)] == ["SCR-0001"]
    assert [r.candidate_id for r in screening_log.screening_log(db, monitor)] == ["SCR-0001"]
    with pytest.raises(ForbiddenError):
        candidates.get_version(db, admin, "SCR-0001")


def test_screening_log_csv_has_one_row_per_candidate_and_neutralises_formulas(
    db: Database, investigator: Actor
) -> None:
    for name in ("eligible", "ineligible", "incomplete"):
        candidates.create_candidate(db, investigator, example(name))
    data = orjson.loads(example("incomplete"))
    data["candidate_id"] = "-23"
    candidates.create_candidate(db, investigator, data)
    text = screening_log.screening_log_csv(screening_log.screening_log(db, investigator))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["candidate_id"] for r in rows] == ["'-23", "SCR-0001", "SCR-0002", "SCR-0003"]
    assert [r["decision"] for r in rows] == ["incomplete", "eligible", "ineligible", "incomplete"]
    assert rows[2]["screen_failure_reasons"]
    assert rows[1]["date_screening"] == "2026-03-02"
    assert rows[1]["date_enrolled"] == ""
    assert text.endswith("\r\n")


@given(st.text(max_size=20))
def test_neutralise_cell_quotes_exactly_the_dangerous_starts(value: str) -> None:
    out = audit.neutralise_cell(value)
    dangerous = value[:1] in ("=", "+", "-", "@", "\t", "\r")
    assert out == ("'" + value if dangerous else value)


def test_consort_flow_counts(db: Database, clock: Clock, investigator: Actor) -> None:
    _signed_eligible(db, investigator)
    candidates.create_candidate(db, investigator, example("ineligible"))
    candidates.create_candidate(db, investigator, example("incomplete"))
    other = orjson.loads(example("incomplete"))
    other["candidate_id"] = "SCR-0004"
    candidates.create_candidate(db, investigator, other)
    clock.advance(days=30)
    screening_log.change_status(db, investigator, "SCR-0001", "eligible", DAY, "ok")
    screening_log.change_status(db, investigator, "SCR-0001", "consented", DAY, "ok")
    screening_log.change_status(db, investigator, "SCR-0001", "enrolled", DAY, "ok")
    screening_log.change_status(db, investigator, "SCR-0002", "screen_failure", DAY, "criteria")
    screening_log.change_status(db, investigator, "SCR-0003", "screen_failure", DAY, "data unobtainable")
    rows = screening_log.screening_log(db, investigator)
    flow = screening_log.consort_flow(rows)
    failed = rows[1].failed_criteria
    assert flow.assessed == 4
    assert flow.screen_failures == 2
    assert flow.excluded == 2
    assert flow.excluded_by_criterion == {reason.split(" ")[0]: 1 for reason in failed}
    assert flow.screen_failure_without_criterion == 1
    assert (flow.in_screening, flow.enrolled, flow.withdrawn_after_enrolment) == (1, 1, 0)
    screening_log.change_status(db, investigator, "SCR-0001", "withdrawn", DAY, "moved away")
    screening_log.change_status(db, investigator, "SCR-0004", "withdrawn", DAY, "declined")
    flow = screening_log.consort_flow(screening_log.screening_log(db, investigator))
    assert (flow.enrolled, flow.withdrawn_after_enrolment, flow.withdrawn_before_enrolment) == (1, 1, 1)
    assert (flow.excluded, flow.in_screening) == (3, 0)
