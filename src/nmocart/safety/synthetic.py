"""A seeded synthetic safety study: plausible CRS/ICANS courses and lab curves after lymphodepletion.

For demonstrations, the report and the benchmark only; never clinical data. The same seed
gives the same records byte for byte (``numpy.random.default_rng``, fixed field order).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

FIRST_INFUSION = dt.date(2024, 1, 15)
"""Infusion date of the first synthetic subject; later subjects follow every 9 days."""


@dataclass(frozen=True)
class Course:
    """The hidden course of one synthetic subject that the records are drawn from."""

    crs_onset: int | None
    crs_days: int
    crs_grade: int
    icans_onset: int | None
    icans_days: int
    icans_grade: int
    anc_nadir: float
    anc_recovery_day: int
    anc_second_dip: bool
    late_cytopenia: bool
    igg_fall: float


# Reference limits (LLN, ULN) in the canonical unit; hemoglobin and creatinine by sex.
LIMITS: dict[str, tuple[float, float]] = {
    "anc": (1.8, 7.7),
    "platelets": (150.0, 400.0),
    "lymphocytes": (1.0, 4.8),
    "wbc": (4.0, 11.0),
    "alt": (7.0, 40.0),
    "ast": (10.0, 40.0),
    "total_bilirubin": (0.1, 1.2),
    "igg": (700.0, 1600.0),
}
HEMOGLOBIN_LIMITS = {"female": (12.0, 16.0), "male": (13.5, 17.5)}
CREATININE_LIMITS = {"female": (0.5, 1.1), "male": (0.7, 1.3)}
CBC = ("anc", "platelets", "hemoglobin", "lymphocytes", "wbc")
CHEMISTRY = ("alt", "ast", "total_bilirubin", "creatinine")


def _course(rng: np.random.Generator) -> Course:
    crs_grade = int(rng.choice([0, 1, 2, 3], p=[0.3, 0.45, 0.2, 0.05]))
    crs_onset = int(rng.integers(1, 6)) if crs_grade else None
    crs_days = int(rng.integers(2, 7)) + crs_grade
    icans_grade = int(rng.choice([0, 1, 2, 3], p=[0.65, 0.2, 0.12, 0.03])) if crs_grade else 0
    icans_onset = (crs_onset or 0) + int(rng.integers(1, 4)) if icans_grade else None
    return Course(
        crs_onset=crs_onset,
        crs_days=crs_days,
        crs_grade=crs_grade,
        icans_onset=icans_onset,
        icans_days=int(rng.integers(1, 5)) + icans_grade,
        icans_grade=icans_grade,
        anc_nadir=float(rng.uniform(0.03, 0.6)),
        anc_recovery_day=int(rng.integers(2, 12)),
        anc_second_dip=bool(rng.random() < 0.25),
        late_cytopenia=bool(rng.random() < 0.15),
        igg_fall=float(rng.uniform(0.3, 0.9)),
    )


def _in(day: int, onset: int | None, days: int) -> bool:
    return onset is not None and onset <= day < onset + days


def _crs_day(rng: np.random.Generator, c: Course, day: int, date: dt.date) -> dict[str, Any]:
    """One CRS assessment: fever in the episode, organ support at the peak of grade 2-3."""
    on = _in(day, c.crs_onset, c.crs_days)
    onset = c.crs_onset if c.crs_onset is not None else 0
    peak = on and c.crs_grade >= 2 and onset + 1 <= day <= onset + 2
    treated = c.crs_grade >= 2 and day > onset + 1
    hypotension = bool(peak and (c.crs_grade == 3 or rng.random() < 0.5))
    oxygen, flow = "none", None
    if peak and (c.crs_grade == 3 and not hypotension):
        oxygen = "facemask"
    elif peak and not hypotension:
        oxygen, flow = "nasal_cannula", float(rng.integers(2, 7))
    fever = on and not (treated and day > onset + 2)
    temperature = rng.uniform(38.1, 39.6) if fever else rng.uniform(36.3, 37.6)
    return {
        "date": date.isoformat(),
        "temperature_c": round(float(temperature), 1),
        "hypotension": hypotension,
        "vasopressors": 1 if hypotension and c.crs_grade == 3 else 0,
        "oxygen": oxygen,
        "oxygen_flow_l_min": flow,
        "anticytokine_given": bool(treated),
    }


def _ice_items(total: int) -> dict[str, int]:
    caps = (("orientation", 4), ("naming", 3), ("commands", 1), ("writing", 1), ("attention", 1))
    out: dict[str, int] = {}
    for name, cap in caps:
        out[name] = min(cap, total)
        total -= out[name]
    return out


def _icans_day(rng: np.random.Generator, c: Course, day: int, date: dt.date) -> dict[str, Any]:
    """One ICANS assessment: ICE score falling with the grade; ICE sometimes not done."""
    on = _in(day, c.icans_onset, c.icans_days)
    score = 10
    consciousness = "alert"
    if on:
        score = {1: int(rng.integers(7, 10)), 2: int(rng.integers(3, 7))}.get(c.icans_grade, 2)
        consciousness = "awakens_to_voice" if c.icans_grade == 3 else "alert"
    ice = None if (not on and rng.random() < 0.08) else _ice_items(score)
    return {
        "date": date.isoformat(),
        "ice": ice,
        "consciousness": consciousness,
        "seizure": "none",
        "motor": "none",
        "cerebral_edema": "none",
    }


def _anc(c: Course, day: int, baseline: float) -> float:
    """ANC after fludarabine/cyclophosphamide: nadir near day 0-7, log-linear recovery."""
    if day < -3:
        return baseline
    if day <= c.anc_recovery_day:
        value = c.anc_nadir
    else:
        frac = min(1.0, (day - c.anc_recovery_day) / 5)
        value = math.exp(math.log(c.anc_nadir) + frac * (math.log(baseline * 0.7) - math.log(c.anc_nadir)))
    if c.anc_second_dip and 18 <= day <= 23:
        value = min(value, 0.4)
    if c.late_cytopenia and day > 30:
        value = min(value, 0.9 if day < 60 else 1.3)
    return value


def _lab_value(rng: np.random.Generator, c: Course, test: str, day: int, base: dict[str, float]) -> float:
    """The canonical-unit value of ``test`` on ``day`` for this course, with assay noise."""
    noise = float(rng.normal(1.0, 0.06))
    anc = _anc(c, day, base["anc"])
    after = day >= -3
    crs_bump = 1.0
    if c.crs_onset is not None and c.crs_onset <= day < c.crs_onset + c.crs_days + 3:
        crs_bump = 1.0 + 0.8 * c.crs_grade
    if test == "anc":
        return anc * noise
    if test == "lymphocytes":
        lymph = base[test] if not after else 0.12 + 0.7 * min(1.0, max(0, day) / 40)
        return lymph * noise
    if test == "wbc":
        return (anc + 0.3 + (0.2 if after else base["lymphocytes"])) * noise
    if test == "platelets":
        dip = 0.3 + 0.7 * min(1.0, abs(day - 8) / 14) if after else 1.0
        return base[test] * dip * noise
    if test == "hemoglobin":
        return base[test] * (0.8 if 2 <= day <= 30 else 1.0) * noise
    if test in ("alt", "ast"):
        return base[test] * crs_bump * noise
    if test == "total_bilirubin":
        return base[test] * (1.0 + (crs_bump - 1.0) * 0.3) * noise
    if test == "creatinine":
        return base[test] * (1.0 + (crs_bump - 1.0) * 0.25) * noise
    return base[test] * (1.0 if day <= 10 else c.igg_fall) * noise


DIGITS = {"alt": 0, "ast": 0, "platelets": 0, "igg": 0, "hemoglobin": 1}
"""Decimals a laboratory reports per test in the canonical unit (two otherwise)."""


def _unit(test: str, per_ul: bool, si_units: bool) -> tuple[str, float]:
    """The unit a site reports ``test`` in and the factor from the canonical unit to it."""
    if test in ("anc", "platelets", "lymphocytes", "wbc"):
        return ("/uL", 1000.0) if per_ul else ("10^9/L", 1.0)
    if test == "creatinine" and si_units:
        return "umol/L", 88.4
    return {"hemoglobin": "g/dL", "alt": "U/L", "ast": "U/L"}.get(test, "mg/dL"), 1.0


def _lab_days(follow_up: int, daily: bool) -> list[int]:
    if daily:
        return [-7, *range(-5, follow_up + 1)]
    early = [-7, -5, -3, *range(0, 15), 17, 19, 21, 24, 28]
    late = [35, 42, 49, 56, 70, 84, 98]
    return [d for d in early + late if d <= follow_up]


def synthetic_record(
    rng: np.random.Generator,
    index: int,
    follow_up_days: int = 100,
    daily_labs: bool = False,
    assessment_days: int = 14,
) -> dict[str, Any]:
    """One subject's safety record as a JSON-ready dict (field order as in the spec)."""
    course = _course(rng)
    sex = "female" if rng.random() < 0.85 else "male"  # NMOSD affects women far more often
    infusion = FIRST_INFUSION + dt.timedelta(days=9 * index)
    limits = dict(LIMITS, hemoglobin=HEMOGLOBIN_LIMITS[sex], creatinine=CREATININE_LIMITS[sex])
    base = {
        "anc": float(rng.uniform(2.5, 5.5)),
        "platelets": float(rng.uniform(180, 320)),
        "hemoglobin": float(rng.uniform(12.2, 14.5)),
        "lymphocytes": float(rng.uniform(1.1, 2.4)),
        "alt": float(rng.uniform(12, 34)),
        "ast": float(rng.uniform(14, 32)),
        "total_bilirubin": float(rng.uniform(0.3, 0.9)),
        "creatinine": float(rng.uniform(0.6, 0.95)),
        "igg": float(rng.uniform(800, 1300)),
    }
    per_ul = rng.random() < 0.3  # some sites report counts per microlitre
    si_units = rng.random() < 0.3  # and some report creatinine in umol/L
    assess_days = range(0, min(follow_up_days, assessment_days) + 1)
    dates = {d: infusion + dt.timedelta(days=d) for d in range(-7, follow_up_days + 1)}
    labs: list[dict[str, Any]] = []
    for day in _lab_days(follow_up_days, daily_labs):
        tests = [*CBC, *CHEMISTRY] if day <= 30 or daily_labs else ["anc", "platelets"]
        if day in (-7, 14, 28, 56, 84):
            tests.append("igg")
        for test in tests:
            value = _lab_value(rng, course, test, day, base)
            lln, uln = limits[test]
            unit, factor = _unit(test, per_ul, si_units)
            digits = DIGITS.get(test, 2) if factor == 1.0 else 0
            shown = float(round(value * factor, digits))
            labs.append(
                {
                    "date": dates[day].isoformat(),
                    "test": test,
                    "value": shown,
                    "unit": unit,
                    "lower_limit": round(lln * factor, 1),
                    "upper_limit": round(uln * factor, 1),
                }
            )
    return {
        "subject_id": f"SYN-{index + 1:03d}",
        "sex": sex,
        "infusion_date": infusion.isoformat(),
        "lymphodepletion_start_date": dates[-5].isoformat(),
        "crs_assessments": [_crs_day(rng, course, d, dates[d]) for d in assess_days],
        "icans_assessments": [_icans_day(rng, course, d, dates[d]) for d in assess_days],
        "labs": labs,
        "adverse_events": _adverse_events(rng, course, infusion),
    }


def _adverse_events(rng: np.random.Generator, c: Course, infusion: dt.date) -> list[dict[str, Any]]:
    """Investigator-reported AEs consistent with the course, plus common low-grade events."""
    events: list[dict[str, Any]] = []

    def add(term: str, start: int, length: int, grade: int, related: str) -> None:
        events.append(
            {
                "term": term,
                "start_date": (infusion + dt.timedelta(days=start)).isoformat(),
                "end_date": (infusion + dt.timedelta(days=start + length)).isoformat(),
                "grade": grade,
                "serious": grade >= 3,
                "related_to_cart": related,
                "outcome": "recovered",
            }
        )

    if c.crs_onset is not None:
        add("Cytokine release syndrome", c.crs_onset, c.crs_days, c.crs_grade, "definite")
    if c.icans_onset is not None:
        add(
            "Immune effector cell-associated neurotoxicity syndrome",
            c.icans_onset,
            c.icans_days,
            c.icans_grade,
            "definite",
        )
    for term, p, grade in (
        ("Fatigue", 0.5, 1),
        ("Headache", 0.3, 1),
        ("Nausea", 0.3, 1),
        ("Upper respiratory infection", 0.2, 2),
        ("Febrile neutropenia", 0.1, 3),
    ):
        if rng.random() < p:
            add(term, int(rng.integers(0, 20)), int(rng.integers(1, 8)), grade, "possible")
    return events


def synthetic_study(
    n_subjects: int = 12,
    seed: int = 20240115,
    follow_up_days: int = 100,
    daily_labs: bool = False,
    assessment_days: int = 14,
) -> Iterator[dict[str, Any]]:
    """``n_subjects`` records from one seeded generator, in subject order.

    CRS/ICANS are assessed daily on days 0 to ``assessment_days``; labs follow a CAR-T
    monitoring schedule (daily to day 14, then three times a week), or every day.
    """
    rng = np.random.default_rng(seed)
    for index in range(n_subjects):
        yield synthetic_record(rng, index, follow_up_days, daily_labs, assessment_days)
