"""The study screening form (spec section 2.3) and medications (section 2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from .fhir_builders import (
    PID,
    RXNORM,
    SNOMED,
    SYNDROME,
    answer,
    build,
    coding,
    condition,
    form,
    kinds,
    outcome,
    patient,
    record,
    statement,
)

PREDNISONE = coding(RXNORM, "8640", "prednisone")
RITUXIMAB = coding(RXNORM, "121191", "rituximab")
BUDESONIDE = coding(RXNORM, "19831", "budesonide")
FORM_REF = "QuestionnaireResponse/form"


def _attack_group(onset: str, kind: str, mri: bool) -> dict[str, Any]:
    return {
        "linkId": "attacks",
        "item": [
            answer("attacks.onset_date", valueDate=onset),
            answer("attacks.type", valueCoding=coding(SYNDROME, kind)),
            answer("attacks.mri_requirements_met", valueBoolean=mri),
        ],
    }


def test_form_fills_its_fields_nested_at_any_level() -> None:
    items = [
        answer("screening_date", valueDate="2026-03-01"),
        answer("planned_treatment_date", valueDate="2026-04-06"),
        {
            "linkId": "consent",
            "item": [
                answer("childbearing_potential", valueBoolean=True),
                {"linkId": "deeper", "item": [answer("lactating", valueBoolean=False)]},
            ],
        },
        answer("contraception_agreed", valueBoolean=True),
        answer("alternative_diagnoses_excluded", valueBoolean=False),
        {"linkId": "investigator", "item": [answer("investigator.other_risk", valueBoolean=False)]},
    ]
    intake = build(form(items))
    assert intake.record is not None
    rec = intake.record
    assert rec["screening_date"] == "2026-03-01"
    assert rec["planned_treatment_date"] == "2026-04-06"
    assert rec["childbearing_potential"] is True
    assert rec["lactating"] is False
    assert rec["contraception_agreed"] is True
    assert rec["alternative_diagnoses_excluded"] is False
    assert rec["investigator"] == {
        "survival_over_12_weeks": None,
        "uncontrolled_disease": None,
        "other_risk": False,
        "notes": None,
    }
    for pointer in (
        "/screening_date",
        "/planned_treatment_date",
        "/childbearing_potential",
        "/lactating",
        "/contraception_agreed",
        "/alternative_diagnoses_excluded",
        "/investigator/other_risk",
    ):
        assert intake.sources[pointer] == [FORM_REF], pointer
    assert "/investigator/notes" not in intake.sources
    assert intake.warnings == ()


def test_first_answer_counts() -> None:
    item = {"linkId": "contraception_agreed", "answer": [{"valueBoolean": False}, {"valueBoolean": True}]}
    assert record(form([item]))["contraception_agreed"] is False


@pytest.mark.parametrize(
    "item",
    [
        answer("contraception_agreed", valueString="yes"),
        answer("screening_date", valueDate="2026-03"),
        answer("screening_date", valueDateTime="2026-03-01T10:00:00Z"),
        answer("investigator.notes", valueBoolean=True),
        answer("favourite_colour", valueString="blue"),
    ],
)
def test_wrong_types_and_unknown_link_ids_are_ignored_and_reported(item: dict[str, Any]) -> None:
    intake = build(form([item]))
    assert kinds(intake) == ["form_item"]
    assert intake.record is not None
    assert intake.record["contraception_agreed"] is None
    assert intake.record["screening_date"] == "2026-03-02"
    assert outcome(intake, FORM_REF) == "used"


def test_items_without_an_answer_are_ignored_silently() -> None:
    intake = build(form([{"linkId": "contraception_agreed"}, {"linkId": "favourite_colour"}]))
    assert intake.warnings == ()


def test_two_usable_forms_none_used() -> None:
    first = form([answer("contraception_agreed", valueBoolean=True)], rid="f1")
    second = form([answer("contraception_agreed", valueBoolean=False)], rid="f2")
    other = form([answer("contraception_agreed", valueBoolean=False)], rid="f3", status="in-progress")
    intake = build(first, second, other)
    assert intake.record is not None
    assert intake.record["contraception_agreed"] is None
    assert kinds(intake) == ["form_conflict"]
    assert outcome(intake, "QuestionnaireResponse/f1") == "form_conflict"
    assert outcome(intake, "QuestionnaireResponse/f2") == "form_conflict"
    assert outcome(intake, "QuestionnaireResponse/f3") == "status:in-progress"


def test_form_sets_mri_of_the_matching_syndrome_and_reports_unmatched_groups() -> None:
    intake = build(
        condition("a1", [coding(SYNDROME, "acute_myelitis")], onset="2016-05-04"),
        form(
            [
                _attack_group("2016-05-04", "acute_myelitis", True),
                _attack_group("2016-05-04", "brainstem", True),
            ]
        ),
    )
    assert intake.record is not None
    assert intake.record["attacks"] == [
        {"onset_date": "2016-05-04", "syndromes": [{"type": "acute_myelitis", "mri_requirements_met": True}]}
    ]
    assert intake.sources["/attacks/0/syndromes/0/mri_requirements_met"] == [FORM_REF]
    assert kinds(intake) == ["form_attack_unmatched"]


def test_form_overrides_fhir_and_reports_a_difference() -> None:
    nmosd = condition("n1", [coding(SNOMED, "25044007")], onset="2016-05-04")
    intake = build(nmosd, form([answer("disease_onset_date", valueDate="2016-04-20")]))
    assert intake.record is not None
    assert intake.record["disease_onset_date"] == "2016-04-20"
    assert intake.sources["/disease_onset_date"] == [FORM_REF]
    assert kinds(intake) == ["form_override"]
    same = build(nmosd, form([answer("disease_onset_date", valueDate="2016-05-04")]))
    assert same.warnings == ()


def test_women_only_form_answers_are_null_for_men() -> None:
    intake = build(form([answer("pregnant", valueBoolean=False)]), with_patient=patient(sex="M"))
    assert intake.record is not None
    assert intake.record["pregnant"] is None
    assert "/pregnant" not in intake.sources
    assert kinds(intake) == ["form_item"]


# ---------------------------------------------------------------- medications


@pytest.mark.parametrize(
    ("route_code", "route", "drug_class"),
    [
        ("26643006", "oral", "systemic_corticosteroid"),
        ("47625008", "intravenous", "systemic_corticosteroid"),
        ("34206005", "subcutaneous", "systemic_corticosteroid"),
        ("78421000", "intramuscular", "systemic_corticosteroid"),
        ("447694001", "inhaled", "inhaled_corticosteroid"),
        ("46713006", "intranasal", "topical_corticosteroid"),
        ("6064005", "topical", "topical_corticosteroid"),
        ("37161004", "other", "systemic_corticosteroid"),  # rectal: other, the target's class
        (None, None, "systemic_corticosteroid"),
    ],
)
def test_route_decides_the_corticosteroid_class(
    route_code: str | None, route: str | None, drug_class: str
) -> None:
    rec = record(statement("m1", [PREDNISONE], route_code=route_code))
    assert rec["medications"][0]["route"] == route
    assert rec["medications"][0]["drug_class"] == drug_class


def test_route_of_an_inhaled_target_given_orally_is_systemic() -> None:
    assert record(statement("m1", [BUDESONIDE], route_code="26643006"))["medications"][0]["drug_class"] == (
        "systemic_corticosteroid"
    )
    assert record(statement("m1", [BUDESONIDE]))["medications"][0]["drug_class"] == "inhaled_corticosteroid"


def test_route_does_not_change_other_classes() -> None:
    rec = record(statement("m1", [RITUXIMAB], route_code="6064005"))
    assert rec["medications"][0]["drug_class"] == "rituximab"


def _administration(rid: str, **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "subject": {"reference": f"Patient/{PID}"},
        "medicationCodeableConcept": {"coding": [RITUXIMAB], "text": "rituximab"},
    }
    body.update(extra)
    return body


def _request(rid: str, **extra: Any) -> dict[str, Any]:
    body = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{PID}"},
        "medicationCodeableConcept": {"coding": [PREDNISONE]},
    }
    body.update(extra)
    return body


def _bounds(start: str | None, end: str | None) -> list[dict[str, Any]]:
    period = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return [{"timing": {"repeat": {"boundsPeriod": period}}}]


@pytest.mark.parametrize(
    ("body", "start", "end"),
    [
        (_administration("a1", effectiveDateTime="2024-09-03T10:30:00+08:00"), "2024-09-03", "2024-09-03"),
        (
            _administration("a1", effectivePeriod={"start": "2024-09-03", "end": "2024-09-04"}),
            "2024-09-03",
            "2024-09-04",
        ),
        (statement("a1", [PREDNISONE], start="2016-06-01", end=None), "2016-06-01", None),
        (statement("a1", [PREDNISONE], start="2016-06-01", end="2026-01"), "2016-06-01", None),
        (
            {**statement("a1", [PREDNISONE]), "effectivePeriod": None, "effectiveDateTime": "2020-02-02"},
            "2020-02-02",
            "2020-02-02",
        ),
        (
            _request("a1", authoredOn="2025-10-27", dosageInstruction=_bounds("2025-10-28", "2025-11-01")),
            "2025-10-28",
            "2025-11-01",
        ),
        (
            _request("a1", authoredOn="2025-10-27", dosageInstruction=_bounds(None, "2025-11-01")),
            "2025-10-27",
            "2025-11-01",
        ),
        (_request("a1", authoredOn="2025-10-27T09:00:00Z"), "2025-10-27", None),
        (
            _request("a1", authoredOn="2025-10-27", dosageInstruction=_bounds("2025-10", None)),
            "2025-10-27",
            None,
        ),
    ],
)
def test_medication_dates(body: dict[str, Any], start: str, end: str | None) -> None:
    if body.get("effectivePeriod") is None:
        body.pop("effectivePeriod", None)
    med = record(body)["medications"][0]
    assert (med["start_date"], med["end_date"]) == (start, end)


def test_an_undated_mapped_medication_makes_medications_unknown() -> None:
    intake = build(statement("m1", [PREDNISONE]), _request("m2", authoredOn="2025"))
    assert intake.record is not None
    assert intake.record["medications"] is None
    assert "undated_medication" in kinds(intake)
    assert outcome(intake, "MedicationRequest/m2") == "unusable:no_date"
    assert outcome(intake, "MedicationStatement/m1") == "section_null"
    assert not any(p.startswith("/medications") for p in intake.sources)


def test_an_undated_unmapped_medication_does_not() -> None:
    lisinopril = {**_request("m2"), "medicationCodeableConcept": {"coding": [coding(RXNORM, "314076")]}}
    rec = record(statement("m1", [PREDNISONE]), lisinopril)
    assert [m["name"] for m in rec["medications"]] == ["prednisone"]


@pytest.mark.parametrize("status", ["completed", "stopped"])
def test_finished_without_end_is_reported_open(status: str) -> None:
    intake = build(statement("m1", [PREDNISONE], end=None, status=status))
    assert intake.record is not None
    assert intake.record["medications"][0]["end_date"] is None
    assert kinds(intake) == ["open_end_date"]


def test_end_before_start_is_dropped_and_reported() -> None:
    intake = build(statement("m1", [PREDNISONE], start="2025-02-01", end="2025-01-01"))
    assert intake.record is not None
    assert intake.record["medications"][0]["end_date"] is None
    assert kinds(intake) == ["end_before_start"]


def test_rituximab_administrations_are_one_entry_each_in_date_order() -> None:
    intake = build(
        _administration("r2", effectiveDateTime="2025-03-10"),
        _administration("r1", effectiveDateTime="2024-09-03"),
    )
    assert intake.record is not None
    assert [(m["start_date"], m["drug_class"]) for m in intake.record["medications"]] == [
        ("2024-09-03", "rituximab"),
        ("2025-03-10", "rituximab"),
    ]
    assert intake.sources["/medications/0"] == ["MedicationAdministration/r1"]


def test_medication_reference_to_a_medication_resource() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "mp",
        "code": {"coding": [coding(RXNORM, "6902")], "text": "MP"},
    }
    body = {**_request("m1", authoredOn="2025-10-27"), "medicationReference": {"reference": "Medication/mp"}}
    del body["medicationCodeableConcept"]
    intake = build(body, medication)
    assert intake.record is not None
    assert intake.record["medications"][0]["name"] == "MP"
    assert intake.consulted_medications == ("Medication/mp",)


def test_contained_medication() -> None:
    body = {
        **_request("m1", authoredOn="2025-10-27"),
        "contained": [
            {"resourceType": "Medication", "id": "c", "code": {"coding": [coding(RXNORM, "1256")]}}
        ],
        "medicationReference": {"reference": "#c"},
    }
    del body["medicationCodeableConcept"]
    assert record(body)["medications"][0]["drug_class"] == "azathioprine"


@pytest.mark.parametrize("reference", ["Medication/missing", "#nope", "Substance/x"])
def test_unresolved_medication_reference_is_unusable(reference: str) -> None:
    body = {**_request("m1", authoredOn="2025-10-27"), "medicationReference": {"reference": reference}}
    del body["medicationCodeableConcept"]
    intake = build(body)
    assert outcome(intake, "MedicationRequest/m1") == "unusable:medication_reference"
    assert intake.record is not None
    assert intake.record["medications"] == []


def test_form_pregnant_overrides_the_pregnancy_status_observation() -> None:
    status = {
        "resourceType": "Observation",
        "id": "s1",
        "status": "final",
        "code": {"coding": [coding("http://loinc.org", "82810-3")]},
        "subject": {"reference": f"Patient/{PID}"},
        "effectiveDateTime": "2026-02-25",
        "valueCodeableConcept": {"coding": [coding(SNOMED, "77386006")]},
    }
    intake = build(status, form([answer("pregnant", valueBoolean=False)]))
    assert intake.record is not None
    assert intake.record["pregnant"] is False
    assert intake.sources["/pregnant"] == [FORM_REF]
    assert kinds(intake) == ["form_override"]
