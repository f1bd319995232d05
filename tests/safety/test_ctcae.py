from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmocart.kernel.units import to_canonical
from nmocart.safety.ctcae import (
    find_baselines,
    grade_labs,
    grade_value,
    hypogammaglobulinemia,
    worst_grades,
)
from nmocart.safety.record import LabResult

from .helpers import INFUSION, LD_START, PARAMS, lab

P = PARAMS.ctcae


def g(item: LabResult, baseline: LabResult | None = None) -> int | None:
    return grade_value(item, baseline, P)[0]


# (test, unit, LLN, [(value, expected grade)]) straight from the spec's table, both sides of each cut
DECREASED = [
    (
        "anc",
        "10^9/L",
        1.8,
        [(1.8, 0), (1.79, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4), (0.0, 4)],
    ),
    (
        "platelets",
        "10^9/L",
        150,
        [(150, 0), (149, 1), (75, 1), (74.9, 2), (50, 2), (49.9, 3), (25, 3), (24.9, 4)],
    ),
    (
        "lymphocytes",
        "10^9/L",
        1.0,
        [(1.0, 0), (0.99, 1), (0.8, 1), (0.79, 2), (0.5, 2), (0.49, 3), (0.2, 3), (0.19, 4)],
    ),
    (
        "wbc",
        "10^9/L",
        4.0,
        [(4.0, 0), (3.99, 1), (3.0, 1), (2.99, 2), (2.0, 2), (1.99, 3), (1.0, 3), (0.99, 4)],
    ),
    ("hemoglobin", "g/dL", 12.0, [(12.0, 0), (11.9, 1), (10.0, 1), (9.9, 2), (8.0, 2), (7.9, 3), (4.0, 3)]),
]


@pytest.mark.parametrize(("test", "unit", "lln", "cases"), DECREASED)
def test_decreased_terms_every_cut(test: str, unit: str, lln: float, cases: list[tuple[float, int]]) -> None:
    for value, want in cases:
        assert g(lab(test, value, unit, lower_limit=lln)) == want, (test, value)


def test_count_units_per_microlitre_compare_exactly() -> None:
    assert g(lab("anc", 500, "/uL", lower_limit=1800)) == 3
    assert g(lab("anc", 499, "/uL", lower_limit=1800)) == 4
    assert g(lab("anc", 1500, "/uL", lower_limit=1800)) == 1
    assert g(lab("platelets", 50, "10^3/uL", lower_limit=150)) == 2
    assert g(lab("platelets", 50000, "/uL", lower_limit=150000)) == 2
    assert g(lab("hemoglobin", 80, "g/L", lower_limit=120)) == 2
    assert g(lab("hemoglobin", 79, "g/L", lower_limit=120)) == 3


def test_count_below_cut_but_above_lln_follows_the_table() -> None:
    # "< 1.5 and >= 1.0" is grade 2 whatever the LLN says
    assert g(lab("anc", 1.45, "10^9/L", lower_limit=1.4)) == 2


def test_missing_uln_is_ungradable_with_reason() -> None:
    grade, reason = grade_value(lab("alt", 900, "U/L"), None, P)
    assert grade is None
    assert "ULN" in reason
    grade, reason = grade_value(lab("creatinine", 9, "mg/dL"), None, P)
    assert grade is None
    assert "ULN" in reason


@pytest.mark.parametrize(("test", "unit", "lln", "cases"), DECREASED)
def test_v2_missing_lln_grades_below_the_grade_2_cut_only(
    test: str, unit: str, lln: float, cases: list[tuple[float, int]]
) -> None:
    """Spec version 2: without an LLN, grades 2-4 stand; grades 0 and 1 become unknown."""
    for value, with_lln in cases:
        grade, why = grade_value(lab(test, value, unit, lower_limit=None), None, P)
        if with_lln >= 2:
            assert grade == with_lln, (test, value)
            assert "LLN" not in why
        else:
            assert grade is None, (test, value)
            assert "lower_limit (LLN) is missing" in why


def test_v2_anc_of_0_3_without_lln_is_grade_4() -> None:
    # the example: version 1 reported it ungradable
    assert grade_value(lab("anc", 0.3, "10^9/L"), None, P) == (4, "0.3 10^9/L < 0.5 -> 4")
    assert g(lab("anc", 300, "/uL")) == 4


@pytest.mark.parametrize(
    ("test", "unit", "cut"),
    [
        ("anc", "10^9/L", "1.5"),
        ("platelets", "10^9/L", "75"),
        ("lymphocytes", "10^9/L", "0.8"),
        ("wbc", "10^9/L", "3.0"),
        ("hemoglobin", "g/dL", "10.0"),
    ],
)
def test_v2_exactly_on_the_grade_2_cut_without_lln_is_unknown(test: str, unit: str, cut: str) -> None:
    # the grade-2 cut is strict ("< 1.5"): a result on it is grade 0 or 1, decided by the LLN only
    on_cut = float(cut)
    assert g(lab(test, on_cut, unit)) is None
    assert g(lab(test, on_cut, unit, lower_limit=on_cut * 2)) == 1
    assert g(lab(test, on_cut, unit, lower_limit=on_cut)) == 0
    just_below = float(Decimal(cut) - Decimal("0.01"))
    assert g(lab(test, just_below, unit)) == 2
    assert g(lab(test, just_below, unit, lower_limit=on_cut * 2)) == 2


def test_v2_exact_cut_in_another_unit_without_lln() -> None:
    assert g(lab("anc", 1500, "/uL")) is None
    assert g(lab("anc", 1499, "/uL")) == 2
    assert g(lab("hemoglobin", 100, "g/L")) is None
    assert g(lab("hemoglobin", 99, "g/L")) == 2
    assert g(lab("hemoglobin", 79, "g/L")) == 3


@pytest.mark.parametrize("test", ["alt", "ast"])
def test_transaminase_normal_baseline_cuts(test: str) -> None:
    base = lab(test, 30, "U/L", -7, upper_limit=40)
    cases = [(40, 0), (40.1, 1), (120, 1), (120.1, 2), (200, 2), (200.1, 3), (800, 3), (800.1, 4)]
    for value, want in cases:
        assert g(lab(test, value, "U/L", upper_limit=40), base) == want, value
        assert g(lab(test, value, "U/L", upper_limit=40), None) == want, value  # no baseline


@pytest.mark.parametrize("test", ["alt", "ast"])
def test_transaminase_abnormal_baseline_cuts_in_multiples_of_baseline(test: str) -> None:
    base = lab(test, 60, "U/L", -7, upper_limit=40)  # > ULN: abnormal
    cases = [(89.9, 0), (90, 1), (180, 1), (180.1, 2), (300, 2), (300.1, 3), (1200, 3), (1200.1, 4)]
    for value, want in cases:
        assert g(lab(test, value, "U/L", upper_limit=40), base) == want, value


def test_transaminase_baseline_exactly_uln_is_normal() -> None:
    base = lab("alt", 40, "U/L", -7, upper_limit=40)
    assert g(lab("alt", 41, "U/L", upper_limit=40), base) == 1
    assert g(lab("alt", 59, "U/L", upper_limit=40), base) == 1


def test_bilirubin_normal_baseline_cuts() -> None:
    base = lab("total_bilirubin", 0.5, "mg/dL", -7, upper_limit=1.2)
    cases = [(1.2, 0), (1.21, 1), (1.8, 1), (1.81, 2), (3.6, 2), (3.61, 3), (12.0, 3), (12.01, 4)]
    for value, want in cases:
        assert g(lab("total_bilirubin", value, "mg/dL", upper_limit=1.2), base) == want, value


def test_bilirubin_abnormal_baseline_cuts() -> None:
    base = lab("total_bilirubin", 2.0, "mg/dL", -7, upper_limit=1.2)
    cases = [(2.0, 0), (2.01, 1), (3.0, 1), (3.01, 2), (6.0, 2), (6.01, 3), (20.0, 3), (20.01, 4)]
    for value, want in cases:
        assert g(lab("total_bilirubin", value, "mg/dL", upper_limit=1.2), base) == want, value


def test_bilirubin_in_umol_per_litre_against_baseline_in_mg_dl() -> None:
    base = lab("total_bilirubin", 2.0, "mg/dL", -7, upper_limit=1.2)
    # 3.0 mg/dL = 51.3 umol/L exactly: 1.5 x baseline, still grade 1 (cut is "> 1.5")
    assert g(lab("total_bilirubin", 51.3, "umol/L", upper_limit=20.52), base) == 1
    assert g(lab("total_bilirubin", 51.4, "µmol/L", upper_limit=20.52), base) == 2


def test_creatinine_uln_reading_cuts() -> None:
    cases = [(1.0, 0), (1.01, 1), (1.5, 1), (1.51, 2), (3.0, 2), (3.01, 3), (6.0, 3), (6.01, 4)]
    for value, want in cases:
        assert g(lab("creatinine", value, "mg/dL", upper_limit=1.0)) == want, value


def test_creatinine_baseline_reading_and_the_higher_counts() -> None:
    base = lab("creatinine", 0.4, "mg/dL", -7, upper_limit=1.0)
    # 0.61 > 1.5 x baseline 0.6 but <= ULN: baseline reading 2 beats ULN reading 0
    assert g(lab("creatinine", 0.6, "mg/dL", upper_limit=1.0), base) == 0
    assert g(lab("creatinine", 0.61, "mg/dL", upper_limit=1.0), base) == 2
    assert g(lab("creatinine", 1.2, "mg/dL", upper_limit=1.0), base) == 2
    assert g(lab("creatinine", 1.21, "mg/dL", upper_limit=1.0), base) == 3  # > 3.0 x baseline
    # ULN reading higher than baseline reading: 6.01 x ULN is 4 whatever the baseline
    big_base = lab("creatinine", 3.0, "mg/dL", -7, upper_limit=1.0)
    assert g(lab("creatinine", 6.01, "mg/dL", upper_limit=1.0), big_base) == 4


def test_creatinine_umol_per_litre_exact_boundary() -> None:
    # ULN 1.0 mg/dL = 88.4 umol/L; 1.5 x ULN = 132.6 umol/L, which is still grade 1
    assert g(lab("creatinine", 132.6, "umol/L", upper_limit=88.4)) == 1
    assert g(lab("creatinine", 132.7, "umol/L", upper_limit=88.4)) == 2
    base = lab("creatinine", 0.5, "mg/dL", -7, upper_limit=1.0)
    # 1.5 x baseline 0.5 mg/dL = 0.75 mg/dL = 66.3 umol/L exactly
    assert g(lab("creatinine", 66.3, "umol/L", upper_limit=88.4), base) == 0
    assert g(lab("creatinine", 66.4, "umol/L", upper_limit=88.4), base) == 2


def test_baseline_is_latest_before_lymphodepletion() -> None:
    labs = [
        lab("anc", 3.0, "10^9/L", -10, lower_limit=1.8),
        lab("anc", 2.5, "10^9/L", -6, lower_limit=1.8),
        lab("anc", 1.2, "10^9/L", -5, lower_limit=1.8),  # LD start day: graded, not baseline
        lab("anc", 0.3, "10^9/L", 4, lower_limit=1.8),
    ]
    assert find_baselines(labs, LD_START, INFUSION) == {"anc": 1}
    graded = grade_labs(labs, LD_START, INFUSION, P)
    assert graded is not None
    assert [item.lab_index for item in graded] == [2, 3]
    assert [item.grade for item in graded] == [2, 4]
    assert graded[0].baseline is not None
    assert graded[0].baseline.lab_index == 1
    assert graded[0].baseline.grade == 0


def test_baseline_without_lymphodepletion_is_on_or_before_infusion() -> None:
    labs = [
        lab("alt", 30, "U/L", -3, upper_limit=40),
        lab("alt", 35, "U/L", 0, upper_limit=40),
        lab("alt", 50, "U/L", 1, upper_limit=40),
    ]
    assert find_baselines(labs, None, INFUSION) == {"alt": 1}
    graded = grade_labs(labs, None, INFUSION, P)
    assert graded is not None
    assert [item.lab_index for item in graded] == [2]


def test_worst_grades_per_term_and_ungradable() -> None:
    labs = [
        lab("anc", 0.4, "10^9/L", 3, lower_limit=1.8),
        lab("anc", 1.2, "10^9/L", 4, lower_limit=1.8),
        lab("alt", 500, "U/L", 3),
    ]
    graded = grade_labs(labs, LD_START, INFUSION, P)
    assert graded is not None
    worst = worst_grades(graded)
    assert worst == {"Alanine aminotransferase increased": None, "Neutrophil count decreased": 4}


def test_hypogammaglobulinemia_boundary_and_unknown() -> None:
    at = [lab("igg", 400, "mg/dL", 20)]
    below = [lab("igg", 3.99, "g/L", 20)]
    assert hypogammaglobulinemia(at, LD_START, INFUSION, P)[0] is False
    assert hypogammaglobulinemia(below, LD_START, INFUSION, P)[0] is True
    baseline_only = [lab("igg", 300, "mg/dL", -7)]
    assert hypogammaglobulinemia(baseline_only, LD_START, INFUSION, P)[0] is None
    assert hypogammaglobulinemia(None, LD_START, INFUSION, P)[0] is None


def written(d: Decimal) -> float:
    """The number a laboratory would write for the exact decimal ``d``."""
    return float(str(d))


@given(v=st.decimals(min_value="0", max_value="1000", places=3))
def test_cell_count_units_round_trip_exactly(v: Decimal) -> None:
    per_ul = v * 1000
    assert to_canonical("anc", written(v), "10^9/L") == Fraction(str(v))
    assert to_canonical("anc", written(v), "10^3/uL") == Fraction(str(v))
    assert to_canonical("anc", written(per_ul), "/uL") == Fraction(str(v))


@given(v=st.decimals(min_value="0", max_value="50", places=2))
def test_si_units_round_trip_exactly(v: Decimal) -> None:
    assert to_canonical("hemoglobin", written(v * 10), "g/L") == Fraction(str(v))
    assert to_canonical("igg", written(v), "g/L") == Fraction(str(v * 100))
    assert to_canonical("creatinine", written(v * Decimal("88.4")), "umol/L") == Fraction(str(v))
    assert to_canonical("total_bilirubin", written(v * Decimal("17.1")), "µmol/L") == Fraction(str(v))


@given(v=st.decimals(min_value="0", max_value="8", places=3))
def test_count_grade_is_the_same_in_every_unit(v: Decimal) -> None:
    base = g(lab("anc", written(v), "10^9/L", lower_limit=1.8))
    assert g(lab("anc", written(v * 1000), "/uL", lower_limit=1800)) == base
    assert g(lab("anc", written(v), "10^3/uL", lower_limit=1.8)) == base


@given(v=st.decimals(min_value="0", max_value="10", places=2), uln=st.sampled_from(["1.0", "1.1", "1.3"]))
def test_creatinine_grade_is_the_same_in_mg_dl_and_umol_l(v: Decimal, uln: str) -> None:
    factor = Decimal("88.4")
    base_mg = lab("creatinine", 0.7, "mg/dL", -7, upper_limit=float(uln))
    base_si = lab(
        "creatinine",
        written(Decimal("0.7") * factor),
        "umol/L",
        -7,
        upper_limit=written(Decimal(uln) * factor),
    )
    mg = g(lab("creatinine", written(v), "mg/dL", upper_limit=float(uln)), base_mg)
    si = g(
        lab("creatinine", written(v * factor), "umol/L", upper_limit=written(Decimal(uln) * factor)), base_si
    )
    mixed = g(
        lab("creatinine", written(v * factor), "umol/L", upper_limit=written(Decimal(uln) * factor)), base_mg
    )
    assert mg == si == mixed


@given(v=st.decimals(min_value="0", max_value="20", places=1))
def test_hemoglobin_grade_is_the_same_in_g_dl_and_g_l(v: Decimal) -> None:
    assert g(lab("hemoglobin", written(v), "g/dL", lower_limit=12.0)) == g(
        lab("hemoglobin", written(v * 10), "g/L", lower_limit=120)
    )


@given(a=st.floats(0, 5, allow_nan=False), b=st.floats(0, 5, allow_nan=False))
def test_decreased_grade_monotone(a: float, b: float) -> None:
    lo, hi = sorted((round(a, 2), round(b, 2)))
    low = g(lab("anc", lo, "10^9/L", lower_limit=1.8))
    high = g(lab("anc", hi, "10^9/L", lower_limit=1.8))
    assert low is not None
    assert high is not None
    assert low >= high


def test_baseline_without_its_own_uln_is_judged_against_the_results_uln() -> None:
    base = lab("alt", 60, "U/L", -7)  # no ULN on the baseline
    # 60 > ULN 40 of the graded result: abnormal baseline, so 1.5 x 60 = 90 is the grade-1 cut
    assert g(lab("alt", 89, "U/L", upper_limit=40), base) == 0
    assert g(lab("alt", 90, "U/L", upper_limit=40), base) == 1
    # against a ULN of 80 the same baseline is normal: 89 > 80 is grade 1 by the ULN rule
    assert g(lab("alt", 89, "U/L", upper_limit=80), base) == 1


def test_only_post_baseline_ctcae_results_are_listed() -> None:
    labs = [
        lab("igg", 300, "mg/dL", 10),
        lab("anc", 2.0, "10^9/L", -9, lower_limit=1.8),
        lab("anc", 0.2, "10^9/L", 1, lower_limit=None),
        lab("anc", 1.6, "10^9/L", 2, lower_limit=None),
    ]
    graded = grade_labs(labs, LD_START, INFUSION, P)
    assert graded is not None
    # version 2: 0.2 is below the grade-2 cut, graded without an LLN; 1.6 is not
    assert [(x.lab_index, x.grade) for x in graded] == [(2, 4), (3, None)]
    graded = graded[1:]
    assert graded[0].reason is not None
    assert graded[0].drivers == ()
    assert graded[0].baseline is not None
    assert graded[0].baseline.grade == 0


def test_labs_not_collected_stay_unknown_not_empty() -> None:
    assert grade_labs(None, LD_START, INFUSION, P) is None
    assert grade_labs([], LD_START, INFUSION, P) == ()
