"""ICE score and ICANS grade of one assessment and of the episode (ASTCT; safety spec section 3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from nmocart.safety.episode import DayGrade, Episode, study_day, summarise
from nmocart.safety.parameters import IcansParameters
from nmocart.safety.record import IcansAssessment


def ice_term(score: int | None, params: IcansParameters) -> int:
    """ICE term: 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3; not done (None) -> 0."""
    if score is None:
        return 0
    for minimum, grade in params.ice_grade_by_min_score:
        if score >= minimum:
            return grade
    raise ValueError(f"ICE score {score} is below every band")


def grade_assessment(item: IcansAssessment, infusion_date: dt.date, params: IcansParameters) -> DayGrade:
    """The day's ICANS grade: the largest of the ICE, consciousness, seizure, motor, oedema terms."""
    score = item.ice.total if item.ice is not None else None
    terms = (
        ("ICE", "not done" if score is None else f"{score}/10", ice_term(score, params)),
        ("consciousness", item.consciousness, params.consciousness_grade[item.consciousness]),
        ("seizure", item.seizure, params.seizure_grade[item.seizure]),
        ("motor", item.motor, params.motor_grade[item.motor]),
        ("cerebral edema", item.cerebral_edema, params.cerebral_edema_grade[item.cerebral_edema]),
    )
    grade = max(term for _, _, term in terms)
    if grade:
        drivers = tuple(f"{name}: {shown} -> {term}" for name, shown, term in terms if term == grade)
    else:
        drivers = ("no ICANS finding",)
    if score is None:
        drivers += ("ICE not done (not a finding)",)
    return DayGrade(item.date, study_day(item.date, infusion_date), grade, drivers, score)


def grade_icans(
    items: Sequence[IcansAssessment] | None, infusion_date: dt.date, params: IcansParameters
) -> Episode:
    """Every assessment graded, and the episode summary (unknown when not collected)."""
    if items is None:
        return summarise(None)
    return summarise([grade_assessment(item, infusion_date, params) for item in items])
