"""Units (spec section 4) and qualitative results (section 5), each rule with a test."""

from __future__ import annotations

from typing import Any

import pytest

from .fhir_builders import (
    LAB,
    LOINC,
    SNOMED,
    build,
    coding,
    lab,
    observation,
    outcome,
    quantity,
    record,
)

CREATININE = "2160-0"
ALT = "1742-6"
QTC = "8636-3"
HBSAG = "5196-1"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


@pytest.mark.parametrize(
    ("code", "value_quantity", "unit"),
    [
        (CREATININE, quantity(1.1, "mg/dL"), "mg/dL"),
        (CREATININE, quantity(97, "umol/L"), "umol/L"),
        (CREATININE, quantity(97, "umol/L", system=None), "umol/L"),  # system absent: code read
        (CREATININE, quantity(97, unit="µmol/L"), "umol/L"),  # micro sign, text only
        (CREATININE, quantity(97, unit="μmol/L"), "umol/L"),  # Greek mu, text only
        (CREATININE, quantity(97, unit="umol/L"), "umol/L"),
        (CREATININE, quantity(1.1, unit="mg/dL"), "mg/dL"),
        ("1975-2", quantity(0.8, "mg/dL"), "mg/dL"),
        ("14631-6", quantity(12, "umol/L"), "umol/L"),
        (ALT, quantity(30, "U/L"), "U/L"),
        (ALT, quantity(30, "[IU]/L"), "IU/L"),
        (ALT, quantity(30, unit="IU/L"), "IU/L"),
        (ALT, quantity(30, unit="U/L"), "U/L"),
        ("1920-8", quantity(30, "U/L"), "U/L"),
    ],
)
def test_numeric_units_map_to_the_record_unit(code: str, value_quantity: dict[str, Any], unit: str) -> None:
    rec = record(observation("o1", [coding(LOINC, code)], valueQuantity=value_quantity))
    assert len(rec["labs"]) == 1
    assert rec["labs"][0]["unit"] == unit
    assert rec["labs"][0]["value"] == value_quantity["value"]
    assert rec["labs"][0]["result"] is None


@pytest.mark.parametrize(
    ("code", "value_quantity", "written"),
    [
        (CREATININE, quantity(0.09, "mmol/L"), "mmol/L"),
        (ALT, quantity(0.5, "ukat/L"), "ukat/L"),
        (CREATININE, quantity(97, unit="micromol/L"), "micromol/L"),
        (CREATININE, quantity(97, "µmol/L"), "µmol/L"),  # not a UCUM code
        (
            CREATININE,
            quantity(97, "umol/L", system="http://hospital.example/units"),
            "umol/L (http://hospital.example/units)",
        ),  # other system, no text
        (CREATININE, quantity(97), ""),  # no unit at all
        (ALT, quantity(30, "IU/L"), "IU/L"),  # IU/L is the text spelling, not the UCUM code
    ],
)
def test_other_units_are_unmapped_counted_and_not_used(
    code: str, value_quantity: dict[str, Any], written: str
) -> None:
    intake = build(observation("o1", [coding(LOINC, code)], valueQuantity=value_quantity))
    assert outcome(intake, "Observation/o1") == "unusable:unit"
    target = "labs.creatinine" if code == CREATININE else "labs.alt"
    assert intake.unmapped_units == ((target, written),)
    assert intake.record is not None
    assert intake.record["labs"] == []


def test_non_ucum_system_falls_back_to_the_unit_text() -> None:
    value_quantity = quantity(97, "UMOL", unit="umol/L", system="http://hospital.example/units")
    assert (
        record(observation("o1", [coding(LOINC, CREATININE)], valueQuantity=value_quantity))["labs"][0][
            "unit"
        ]
        == "umol/L"
    )


def test_numbers_are_copied_unchanged() -> None:
    rec = record(lab("o1", CREATININE, 76, "umol/L", high=104), lab("o2", ALT, 30.25, "U/L", high=40.5))
    values = {lab_["test"]: (lab_["value"], lab_["upper_limit"]) for lab_ in rec["labs"]}
    assert values == {"creatinine": (76, 104), "alt": (30.25, 40.5)}
    assert isinstance(values["creatinine"][0], int)


@pytest.mark.parametrize("comparator", ["<", "<=", ">=", ">"])
def test_a_value_with_a_comparator_is_not_used(comparator: str) -> None:
    body = observation(
        "o1", [coding(LOINC, CREATININE)], valueQuantity={**quantity(0.3, "mg/dL"), "comparator": comparator}
    )
    intake = build(body)
    assert outcome(intake, "Observation/o1") == "unusable:comparator"


@pytest.mark.parametrize("value", [None, "1.1", True])
def test_a_missing_or_non_numeric_value_is_not_used(value: Any) -> None:
    q = quantity(1.1, "mg/dL")
    if value is None:
        del q["value"]
    else:
        q["value"] = value
    assert outcome(
        build(observation("o1", [coding(LOINC, CREATININE)], valueQuantity=q)), "Observation/o1"
    ) == ("unusable:no_value")


def test_no_value_quantity_is_not_used() -> None:
    assert (
        outcome(build(observation("o1", [coding(LOINC, CREATININE)])), "Observation/o1")
        == "unusable:no_value"
    )


def test_negative_numbers_the_record_cannot_hold_are_not_used() -> None:
    assert outcome(build(lab("o1", CREATININE, -1, "mg/dL")), "Observation/o1") == "unusable:no_value"


def _range(high: dict[str, Any], kind: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"high": high}
    if kind is not None:
        out["type"] = kind
    return out


NORMAL = {"coding": [coding("http://terminology.hl7.org/CodeSystem/referencerange-meaning", "normal")]}
TREATMENT = {"coding": [coding("http://terminology.hl7.org/CodeSystem/referencerange-meaning", "treatment")]}


@pytest.mark.parametrize(
    ("ranges", "upper", "warned"),
    [
        ([_range(quantity(40, "U/L"))], 40, False),
        ([_range(quantity(40, "U/L"), NORMAL)], 40, False),
        ([_range(quantity(40))], 40, False),  # unit absent: the value's unit
        ([_range(quantity(99, "U/L"), TREATMENT), _range(quantity(40, "U/L"), NORMAL)], 40, False),
        ([_range(quantity(40, "[IU]/L"))], None, True),  # IU/L is not the value's U/L
        ([_range(quantity(0.6, "ukat/L"))], None, True),
        ([{"low": quantity(5, "U/L")}], None, False),  # no high
        ([], None, False),
    ],
)
def test_upper_limit_from_the_first_normal_reference_range(
    ranges: list[dict[str, Any]], upper: float | None, warned: bool
) -> None:
    body = observation("o1", [coding(LOINC, ALT)], valueQuantity=quantity(30, "U/L"), referenceRange=ranges)
    intake = build(body)
    assert intake.record is not None
    assert intake.record["labs"][0]["upper_limit"] == upper
    assert ("upper_limit_unit" in [w["kind"] for w in intake.warnings]) is warned


@pytest.mark.parametrize(
    ("value_quantity", "expected"),
    [
        (quantity(431, "ms"), "used"),
        (quantity(431, unit="ms"), "used"),
        (quantity(0.431, "s"), "unusable:unit"),
        (quantity(431), "unusable:unit"),
        (quantity(0, "ms"), "unusable:no_value"),
        (quantity(1200, "ms"), "unusable:no_value"),
    ],
)
def test_ecg_qtc_must_be_in_ms(value_quantity: dict[str, Any], expected: str) -> None:
    intake = build(observation("o1", [coding(LOINC, QTC)], valueQuantity=value_quantity))
    assert outcome(intake, "Observation/o1") == expected


def test_ecg_components_give_one_item_each() -> None:
    body = observation(
        "o1",
        [coding(LOINC, "11524-6", "EKG study")],
        component=[
            {"code": {"coding": [coding(LOINC, "8867-4")]}, "valueQuantity": quantity(64, "/min")},
            {"code": {"coding": [coding(LOINC, "76635-2")]}, "valueQuantity": quantity(455, "ms")},
            {"code": {"coding": [coding(LOINC, "76634-5")]}, "valueQuantity": quantity(441, "ms")},
            # A lab code on a component is not read (components are read for ECGs only).
            {"code": {"coding": [coding(LOINC, CREATININE)]}, "valueQuantity": quantity(1.0, "mg/dL")},
        ],
    )
    intake = build(body)
    assert intake.record is not None
    assert intake.record["ecgs"] == [
        {"date": "2026-02-20", "qtc_ms": 455, "correction": "bazett"},
        {"date": "2026-02-20", "qtc_ms": 441, "correction": "fridericia"},
    ]
    assert intake.record["labs"] == []
    assert intake.sources["/ecgs/0"] == intake.sources["/ecgs/1"] == ["Observation/o1"]


@pytest.mark.parametrize(
    ("value_quantity", "expected"),
    [
        (quantity(7.5, "1"), 7.5),
        ({"value": 7.5}, 7.5),
        (quantity(7.5, "%"), None),
        (quantity(7.5, unit="fold"), None),
        (quantity(7.5, "1", system="http://hospital.example/units"), None),
    ],
)
def test_tcell_fold_expansion_unit(value_quantity: dict[str, Any], expected: float | None) -> None:
    intake = build(observation("o1", [coding(LAB, "tcell-fold-expansion")], valueQuantity=value_quantity))
    assert intake.record is not None
    folds = [t["fold_expansion"] for t in intake.record["tcell_proliferation"]]
    assert folds == ([expected] if expected is not None else [])


# ---------------------------------------------------------------- section 5


def _coded(code: str) -> dict[str, Any]:
    return {"valueCodeableConcept": {"coding": [coding(SNOMED, code)]}}


def _interpreted(code: str) -> dict[str, Any]:
    return {"interpretation": [{"coding": [coding(INTERPRETATION, code)]}]}


@pytest.mark.parametrize(
    ("value", "result"),
    [
        (_coded("10828004"), "positive"),
        (_coded("260373001"), "positive"),
        (_coded("11214006"), "positive"),
        (_coded("260385009"), "negative"),
        (_coded("260415000"), "negative"),
        (_coded("131194007"), "negative"),
        ({"valueString": "positive"}, "positive"),
        ({"valueString": " POS "}, "positive"),
        ({"valueString": "Detected"}, "positive"),
        ({"valueString": "reactive"}, "positive"),
        ({"valueString": "negative"}, "negative"),
        ({"valueString": "neg"}, "negative"),
        ({"valueString": "Not Detected"}, "negative"),
        ({"valueString": "non-reactive"}, "negative"),
        ({"valueString": "Nonreactive"}, "negative"),
        (_interpreted("POS"), "positive"),
        (_interpreted("DET"), "positive"),
        (_interpreted("NEG"), "negative"),
        (_interpreted("ND"), "negative"),
        # Precedence: coded value, then string, then interpretation.
        ({**_coded("260385009"), "valueString": "positive", **_interpreted("POS")}, "negative"),
        ({"valueString": "positive", **_interpreted("NEG")}, "positive"),
        ({"valueString": "see comment", **_interpreted("NEG")}, "negative"),
        ({**_coded("82334004"), **_interpreted("POS")}, "positive"),
    ],
)
def test_qualitative_lab_results(value: dict[str, Any], result: str) -> None:
    rec = record(observation("o1", [coding(LOINC, HBSAG)], **value))
    assert rec["labs"] == [
        {
            "date": "2026-02-20",
            "test": "hbsag",
            "value": None,
            "unit": None,
            "upper_limit": None,
            "result": result,
        }
    ]


@pytest.mark.parametrize(
    "value",
    [
        {"valueQuantity": quantity(0.2, "{index}")},
        {"valueQuantity": {**quantity(10, "[IU]/mL"), "comparator": "<"}},
        _coded("82334004"),  # Indeterminate
        _interpreted("IND"),
        {"valueString": "indeterminate"},
        _coded("42425007"),  # Equivocal: a result for antibody tests only
        {"valueString": "equivocal"},
        {},
    ],
)
def test_nothing_decides_no_result(value: dict[str, Any]) -> None:
    for code in (HBSAG, "42595-9", "2106-3"):
        intake = build(observation("o1", [coding(LOINC, code)], **value))
        assert outcome(intake, "Observation/o1") == "unusable:no_result"


@pytest.mark.parametrize("value", [_coded("42425007"), {"valueString": "Equivocal"}])
def test_equivocal_is_a_result_for_antibody_tests(value: dict[str, Any]) -> None:
    rec = record(observation("o1", [coding(LAB, "aqp4-igg-cba")], **value))
    assert rec["antibody_tests"][0]["result"] == "equivocal"


@pytest.mark.parametrize(
    ("value", "titer"),
    [
        ({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 1000}}}, "1:1000"),
        ({"valueRatio": {"numerator": {"value": 1.0}, "denominator": {"value": 320.0}}}, "1:320"),
        ({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 2.5}}}, "1:2.5"),
        ({"valueRatio": {"numerator": {"value": 1}}}, None),
        ({"valueString": "1:100"}, "1:100"),
        ({"valueString": " 1:100 "}, "1:100"),
        ({"valueString": "1/100"}, None),
        ({"valueString": "high"}, None),
        ({}, None),
    ],
)
def test_antibody_titer(value: dict[str, Any], titer: str | None) -> None:
    rec = record(observation("o1", [coding(LAB, "aqp4-igg-cba")], **value, **_interpreted("POS")))
    assert rec["antibody_tests"] == [
        {"date": "2026-02-20", "antibody": "aqp4_igg", "method": "cba", "result": "positive", "titer": titer}
    ]


def test_viral_load_counts_only_through_its_interpretation() -> None:
    body = observation(
        "o1",
        [coding(LOINC, "42595-9")],
        valueQuantity={**quantity(10, "[IU]/mL"), "comparator": "<"},
        **_interpreted("ND"),
    )
    assert record(body)["labs"][0]["result"] == "negative"
