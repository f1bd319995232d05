"""Each criterion's logic beyond its thresholds: pathways, precedence, missing sections."""

from __future__ import annotations

from typing import Any

import pytest

from .builders import attack, base, day, lab, run, verdict


def _syndromes(*pairs: tuple[str, bool | None]) -> list[dict[str, Any]]:
    return [attack(f"20{10 + i}-01-01", kind, mri) for i, (kind, mri) in enumerate(pairs)]


def _seronegative(attacks: list[dict[str, Any]], result: str = "negative") -> dict[str, Any]:
    record = base()
    record["antibody_tests"] = [
        {"date": "2016-05-20", "antibody": "aqp4_igg", "method": "cba", "result": result, "titer": None}
    ]
    record["attacks"] = attacks
    return record


# --- IN2 ----------------------------------------------------------------------------------


def test_in2_pathway_b_two_supported_types_with_a_key_one() -> None:
    record = _seronegative(_syndromes(("acute_myelitis", True), ("brainstem", True)))
    assert verdict(record, "IN2") == "met"


def test_in2_pathway_b_needs_a_key_syndrome() -> None:
    record = _seronegative(_syndromes(("brainstem", True), ("cerebral", True)))
    assert verdict(record, "IN2") == "not_met"


def test_in2_pathway_b_needs_two_distinct_types() -> None:
    record = _seronegative(_syndromes(("acute_myelitis", True), ("acute_myelitis", True)))
    assert verdict(record, "IN2") == "not_met"


def test_in2_unsettled_mri_makes_pathway_b_unknown() -> None:
    record = _seronegative(_syndromes(("acute_myelitis", True), ("brainstem", None)))
    result = run(record)
    in2 = result.criteria[1]
    assert in2.verdict == "unknown"
    assert any("/attacks/1/syndromes/0/mri_requirements_met" in m for m in in2.missing)


def test_in2_mri_false_does_not_support() -> None:
    record = _seronegative(_syndromes(("acute_myelitis", True), ("brainstem", False)))
    assert verdict(record, "IN2") == "not_met"


def test_in2_a_supported_listing_settles_an_unsettled_one() -> None:
    record = _seronegative(_syndromes(("acute_myelitis", True), ("brainstem", None), ("brainstem", True)))
    assert verdict(record, "IN2") == "met"


def test_in2_pathway_b_applies_when_untested() -> None:
    record = _seronegative(_syndromes(("optic_neuritis", True), ("area_postrema", True)))
    record["antibody_tests"] = []
    assert verdict(record, "IN2") == "met"
    assert verdict(record, "IN3") == "unknown"


def test_in2_equivocal_counts_as_negative() -> None:
    record = _seronegative(_syndromes(("optic_neuritis", True), ("brainstem", True)), "equivocal")
    assert verdict(record, "IN2") == "met"


def test_in2_positive_by_elisa_takes_pathway_a() -> None:
    record = base()
    record["antibody_tests"][0]["method"] = "elisa"
    assert verdict(record, "IN2") == "met"


@pytest.mark.parametrize(("alt", "expected"), [(True, "met"), (False, "not_met"), (None, "unknown")])
def test_in2_and_in3_need_alternatives_excluded(alt: bool | None, expected: str) -> None:
    record = base()
    record["alternative_diagnoses_excluded"] = alt
    assert verdict(record, "IN2") == expected
    assert verdict(record, "IN3") == expected


def test_in2_empty_attacks_means_no_core_syndrome() -> None:
    record = base()
    record["attacks"] = []
    assert verdict(record, "IN2") == "not_met"
    assert verdict(record, "IN3") == "not_met"


# --- IN3 ----------------------------------------------------------------------------------


def test_in3_elisa_positive_alone_needs_cba() -> None:
    record = base()
    record["antibody_tests"][0]["method"] = "elisa"
    result = run(record)
    in3 = result.criteria[2]
    assert in3.verdict == "unknown"
    assert "cell-based assay" in in3.missing[0]


def test_in3_cba_negative_is_not_met() -> None:
    record = base()
    record["antibody_tests"] = [
        {"date": "2016-05-20", "antibody": "aqp4_igg", "method": "cba", "result": "negative", "titer": None},
        {
            "date": "2016-06-20",
            "antibody": "aqp4_igg",
            "method": "elisa",
            "result": "positive",
            "titer": None,
        },
    ]
    assert verdict(record, "IN3") == "not_met"


def test_in3_mog_positive_does_not_count() -> None:
    record = base()
    record["antibody_tests"] = [
        {"date": "2016-05-20", "antibody": "mog_igg", "method": "cba", "result": "positive", "titer": None}
    ]
    assert verdict(record, "IN3") == "unknown"


# --- IN4 ----------------------------------------------------------------------------------


def test_in4_unknown_when_medications_not_collected() -> None:
    record = base()
    record["medications"] = None
    result = run(record)
    assert result.criteria[3].verdict == "unknown"
    assert result.criteria[3].missing[0].startswith("/medications")


@pytest.mark.parametrize("drug_class", ["azathioprine", "mycophenolate"])
def test_in4_course_immunosuppressants(drug_class: str) -> None:
    record = base()
    record["attacks"] = [attack("2025-06-01")]
    record["medications"] = [
        {
            "name": "prednisone",
            "drug_class": "systemic_corticosteroid",
            "route": "oral",
            "start_date": "2025-01-01",
            "end_date": None,
        },
        {
            "name": drug_class,
            "drug_class": drug_class,
            "route": "oral",
            "start_date": "2025-06-01",
            "end_date": None,
        },
    ]
    assert verdict(record, "IN4") == "met"
    record["medications"][1]["drug_class"] = "other_immunosuppressant"
    assert verdict(record, "IN4") == "not_met"


# --- IN5 without disease onset ------------------------------------------------------------


def test_in5_without_onset_met_under_both_readings() -> None:
    record = base()
    record["disease_onset_date"] = None
    record["attacks"] = [attack(day(-3000)), attack(day(-300)), attack(day(-100))]
    assert verdict(record, "IN5") == "met"


def test_in5_without_onset_depends_on_reading() -> None:
    record = base()
    record["disease_onset_date"] = None
    record["attacks"] = [attack(day(-300)), attack(day(-100))]  # 2 relapses or 1 relapse
    result = run(record)
    in5 = result.criteria[4]
    assert in5.verdict == "unknown"
    assert in5.missing[0].startswith("/disease_onset_date")


def test_in5_without_onset_not_met_under_both() -> None:
    record = base()
    record["disease_onset_date"] = None
    record["attacks"] = [attack(day(-3000))]
    assert verdict(record, "IN5") == "not_met"


def test_in5_attacks_not_collected() -> None:
    record = base()
    record["attacks"] = None
    assert verdict(record, "IN5") == "unknown"


# --- IN6, IN7 -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(True, "met"), (False, "not_met"), (None, "unknown")])
def test_in6_reads_the_investigator(value: bool | None, expected: str) -> None:
    record = base()
    record["investigator"]["survival_over_12_weeks"] = value
    assert verdict(record, "IN6") == expected


def test_in7_childbearing_potential_unknown() -> None:
    record = base("incomplete")
    record["childbearing_potential"] = None
    assert verdict(record, "IN7") == "unknown"


def test_in7_negative_test_and_contraception() -> None:
    record = base("incomplete")
    record["pregnancy_tests"] = [{"date": day(-1), "specimen": "urine", "result": "negative"}]
    record["contraception_agreed"] = True
    assert verdict(record, "IN7") == "met"
    record["contraception_agreed"] = False
    assert verdict(record, "IN7") == "not_met"


# --- EX1-EX4 ------------------------------------------------------------------------------


def _condition(category: str, **flags: bool | None) -> dict[str, Any]:
    return {
        "name": category.replace("_", " "),
        "category": category,
        "onset_date": "2020-01-01",
        "active": flags.get("active"),
        "severe": flags.get("severe"),
        "controlled": flags.get("controlled"),
    }


@pytest.mark.parametrize(
    ("category", "expected"), [("epilepsy", "present"), ("cns_disease", "present"), ("other", "absent")]
)
def test_ex1_categories(category: str, expected: str) -> None:
    record = base()
    record["conditions"] = [_condition(category)]
    assert verdict(record, "EX1") == expected


def test_ex1_unknown_without_history() -> None:
    record = base()
    record["conditions"] = None
    assert verdict(record, "EX1") == "unknown"


@pytest.mark.parametrize(("severe", "expected"), [(True, "present"), (False, "absent"), (None, "unknown")])
@pytest.mark.parametrize("category", ["arrhythmia", "heart_failure", "other_cardiac"])
def test_ex2_heart_disease_by_severity(category: str, severe: bool | None, expected: str) -> None:
    record = base()
    record["conditions"] = [_condition(category, severe=severe)]
    assert verdict(record, "EX2") == expected


def test_ex2_long_qt_condition_is_present_whatever_the_ecg() -> None:
    record = base()
    record["conditions"] = [_condition("long_qt")]
    assert verdict(record, "EX2") == "present"


def test_ex2_long_ecg_decides_despite_unknown_history() -> None:
    record = base()
    record["conditions"] = None
    record["ecgs"][0]["qtc_ms"] = 480
    assert verdict(record, "EX2") == "present"
    record["ecgs"][0]["qtc_ms"] = 420
    assert verdict(record, "EX2") == "unknown"


def test_ex3_pregnancy_status_flags() -> None:
    record = base("incomplete")
    assert verdict(record, "EX3") == "absent"
    record["lactating"] = True
    assert verdict(record, "EX3") == "present"
    record["lactating"] = None
    assert verdict(record, "EX3") == "unknown"


def test_ex3_uncollected_pregnancy_tests_are_unknown_not_negative() -> None:
    record = base("incomplete")
    record["pregnancy_tests"] = None
    result = run(record)
    ex3 = next(c for c in result.criteria if c.id == "EX3")
    assert ex3.verdict == "unknown"
    assert ex3.missing[0].startswith("/pregnancy_tests")


@pytest.mark.parametrize(
    ("active", "severe", "expected"),
    [
        (True, True, "present"),
        (True, False, "absent"),
        (False, None, "absent"),
        (True, None, "unknown"),
        (None, True, "unknown"),
    ],
)
def test_ex4_active_and_severe_infection(active: bool | None, severe: bool | None, expected: str) -> None:
    record = base()
    record["conditions"] = [_condition("infection", active=active, severe=severe)]
    assert verdict(record, "EX4") == expected


# --- EX5, EX11: labs decide, true rules first ---------------------------------------------


def _hepatitis_labs(**results: str) -> dict[str, Any]:
    record = base()
    record["labs"] = [x for x in record["labs"] if x["result"] is None]
    record["labs"] += [lab(test, day(-2), result=value) for test, value in results.items()]
    return record


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ({"hbsag": "negative", "anti_hbc": "negative", "hcv_ab": "negative"}, "absent"),
        ({"hbsag": "negative", "hbv_dna": "negative", "hcv_rna": "negative"}, "absent"),
        ({"hbsag": "negative", "anti_hbc": "positive", "hcv_ab": "negative"}, "unknown"),
        (
            {"hbsag": "negative", "hbv_dna": "positive", "anti_hbc": "negative", "hcv_ab": "negative"},
            "present",
        ),
        ({"anti_hbc": "negative", "hcv_ab": "negative"}, "unknown"),
        ({"hbsag": "negative", "anti_hbc": "negative"}, "unknown"),
        ({"hbsag": "negative", "anti_hbc": "negative", "hcv_ab": "positive"}, "unknown"),
        (
            {"hbsag": "negative", "anti_hbc": "negative", "hcv_ab": "positive", "hcv_rna": "positive"},
            "present",
        ),
        ({"hcv_rna": "positive"}, "present"),
    ],
)
def test_ex5_hepatitis_rules(results: dict[str, str], expected: str) -> None:
    assert verdict(_hepatitis_labs(**results), "EX5") == expected


def test_ex5_null_conditions_do_not_make_it_unknown() -> None:
    record = _hepatitis_labs(hbsag="negative", anti_hbc="negative", hcv_ab="negative")
    record["conditions"] = None
    assert verdict(record, "EX5") == "absent"


def test_ex5_active_hepatitis_condition_wins_over_negative_labs() -> None:
    record = _hepatitis_labs(hbsag="negative", anti_hbc="negative", hcv_ab="negative")
    record["conditions"] = [_condition("hepatitis_c", active=True)]
    assert verdict(record, "EX5") == "present"
    record["conditions"] = [_condition("hepatitis_b", active=None)]
    assert verdict(record, "EX5") == "absent"


@pytest.mark.parametrize(
    ("result", "conditions", "expected"),
    [
        ("negative", [], "absent"),
        ("negative", None, "absent"),
        ("positive", [], "present"),
        (None, [{"name": "HIV", "category": "hiv"}], "present"),
        (None, [], "unknown"),
        ("negative", [{"name": "HIV", "category": "hiv"}], "present"),
    ],
)
def test_ex11_hiv(result: str | None, conditions: list[dict[str, str]] | None, expected: str) -> None:
    record = _hepatitis_labs(**({"hiv_ag_ab": result} if result else {}))
    record["conditions"] = conditions
    assert verdict(record, "EX11") == expected


# --- EX7, EX8, EX10, EX12 -----------------------------------------------------------------


def test_ex7_gene_therapy_any_time() -> None:
    record = base()
    record["medications"].append(
        {
            "name": "AAV product",
            "drug_class": "gene_therapy",
            "route": "intravenous",
            "start_date": "2001-01-01",
            "end_date": "2001-01-01",
        }
    )
    assert verdict(record, "EX7") == "present"


def test_ex8_no_result_is_unknown() -> None:
    record = base()
    record["tcell_proliferation"] = []
    assert verdict(record, "EX8") == "unknown"


@pytest.mark.parametrize(("field", "criterion"), [("uncontrolled_disease", "EX10"), ("other_risk", "EX12")])
@pytest.mark.parametrize(("value", "expected"), [(True, "present"), (False, "absent"), (None, "unknown")])
def test_investigator_exclusions(field: str, criterion: str, value: bool | None, expected: str) -> None:
    record = base()
    record["investigator"][field] = value
    assert verdict(record, criterion) == expected


def test_decision_precedence() -> None:
    record = base("incomplete")
    assert run(record).decision == "incomplete"
    record["conditions"] = [_condition("epilepsy")]
    assert run(record).decision == "ineligible"  # present beats unknown


def test_ex5_anti_hbc_positive_asks_for_hbv_dna() -> None:
    result = run(_hepatitis_labs(hbsag="negative", anti_hbc="positive", hcv_ab="negative"))
    ex5 = next(c for c in result.criteria if c.id == "EX5")
    assert ex5.verdict == "unknown"
    assert len(ex5.missing) == 1
    assert ex5.missing[0].startswith("/labs: a hbv_dna result dated")


def test_ex5_anti_hcv_positive_asks_for_hcv_rna() -> None:
    result = run(_hepatitis_labs(hbsag="negative", anti_hbc="negative", hcv_ab="positive"))
    ex5 = next(c for c in result.criteria if c.id == "EX5")
    assert ex5.missing[0].startswith("/labs: a hcv_rna result dated")
