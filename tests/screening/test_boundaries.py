"""A test at every boundary the eligibility spec names, on both sides."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .builders import REF, attack, base, day, lab, run, verdict


def _with_birth(birth: str) -> dict[str, Any]:
    record = base()
    record["birth_date"] = birth
    return record


# --- IN1: ages 18 and 60, completed years, both inclusive ---------------------------------


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("2008-03-02", "met"),  # 18th birthday on the reference date
        ("2008-03-03", "not_met"),  # turns 18 the day after
        ("1965-03-03", "met"),  # 60, turns 61 tomorrow
        ("1965-03-02", "not_met"),  # 61st birthday on the reference date
    ],
)
def test_age_edges(birth: str, expected: str) -> None:
    assert verdict(_with_birth(birth), "IN1") == expected


def test_leap_day_birthday_counts_on_first_of_march() -> None:
    record = _with_birth("2008-02-29")
    assert verdict(record, "IN1", as_of=dt.date(2026, 2, 28)) == "not_met"  # still 17
    assert verdict(record, "IN1", as_of=dt.date(2026, 3, 1)) == "met"


def test_missing_birth_date_is_unknown_and_named() -> None:
    record = _with_birth("2000-01-01")
    record["birth_date"] = None
    result = run(record)
    in1 = result.criteria[0]
    assert in1.verdict == "unknown"
    assert any(m.startswith("/birth_date") for m in in1.missing)


# --- screening window: [ref - 28 d, ref] --------------------------------------------------


def _creatinine_only(date: str, value: float = 3.0) -> dict[str, Any]:
    record = base()
    record["labs"] = [
        lab("creatinine", date, value, "mg/dL", 1.2),
        lab("total_bilirubin", day(-1), 0.5, "mg/dL", 1.2),
        lab("alt", day(-1), 20, "U/L", 40),
        lab("ast", day(-1), 20, "U/L", 40),
    ] + [x for x in record["labs"] if x["test"] not in ("creatinine", "total_bilirubin", "alt", "ast")]
    return record


def test_lab_on_first_day_of_window_counts() -> None:
    assert verdict(_creatinine_only(day(-28)), "EX9") == "present"


def test_lab_one_day_before_window_is_ignored() -> None:
    assert verdict(_creatinine_only(day(-29)), "EX9") == "unknown"


def test_lab_on_reference_date_counts() -> None:
    assert verdict(_creatinine_only(day(0)), "EX9") == "present"


def test_lab_dated_after_reference_date_is_ignored() -> None:
    assert verdict(_creatinine_only(day(1)), "EX9") == "unknown"


def test_ecg_window_edges() -> None:
    record = base()
    record["ecgs"] = [{"date": day(-28), "qtc_ms": 500, "correction": "fridericia"}]
    assert verdict(record, "EX2") == "present"
    record["ecgs"] = [{"date": day(-29), "qtc_ms": 500, "correction": "fridericia"}]
    assert verdict(record, "EX2") == "unknown"


def test_pregnancy_test_window_edges() -> None:
    record = base("incomplete")
    record["contraception_agreed"] = True
    record["pregnancy_tests"] = [{"date": day(-28), "specimen": "urine", "result": "negative"}]
    assert verdict(record, "IN7") == "met"
    record["pregnancy_tests"] = [{"date": day(-29), "specimen": "urine", "result": "negative"}]
    assert verdict(record, "IN7") == "unknown"


def test_as_of_date_moves_the_window() -> None:
    record = _creatinine_only(day(-29))
    assert verdict(record, "EX9", as_of=REF - dt.timedelta(days=1)) == "present"


# --- strict versus non-strict thresholds, unit conversions --------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (2.5, "mg/dL", "absent"),
        (2.51, "mg/dL", "present"),
        (221, "umol/L", "absent"),  # 221 / 88.4 = 2.5 exactly
        (221.1, "umol/L", "present"),
        (221, "µmol/L", "absent"),
        (221.01, "µmol/L", "present"),
    ],
)
def test_creatinine_limit_is_strict(value: float, unit: str, expected: str) -> None:
    record = _creatinine_only(day(-1), value)
    record["labs"][0]["unit"] = unit
    assert verdict(record, "EX9") == expected


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (2.0, "mg/dL", "absent"),
        (2.001, "mg/dL", "present"),
        (34.2, "umol/L", "absent"),
        (34.21, "umol/L", "present"),
    ],
)
def test_bilirubin_limit_is_strict(value: float, unit: str, expected: str) -> None:
    record = _creatinine_only(day(-1), 1.0)
    record["labs"][1] = lab("total_bilirubin", day(-1), value, unit, 1.2)
    assert verdict(record, "EX9") == expected


@pytest.mark.parametrize("test", ["alt", "ast"])
@pytest.mark.parametrize(
    ("value", "uln", "unit", "expected"),
    [
        (120, 40, "U/L", "absent"),
        (120.1, 40, "U/L", "present"),
        (150, 50, "IU/L", "absent"),
        (0.3, 0.1, "U/L", "absent"),
        (0.31, 0.1, "U/L", "present"),
    ],
)
def test_transaminase_limit_is_strict(test: str, value: float, uln: float, unit: str, expected: str) -> None:
    record = _creatinine_only(day(-1), 1.0)
    index = 2 if test == "alt" else 3
    record["labs"][index] = lab(test, day(-1), value, unit, uln)
    assert verdict(record, "EX9") == expected


def test_missing_upper_limit_makes_the_term_unknown() -> None:
    record = _creatinine_only(day(-1), 1.0)
    record["labs"][2]["upper_limit"] = None
    result = run(record)
    ex9 = next(c for c in result.criteria if c.id == "EX9")
    assert ex9.verdict == "unknown"
    assert ex9.missing == ("/labs/2/upper_limit: the laboratory's upper limit of normal",)


@pytest.mark.parametrize(
    ("sex", "qtc", "expected"),
    [
        ("male", 450, "absent"),
        ("male", 451, "present"),
        ("female", 470, "absent"),
        ("female", 470.5, "present"),
    ],
)
def test_qtc_limit_is_strict_and_by_sex(sex: str, qtc: float, expected: str) -> None:
    record = base("ineligible" if sex == "female" else "eligible")
    record["ecgs"] = [{"date": day(-3), "qtc_ms": qtc, "correction": "fridericia"}]
    assert verdict(record, "EX2") == expected


@pytest.mark.parametrize(("fold", "expected"), [(5, "absent"), (4.99, "present"), (5.01, "absent")])
def test_tcell_fold_threshold(fold: float, expected: str) -> None:
    record = base()
    record["tcell_proliferation"] = [{"date": day(-400), "fold_expansion": fold}]
    assert verdict(record, "EX8") == expected  # any date up to ref counts


# --- IN5: 30-day merging, 12/24-month edges (leap day) ------------------------------------


def _relapses(ref: dt.date, onsets: list[str]) -> dict[str, Any]:
    record = base()
    record["screening_date"] = ref.isoformat()
    record["disease_onset_date"] = "2010-01-01"
    record["attacks"] = [attack("2010-01-01")] + [attack(d) for d in onsets]
    return record


def test_attack_30_days_after_previous_merges() -> None:
    # two attacks in 12 months would meet IN5; 30 days apart they count as one
    record = _relapses(REF, [day(-100), day(-70)])
    assert verdict(record, "IN5") == "not_met"


def test_attack_31_days_after_previous_counts() -> None:
    record = _relapses(REF, [day(-100), day(-69)])
    assert verdict(record, "IN5") == "met"


def test_merging_is_measured_from_the_counted_attack() -> None:
    # -100, -75 (merged, 25 d), -69 (31 d after the counted -100): two relapses
    record = _relapses(REF, [day(-100), day(-75), day(-69)])
    assert verdict(record, "IN5") == "met"


def test_first_attack_window_edges() -> None:
    record = _relapses(REF, [day(-100), day(-10)])
    record["disease_onset_date"] = day(-130)  # the -100 attack is within 30 d: first attack
    record["attacks"] = record["attacks"][1:]
    assert verdict(record, "IN5") == "not_met"
    record["disease_onset_date"] = day(-131)  # 31 d: the -100 attack is a relapse
    assert verdict(record, "IN5") == "met"


@pytest.mark.parametrize(
    ("ref", "onset", "counted"),
    [
        (dt.date(2024, 2, 29), "2023-02-28", True),  # 12 months before a leap day: 28 Feb
        (dt.date(2024, 2, 29), "2023-02-27", False),
        (dt.date(2025, 2, 28), "2024-02-28", True),  # same day of month exists
        (dt.date(2025, 2, 28), "2024-02-27", False),
        (dt.date(2025, 3, 31), "2024-03-31", True),
        (dt.date(2024, 4, 30), "2023-04-30", True),
        (dt.date(2024, 4, 30), "2023-04-29", False),
    ],
)
def test_twelve_month_window_edge(ref: dt.date, onset: str, counted: bool) -> None:
    # a second relapse well inside the window; the edge relapse decides R12 >= 2
    inside = (ref - dt.timedelta(days=10)).isoformat()
    record = _relapses(ref, [onset, inside])
    assert verdict(record, "IN5") == ("met" if counted else "not_met")


@pytest.mark.parametrize(
    ("ref", "onset", "counted"),
    [
        (dt.date(2024, 2, 29), "2022-02-28", True),  # 24 months before a leap day
        (dt.date(2024, 2, 29), "2022-02-27", False),
        (dt.date(2026, 2, 28), "2024-02-28", True),
        (dt.date(2026, 2, 28), "2024-02-27", False),
    ],
)
def test_twenty_four_month_window_edge(ref: dt.date, onset: str, counted: bool) -> None:
    # one relapse inside 12 months, one between 12 and 24, the edge one makes three in 24
    recent = (ref - dt.timedelta(days=10)).isoformat()
    older = (ref - dt.timedelta(days=500)).isoformat()
    record = _relapses(ref, [onset, older, recent])
    assert verdict(record, "IN5") == ("met" if counted else "not_met")


def test_relapse_needs_one_in_twelve_months() -> None:
    record = _relapses(REF, [day(-600), day(-500), day(-400)])  # three in 24, none in 12
    assert verdict(record, "IN5") == "not_met"


# --- IN4 rituximab coverage, EX6 washout --------------------------------------------------


def _relapse_on_rituximab(infusion_to_attack_days: int) -> dict[str, Any]:
    record = base()
    attack_day = dt.date(2025, 6, 1)
    infusion = attack_day - dt.timedelta(days=infusion_to_attack_days)
    record["attacks"] = [attack(attack_day.isoformat())]
    record["medications"] = [
        {
            "name": "prednisone",
            "drug_class": "systemic_corticosteroid",
            "route": "oral",
            "start_date": "2020-01-01",
            "end_date": None,
        },
        {
            "name": "rituximab",
            "drug_class": "rituximab",
            "route": "intravenous",
            "start_date": infusion.isoformat(),
            "end_date": None,
        },
    ]
    return record


@pytest.mark.parametrize(("days", "expected"), [(0, "met"), (183, "met"), (184, "not_met")])
def test_rituximab_covers_183_days(days: int, expected: str) -> None:
    assert verdict(_relapse_on_rituximab(days), "IN4") == expected


def test_attack_the_day_after_a_steroid_course_ends_does_not_qualify() -> None:
    record = _relapse_on_rituximab(10)
    record["medications"][0]["end_date"] = "2025-06-01"
    assert verdict(record, "IN4") == "met"
    record["medications"][0]["end_date"] = "2025-05-31"
    assert verdict(record, "IN4") == "not_met"


@pytest.mark.parametrize(
    ("end_offset", "expected"),
    [(-28, "present"), (-29, "absent")],  # relative to T = planned treatment date
)
def test_steroid_washout_edge(end_offset: int, expected: str) -> None:
    record = base()
    treatment = dt.date.fromisoformat(record["planned_treatment_date"])
    record["medications"] = [
        {
            "name": "prednisone",
            "drug_class": "systemic_corticosteroid",
            "route": "oral",
            "start_date": "2025-01-01",
            "end_date": (treatment + dt.timedelta(days=end_offset)).isoformat(),
        },
    ]
    assert verdict(record, "EX6") == expected


def test_washout_uses_reference_date_without_planned_treatment() -> None:
    record = base()
    record["planned_treatment_date"] = None
    record["medications"] = [
        {
            "name": "prednisone",
            "drug_class": "systemic_corticosteroid",
            "route": "oral",
            "start_date": "2025-01-01",
            "end_date": day(-28),
        },
    ]
    assert verdict(record, "EX6") == "present"
    record["medications"][0]["end_date"] = day(-29)
    assert verdict(record, "EX6") == "absent"


@pytest.mark.parametrize("drug_class", ["inhaled_corticosteroid", "topical_corticosteroid"])
def test_inhaled_and_topical_steroids_never_count(drug_class: str) -> None:
    record = base()
    record["medications"] = [
        {
            "name": "budesonide",
            "drug_class": drug_class,
            "route": "inhaled",
            "start_date": "2025-01-01",
            "end_date": None,
        },
    ]
    assert verdict(record, "EX6") == "absent"


# --- the tie rule: same-day results, the least favourable counts --------------------------


def test_same_day_creatinine_the_higher_counts() -> None:
    record = _creatinine_only(day(-2), 1.0)
    record["labs"].append(lab("creatinine", day(-2), 2.6, "mg/dL", 1.2))
    assert verdict(record, "EX9") == "present"


def test_older_high_creatinine_does_not_count_when_a_later_one_exists() -> None:
    record = _creatinine_only(day(-2), 1.0)
    record["labs"].append(lab("creatinine", day(-3), 2.6, "mg/dL", 1.2))
    assert verdict(record, "EX9") == "absent"


def test_same_day_pregnancy_tests_positive_wins() -> None:
    record = base("incomplete")
    record["contraception_agreed"] = True
    record["pregnancy_tests"] = [
        {"date": day(-2), "specimen": "urine", "result": "negative"},
        {"date": day(-2), "specimen": "serum", "result": "positive"},
    ]
    assert verdict(record, "IN7") == "not_met"
    assert verdict(record, "EX3") == "present"


def test_same_day_hbsag_positive_wins() -> None:
    record = base()
    record["labs"].append(lab("hbsag", record["labs"][4]["date"], result="positive"))
    assert verdict(record, "EX5") == "present"


def test_same_day_qtc_the_longer_counts() -> None:
    record = base()
    record["ecgs"] = [
        {"date": day(-2), "qtc_ms": 430, "correction": "fridericia"},
        {"date": day(-2), "qtc_ms": 460, "correction": "bazett"},
    ]
    assert verdict(record, "EX2") == "present"


def test_same_day_tcell_the_lower_counts() -> None:
    record = base()
    record["tcell_proliferation"] = [
        {"date": day(-2), "fold_expansion": 8},
        {"date": day(-2), "fold_expansion": 3},
    ]
    assert verdict(record, "EX8") == "present"


# --- data dated after the reference date ------------------------------------------------


def test_attack_after_reference_date_is_ignored() -> None:
    record = _relapses(REF, [day(-100)])
    assert verdict(record, "IN5") == "not_met"
    record["attacks"].append(attack(day(1)))
    assert verdict(record, "IN5") == "not_met"
    record["attacks"].append(attack(day(-10)))
    assert verdict(record, "IN5") == "met"


def test_medication_starting_after_reference_date_is_ignored() -> None:
    record = base()
    record["medications"].append(
        {
            "name": "onasemnogene",
            "drug_class": "gene_therapy",
            "route": "intravenous",
            "start_date": day(1),
            "end_date": None,
        }
    )
    assert verdict(record, "EX7") == "absent"
    assert verdict(record, "EX7", as_of=REF + dt.timedelta(days=1)) == "present"


def test_condition_with_onset_after_reference_date_is_ignored() -> None:
    record = base()
    record["conditions"] = [
        {
            "name": "epilepsy",
            "category": "epilepsy",
            "onset_date": day(5),
            "active": True,
            "severe": None,
            "controlled": None,
        }
    ]
    assert verdict(record, "EX1") == "absent"
    record["conditions"][0]["onset_date"] = None  # undated history counts
    assert verdict(record, "EX1") == "present"
