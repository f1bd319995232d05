"""CRS grade of one assessment and of the episode (ASTCT consensus; safety spec section 2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from nmocart.safety.episode import DayGrade, Episode, study_day, summarise
from nmocart.safety.parameters import CrsParameters
from nmocart.safety.record import CrsAssessment


def hypotension_term(item: CrsAssessment, params: CrsParameters) -> tuple[int, str]:
    """Hypotension term: 0 without hypotension, else by vasopressor count (0: 2, 1: 3, 2+: 4)."""
    if not item.hypotension:
        return 0, "hypotension: none -> 0"
    by_count = params.hypotension_grade_by_vasopressors
    grade = by_count[min(item.vasopressors, len(by_count) - 1)]
    plural = "" if item.vasopressors == 1 else "s"
    return grade, f"hypotension: {item.vasopressors} vasopressor{plural} -> {grade}"


def hypoxia_term(item: CrsAssessment, params: CrsParameters) -> tuple[int, str]:
    """Hypoxia term by oxygen device; a nasal cannula is graded by its flow (<= 6 L/min: 2)."""
    if item.oxygen == "nasal_cannula":
        flow = item.oxygen_flow_l_min
        if flow is None:  # the record model rejects this; kept so the core never guesses
            raise ValueError("nasal_cannula without oxygen_flow_l_min cannot be graded")
        limit = params.nasal_cannula_low_flow_max_l_min
        if flow <= limit:
            grade = params.nasal_cannula_low_flow_grade
            return grade, f"hypoxia: nasal cannula {flow:g} L/min <= {limit:g} -> {grade}"
        grade = params.nasal_cannula_high_flow_grade
        return grade, f"hypoxia: nasal cannula {flow:g} L/min > {limit:g} -> {grade}"
    grade = params.oxygen_grade[item.oxygen]
    return grade, f"hypoxia: {item.oxygen} -> {grade}"


def grade_assessment(item: CrsAssessment, infusion_date: dt.date, params: CrsParameters) -> DayGrade:
    """The day's CRS grade: 0 unless CRS is present, else max(1, hypotension, hypoxia)."""
    day = study_day(item.date, infusion_date)
    fever = item.temperature_c >= params.fever_min_c
    hypotension, hypotension_why = hypotension_term(item, params)
    hypoxia, hypoxia_why = hypoxia_term(item, params)
    organ = hypotension > 0 or hypoxia > 0
    if fever:
        presence = f"fever: {item.temperature_c:g} C >= {params.fever_min_c:.1f}"
    elif item.anticytokine_given and organ:
        presence = "no fever required: anticytokine therapy given before this day"
    else:
        why = f"no CRS: {item.temperature_c:g} C < {params.fever_min_c:.1f}"
        if item.anticytokine_given:
            why += " and no hypotension or hypoxia after anticytokine therapy"
        return DayGrade(item.date, day, 0, (why,))
    grade = max(1, hypotension, hypoxia)
    drivers = [presence]
    drivers += [why for term, why in ((hypotension, hypotension_why), (hypoxia, hypoxia_why)) if term]
    if grade == 1:
        drivers.append("no hypotension or hypoxia -> 1")
    return DayGrade(item.date, day, grade, tuple(drivers))


def grade_crs(
    items: Sequence[CrsAssessment] | None, infusion_date: dt.date, params: CrsParameters
) -> Episode:
    """Every assessment graded, and the episode summary (unknown when not collected)."""
    if items is None:
        return summarise(None)
    return summarise([grade_assessment(item, infusion_date, params) for item in items])
