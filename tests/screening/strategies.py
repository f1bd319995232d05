"""Hypothesis strategies for random but valid screening records around a reference date."""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from hypothesis import strategies as st

from nmocart.kernel.units import ANALYTE_UNITS
from nmocart.screening.record import (
    NUMERIC_TESTS,
    ConditionCategory,
    DrugClass,
    QualitativeTest,
    SyndromeType,
)

REF = dt.date(2026, 3, 2)


def dates(before: int = 1200, after: int = 20) -> st.SearchStrategy[str]:
    """ISO dates from ``before`` days before to ``after`` days after the reference date."""
    return st.integers(-before, after).map(lambda d: (REF + dt.timedelta(days=d)).isoformat())


def maybe_bool() -> st.SearchStrategy[bool | None]:
    return st.sampled_from([True, False, None])


def section(item: st.SearchStrategy[dict[str, Any]], max_size: int = 5) -> st.SearchStrategy[Any]:
    """Not collected (None), collected with nothing ([]), or a list of items."""
    return st.one_of(st.none(), st.lists(item, max_size=max_size))


SYNDROMES = list(get_args(SyndromeType))
DRUGS = list(get_args(DrugClass))
CATEGORIES = list(get_args(ConditionCategory))
UNITS = {test: list(ANALYTE_UNITS[test].spellings) for test in NUMERIC_TESTS}
QUALITATIVE = list(get_args(QualitativeTest))

attacks = st.fixed_dictionaries(
    {
        "onset_date": dates(3000),
        "syndromes": st.lists(
            st.fixed_dictionaries({"type": st.sampled_from(SYNDROMES), "mri_requirements_met": maybe_bool()}),
            min_size=1,
            max_size=3,
        ),
    }
)
antibody_tests = st.fixed_dictionaries(
    {
        "date": dates(3000),
        "antibody": st.sampled_from(["aqp4_igg", "mog_igg"]),
        "method": st.sampled_from(["cba", "elisa", "tissue_iif", "other"]),
        "result": st.sampled_from(["positive", "negative", "equivocal"]),
        "titer": st.none(),
    }
)


@st.composite
def medications(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(-2000, 20))
    end = draw(st.one_of(st.none(), st.integers(start, 60)))
    return {
        "name": "drug",
        "drug_class": draw(st.sampled_from(DRUGS)),
        "route": None,
        "start_date": (REF + dt.timedelta(days=start)).isoformat(),
        "end_date": None if end is None else (REF + dt.timedelta(days=end)).isoformat(),
    }


conditions = st.fixed_dictionaries(
    {
        "name": st.just("condition"),
        "category": st.sampled_from(CATEGORIES),
        "onset_date": st.one_of(st.none(), dates(3000)),
        "active": maybe_bool(),
        "severe": maybe_bool(),
        "controlled": maybe_bool(),
    }
)


@st.composite
def labs(draw: st.DrawFn) -> dict[str, Any]:
    date = draw(dates(40, 5))
    if draw(st.booleans()):
        test = draw(st.sampled_from(sorted(UNITS)))
        return {
            "date": date,
            "test": test,
            "value": draw(st.floats(0, 500, allow_nan=False)),
            "unit": draw(st.sampled_from(UNITS[test])),
            "upper_limit": draw(st.one_of(st.none(), st.floats(0.5, 200))),
            "result": None,
        }
    return {
        "date": date,
        "test": draw(st.sampled_from(QUALITATIVE)),
        "value": None,
        "unit": None,
        "upper_limit": None,
        "result": draw(st.sampled_from(["positive", "negative"])),
    }


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid screening record with every section possibly missing, empty or filled."""
    sex = draw(st.sampled_from(["female", "male"]))
    flag: st.SearchStrategy[bool | None] = maybe_bool() if sex == "female" else st.sampled_from([False, None])
    investigator = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "survival_over_12_weeks": maybe_bool(),
                    "uncontrolled_disease": maybe_bool(),
                    "other_risk": maybe_bool(),
                    "notes": st.none(),
                }
            ),
        )
    )
    return {
        "candidate_id": draw(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)),
        "screening_date": REF.isoformat(),
        "planned_treatment_date": draw(st.one_of(st.none(), dates(10, 60))),
        "sex": sex,
        "birth_date": draw(st.one_of(st.none(), dates(25000, 0))),
        "childbearing_potential": draw(flag),
        "pregnant": draw(flag),
        "lactating": draw(flag),
        "contraception_agreed": draw(maybe_bool()),
        "disease_onset_date": draw(st.one_of(st.none(), dates(3000))),
        "alternative_diagnoses_excluded": draw(maybe_bool()),
        "attacks": draw(section(attacks)),
        "antibody_tests": draw(section(antibody_tests, 3)),
        "medications": draw(section(medications())),
        "conditions": draw(section(conditions, 3)),
        "labs": draw(section(labs(), 12)),
        "pregnancy_tests": draw(
            section(
                st.fixed_dictionaries(
                    {
                        "date": dates(40, 5),
                        "specimen": st.sampled_from(["urine", "serum"]),
                        "result": st.sampled_from(["positive", "negative"]),
                    }
                ),
                2,
            )
        ),
        "ecgs": draw(
            section(
                st.fixed_dictionaries(
                    {
                        "date": dates(40, 5),
                        "qtc_ms": st.integers(350, 520),
                        "correction": st.sampled_from(["fridericia", "bazett", None]),
                    }
                ),
                2,
            )
        ),
        "tcell_proliferation": draw(
            section(st.fixed_dictionaries({"date": dates(100, 5), "fold_expansion": st.floats(0, 20)}), 2)
        ),
        "investigator": investigator,
    }


REMOVABLE = [
    "planned_treatment_date",
    "birth_date",
    "childbearing_potential",
    "pregnant",
    "lactating",
    "contraception_agreed",
    "disease_onset_date",
    "alternative_diagnoses_excluded",
    "attacks",
    "antibody_tests",
    "medications",
    "conditions",
    "labs",
    "pregnancy_tests",
    "ecgs",
    "tcell_proliferation",
    "investigator",
]
"""Every field whose absence means 'not collected'."""
