"""AE (graded CRS/ICANS episodes and reported AEs) and LB (graded labs), spec sections 5.4 and 5.5."""

from __future__ import annotations

from typing import Any

import pytest

from nmocart.cdisc.domains import build_study, range_indicator, standard_term
from nmocart.cdisc.inputs import ExportInputError

from .study import (
    ENROLLED_ONLY_KINETICS,
    adverse_event,
    crs_day,
    dataset,
    enrolled_study,
    lab,
    safety_records,
    study_input,
)


def _ae(safety: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    study = build_study(study_input(safety=safety or safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS))
    return dataset(study, "AE")


def test_aeseq_orders_by_start_date_then_crs_icans_then_reported() -> None:
    ae = dataset(build_study(enrolled_study()), "AE")
    assert [(r["AESEQ"], r["AESPID"], r["AESTDTC"]) for r in ae] == [
        (1, "/adverse_events/1", "2026-03-20"),
        (2, "/crs_assessments", "2026-03-21"),
        (3, "/adverse_events/2", "2026-03-21"),
        (4, "/icans_assessments", "2026-03-24"),
    ]


def test_crs_episode_is_one_record_with_the_astct_maximum_merged_with_its_reported_ae() -> None:
    study = build_study(enrolled_study())
    crs = next(r for r in dataset(study, "AE") if r["AESPID"] == "/crs_assessments")
    assert crs["AETERM"] == "cytokine release SYNDROME"  # the reported term, verbatim
    assert crs["AEDECOD"] == "Cytokine release syndrome"
    assert crs["AETOXGR"] == "2"  # the graded maximum (nasal cannula on day 2), not the reported 1
    assert (crs["AESER"], crs["AEREL"], crs["AEOUT"]) == ("Y", "DEFINITELY RELATED", "RECOVERED/RESOLVED")
    assert (crs["AESTDTC"], crs["AEENDTC"], crs["AESTDY"], crs["AEENDY"]) == (
        "2026-03-21",
        "2026-03-23",
        2,
        4,
    )
    assert any(
        "reports Cytokine release syndrome grade 1; the graded ASTCT maximum 2" in w for w in study.warnings
    )
    assert not [r for r in dataset(study, "AE") if r["AESPID"] == "/adverse_events/0"]


def test_icans_episode_without_a_reported_ae_and_still_ongoing_at_the_last_assessment() -> None:
    icans = next(
        r for r in dataset(build_study(enrolled_study()), "AE") if r["AESPID"] == "/icans_assessments"
    )
    assert icans["AETERM"] == icans["AEDECOD"] == "Immune effector cell-associated neurotoxicity syndrome"
    assert icans["AETOXGR"] == "1"  # ICE 8 on day 4
    assert (icans["AESER"], icans["AEREL"], icans["AEOUT"]) == (None, None, None)
    assert (icans["AESTDTC"], icans["AEENDTC"], icans["AEENDY"]) == ("2026-03-24", None, None)


def test_reported_aes_are_mapped_verbatim() -> None:
    ae = {r["AESPID"]: r for r in dataset(build_study(enrolled_study()), "AE")}
    headache = ae["/adverse_events/2"]
    assert (headache["AETERM"], headache["AEDECOD"], headache["AEBODSYS"], headache["AEACN"]) == (
        "Headache",
        "Headache",
        None,
        None,
    )
    assert (headache["AESER"], headache["AEREL"], headache["AEOUT"], headache["AETOXGR"]) == (
        "N",
        "NOT RELATED",
        "RECOVERING/RESOLVING",
        "1",
    )
    fatigue = ae["/adverse_events/1"]
    assert (fatigue["AEENDTC"], fatigue["AESTDY"], fatigue["AEENDY"]) == (None, 1, None)


def test_two_reported_aes_matching_a_graded_episode_are_rejected() -> None:
    safety = safety_records()[:1]
    safety[0]["adverse_events"].append(adverse_event("Cytokine release syndrome", 2, 3, 2))
    with pytest.raises(ExportInputError) as info:
        _ae(safety)
    assert any(
        "adverse_events[0], adverse_events[3] all report Cytokine release syndrome" in p
        for p in info.value.problems
    )


@pytest.mark.parametrize("assessments", [None, "afebrile"], ids=["not-collected", "max-grade-0"])
def test_a_reported_crs_without_a_graded_episode_stays_a_reported_record(assessments: str | None) -> None:
    safety = safety_records()[:1]
    safety[0]["crs_assessments"] = None if assessments is None else [crs_day(n, 37.0) for n in range(3)]
    crs = [r for r in _ae(safety) if r["AEDECOD"] == "Cytokine release syndrome"]
    assert [(r["AESPID"], r["AETERM"], r["AETOXGR"]) for r in crs] == [
        ("/adverse_events/0", "cytokine release SYNDROME", "1")
    ]


def test_standard_term_matches_case_insensitively_and_trimmed() -> None:
    assert standard_term("  CYTOKINE release syndrome ") == "Cytokine release syndrome"
    assert standard_term("immune effector cell-associated neurotoxicity syndrome") == (
        "Immune effector cell-associated neurotoxicity syndrome"
    )
    assert standard_term("Cytokine release") is None


def _lb() -> dict[str, dict[str, Any]]:
    return {r["LBSPID"]: r for r in dataset(build_study(enrolled_study()), "LB")}


def test_lbseq_orders_by_test_code_then_date_then_record_order() -> None:
    lb = dataset(build_study(enrolled_study()), "LB")
    assert [(r["LBSEQ"], r["LBTESTCD"], r["LBSPID"]) for r in lb] == [
        (1, "CREAT", "/labs/4"),
        (2, "CREAT", "/labs/5"),
        (3, "HGB", "/labs/8"),
        (4, "IGG", "/labs/6"),
        (5, "IGG", "/labs/7"),
        (6, "NEUT", "/labs/0"),
        (7, "NEUT", "/labs/1"),
        (8, "NEUT", "/labs/2"),
        (9, "NEUT", "/labs/3"),
    ]


def test_original_units_map_to_cdisc_units_and_standard_values_are_converted() -> None:
    lb = _lb()
    per_ul = lb["/labs/1"]  # 2900 /uL
    assert (per_ul["LBORRES"], per_ul["LBORRESU"], per_ul["LBORNRLO"], per_ul["LBORNRHI"]) == (
        "2900",
        "10^6/L",
        "1800",
        "7500",
    )
    assert (per_ul["LBSTRESN"], per_ul["LBSTRESC"], per_ul["LBSTRESU"]) == (2.9, "2.9", "10^9/L")
    assert (per_ul["LBSTNRLO"], per_ul["LBSTNRHI"]) == (1.8, 7.5)
    creatinine = lb["/labs/4"]  # 70 µmol/L
    assert (creatinine["LBORRESU"], creatinine["LBSTRESU"]) == ("umol/L", "mg/dL")
    assert creatinine["LBSTRESN"] == pytest.approx(70 / 88.4, rel=1e-15)
    igg = lb["/labs/6"]  # 9.5 g/L
    assert (igg["LBSTRESN"], igg["LBSTRESC"], igg["LBSTNRLO"], igg["LBSTNRHI"]) == (
        950.0,
        "950",
        700.0,
        1600.0,
    )
    hemoglobin = lb["/labs/8"]  # 95 g/L
    assert (hemoglobin["LBSTRESN"], hemoglobin["LBSTRESU"], hemoglobin["LBCAT"]) == (
        9.5,
        "g/dL",
        "HEMATOLOGY",
    )


def test_baseline_and_last_observation_before_exposure_flags() -> None:
    lb = _lb()
    # LD starts on day -5: the baseline is the day -6 result; the infusion-day one is last before exposure
    assert [k for k, r in lb.items() if r["LBBLFL"] == "Y"] == ["/labs/4", "/labs/6", "/labs/1"]
    assert [k for k, r in lb.items() if r["LBLOBXFL"] == "Y"] == ["/labs/4", "/labs/6", "/labs/2"]


def test_ctcae_grades_come_from_the_engine_and_baseline_period_igg_and_ungradable_stay_null() -> None:
    lb = _lb()
    assert [(k, r["LBTOX"], r["LBTOXGR"]) for k, r in lb.items()] == [
        ("/labs/4", None, None),  # baseline period
        ("/labs/5", "Creatinine increased", "0"),  # graded normal: 0, not null
        ("/labs/8", "Anemia", "2"),
        ("/labs/6", None, None),  # IgG is never CTCAE-graded
        ("/labs/7", None, None),
        ("/labs/0", None, None),
        ("/labs/1", None, None),
        ("/labs/2", "Neutrophil count decreased", "2"),  # infusion day, after LD start
        ("/labs/3", "Neutrophil count decreased", "4"),
    ]


def test_an_ungradable_result_has_no_grade_nor_toxicity() -> None:
    safety = safety_records()[:1]
    safety[0]["labs"].append(lab(9, "alt", 200.0, "U/L", 7.0, None))  # ULN missing: ungradable
    study = build_study(study_input(safety=safety, kinetics=ENROLLED_ONLY_KINETICS))
    row = next(r for r in dataset(study, "LB") if r["LBSPID"] == "/labs/9")
    assert (row["LBTOX"], row["LBTOXGR"], row["LBNRIND"]) == (None, None, None)


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (1.79, 1.8, 7.5, "LOW"),
        (1.8, 1.8, 7.5, "NORMAL"),
        (7.5, 1.8, 7.5, "NORMAL"),
        (7.51, 1.8, 7.5, "HIGH"),
        (1.0, 1.8, None, "LOW"),
        (5.0, 1.8, None, None),
        (8.0, None, 7.5, "HIGH"),
        (5.0, None, 7.5, None),
        (5.0, None, None, None),
    ],
)
def test_reference_range_indicator_at_its_boundaries(
    value: float, low: float | None, high: float | None, expected: str | None
) -> None:
    assert range_indicator(value, low, high) == expected


def test_lab_study_days_and_visit_numbers() -> None:
    lb = _lb()
    assert (lb["/labs/0"]["LBDTC"], lb["/labs/0"]["LBDY"]) == ("2026-03-13", -7)
    assert (lb["/labs/2"]["LBDTC"], lb["/labs/2"]["LBDY"]) == ("2026-03-20", 1)
    assert {r["VISITNUM"] for r in lb.values()} == {None}
