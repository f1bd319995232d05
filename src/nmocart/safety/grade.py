"""One subject's safety grading: CRS, ICANS, labs, ICAHT, hypogammaglobulinaemia, as JSON.

``grade_subject`` is pure; ``as_dict`` gives the output shape of ``nmocart safety grade``, ready
for orjson: dates stay ``datetime.date`` and drivers tuples (orjson writes them as
``YYYY-MM-DD`` strings and arrays, natively and fast).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import nmocart
from nmocart.kernel.units import canonical_unit
from nmocart.safety.crs import grade_crs
from nmocart.safety.ctcae import LabGrade, grade_labs, hypogammaglobulinemia, worst_grades
from nmocart.safety.episode import Episode
from nmocart.safety.icaht import Icaht, grade_icaht
from nmocart.safety.icans import grade_icans
from nmocart.safety.parameters import SafetyParameters
from nmocart.safety.record import SafetyRecord


@dataclass(frozen=True)
class SubjectSafety:
    """Everything graded for one subject, with the record it came from."""

    record: SafetyRecord
    crs: Episode
    icans: Episode
    labs: tuple[LabGrade, ...] | None
    worst_lab_grades: dict[str, int | None] | None
    icaht: Icaht
    hypogammaglobulinemia: bool | None
    hypogammaglobulinemia_driver: str
    parameters: dict[str, str]


def grade_subject(record: SafetyRecord, params: SafetyParameters) -> SubjectSafety:
    """Grade every section of one record with the given parameter set."""
    infusion, ld = record.infusion_date, record.lymphodepletion_start_date
    labs = grade_labs(record.labs, ld, infusion, params.ctcae)
    hypogamma, why = hypogammaglobulinemia(record.labs, ld, infusion, params.ctcae)
    return SubjectSafety(
        record=record,
        crs=grade_crs(record.crs_assessments, infusion, params.crs),
        icans=grade_icans(record.icans_assessments, infusion, params.icans),
        labs=labs,
        worst_lab_grades=None if labs is None else worst_grades(labs),
        icaht=grade_icaht(record.labs, infusion, params.icaht),
        hypogammaglobulinemia=hypogamma,
        hypogammaglobulinemia_driver=why,
        parameters=params.identity(),
    )


def number(value: float) -> float:
    """A canonical value as a JSON number with at most 6 significant digits."""
    return float(f"{value:.6g}")


def _episode(episode: Episode, with_ice: bool) -> dict[str, Any]:
    assessments = None
    if episode.assessments is not None:
        # dates go to orjson as dates (written YYYY-MM-DD, as isoformat), drivers as tuples
        if with_ice:
            assessments = [
                {
                    "date": day.date,
                    "study_day": day.study_day,
                    "grade": day.grade,
                    "ice_score": day.ice_score,
                    "drivers": day.drivers,
                }
                for day in episode.assessments
            ]
        else:
            assessments = [
                {"date": day.date, "study_day": day.study_day, "grade": day.grade, "drivers": day.drivers}
                for day in episode.assessments
            ]
    out: dict[str, Any] = {
        "assessments": assessments,
        "max_grade": episode.max_grade,
        "onset_day": episode.onset_day,
        "duration_days": episode.duration_days,
    }
    if with_ice and episode.assessments is not None:
        out["ice_not_done_days"] = [d.study_day for d in episode.assessments if d.ice_score is None]
    return out


def _labs(items: tuple[LabGrade, ...], infusion: dt.date) -> list[dict[str, Any]]:
    """The ``labs`` list: one object per graded result (per-test parts computed once)."""
    units: dict[str, str] = {}
    baselines: dict[str, dict[str, Any] | None] = {}
    out = []
    for item in items:
        test = item.test
        unit = units.get(test)
        if unit is None:
            unit = units[test] = canonical_unit(test)
            base = item.baseline
            baselines[test] = (
                None
                if base is None
                else {
                    "index": base.lab_index,
                    "date": base.date,
                    "value": number(base.value),
                    "unit": unit,
                    "grade": base.grade,
                }
            )
        out.append(
            {
                "index": item.lab_index,
                "test": test,
                "term": item.term,
                "date": item.date,
                "study_day": (item.date - infusion).days,
                "value": float(f"{item.value:.6g}"),
                "unit": unit,
                "grade": item.grade,
                "drivers": item.drivers,
                "reason": item.reason,
                "baseline": baselines[test],
            }
        )
    return out


def as_dict(result: SubjectSafety) -> dict[str, Any]:
    """The JSON object of one graded subject (the ``nmocart safety grade`` output shape)."""
    record = result.record
    icaht = result.icaht
    period = icaht.longest_period
    return {
        "subject_id": record.subject_id,
        "crs": _episode(result.crs, with_ice=False),
        "icans": _episode(result.icans, with_ice=True),
        "labs": None if result.labs is None else _labs(result.labs, record.infusion_date),
        "worst_lab_grades": result.worst_lab_grades,
        "icaht": {
            "early_grade": icaht.early_grade,
            "late_grade": icaht.late_grade,
            "early_drivers": list(icaht.early_drivers),
            "late_drivers": list(icaht.late_drivers),
            "longest_neutropenic_period": None
            if period is None
            else {
                "first_day": period.first_day,
                "last_day": period.last_day,
                "days": period.length,
                "profound_days": period.profound_days,
            },
        },
        "hypogammaglobulinemia": result.hypogammaglobulinemia,
        "hypogammaglobulinemia_drivers": [result.hypogammaglobulinemia_driver],
        "adverse_events": None
        if record.adverse_events is None
        else [ae.model_dump(mode="json") for ae in record.adverse_events],
        "parameters": result.parameters,
        "nmocart_version": nmocart.__version__,
    }
