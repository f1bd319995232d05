"""Status filters (spec section 1) and dates, partial dates included (section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from .fhir_builders import (
    LOINC,
    PID,
    RXNORM,
    SNOMED,
    build,
    coding,
    condition,
    form,
    kinds,
    lab,
    observation,
    outcome,
    patient,
    quantity,
    record,
    statement,
)

CREATININE = "2160-0"
EPILEPSY = coding(SNOMED, "84757009")
PREDNISONE = coding(RXNORM, "8640")
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


@pytest.mark.parametrize(
    ("status", "accepted"),
    [
        ("final", True),
        ("amended", True),
        ("corrected", True),
        ("preliminary", False),
        ("registered", False),
        ("cancelled", False),
        ("entered-in-error", False),
        ("unknown", False),
    ],
)
def test_observation_status_filter(status: str, accepted: bool) -> None:
    intake = build(lab("o1", CREATININE, 1.0, "mg/dL", status=status))
    assert intake.record is not None
    assert outcome(intake, "Observation/o1") == ("used" if accepted else f"status:{status}")
    # An ignored Observation does not even count as collected.
    labs = intake.record["labs"]
    assert (len(labs) == 1) if accepted else (labs is None)


def test_observation_without_status_is_ignored() -> None:
    body = lab("o1", CREATININE, 1.0, "mg/dL")
    del body["status"]
    assert outcome(build(body), "Observation/o1") == "status:absent"


@pytest.mark.parametrize(
    ("verification", "accepted"),
    [
        (None, True),
        ("confirmed", True),
        ("provisional", True),
        ("differential", True),
        ("unconfirmed", True),
        ("entered-in-error", False),
        ("refuted", False),
    ],
)
def test_condition_verification_filter(verification: str | None, accepted: bool) -> None:
    extra: dict[str, Any] = {}
    if verification is not None:
        extra["verificationStatus"] = {"coding": [coding(VERIFICATION, verification)]}
    intake = build(condition("c1", [EPILEPSY], **extra))
    assert intake.record is not None
    assert outcome(intake, "Condition/c1") == ("used" if accepted else f"status:{verification}")
    assert (intake.record["conditions"] is not None) is accepted


def _request(status: str, intent: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": status,
        "intent": intent,
        "subject": {"reference": f"Patient/{PID}"},
        "medicationCodeableConcept": {"coding": [PREDNISONE]},
        "authoredOn": "2025-01-01",
    }


@pytest.mark.parametrize(
    ("status", "intent", "expected"),
    [
        ("active", "order", "used"),
        ("completed", "order", "used"),
        ("stopped", "original-order", "used"),
        ("on-hold", "instance-order", "used"),
        ("unknown", "filler-order", "used"),
        ("entered-in-error", "order", "status:entered-in-error"),
        ("cancelled", "order", "status:cancelled"),
        ("draft", "order", "status:draft"),
        ("active", "proposal", "intent:proposal"),
        ("active", "plan", "intent:plan"),
        ("active", "option", "intent:option"),
    ],
)
def test_medication_request_filter(status: str, intent: str, expected: str) -> None:
    intake = build(_request(status, intent))
    assert outcome(intake, "MedicationRequest/r1") == expected
    assert intake.record is not None
    assert (intake.record["medications"] is not None) is (expected == "used")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", "used"),
        ("completed", "used"),
        ("stopped", "used"),
        ("on-hold", "used"),
        ("unknown", "used"),
        ("entered-in-error", "status:entered-in-error"),
        ("not-taken", "status:not-taken"),
        ("intended", "status:intended"),
    ],
)
def test_medication_statement_filter(status: str, expected: str) -> None:
    assert outcome(build(statement("m1", [PREDNISONE], status=status)), "MedicationStatement/m1") == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", "used"),
        ("in-progress", "used"),
        ("on-hold", "used"),
        ("stopped", "used"),
        ("unknown", "used"),
        ("entered-in-error", "status:entered-in-error"),
        ("not-done", "status:not-done"),
    ],
)
def test_medication_administration_filter(status: str, expected: str) -> None:
    body = {
        "resourceType": "MedicationAdministration",
        "id": "a1",
        "status": status,
        "subject": {"reference": f"Patient/{PID}"},
        "medicationCodeableConcept": {"coding": [coding(RXNORM, "121191")]},
        "effectiveDateTime": "2025-03-10T10:15:00+08:00",
    }
    assert outcome(build(body), "MedicationAdministration/a1") == expected


@pytest.mark.parametrize(
    ("status", "questionnaire", "expected"),
    [
        ("completed", "http://nmocart.example/fhir/Questionnaire/screening", "used"),
        ("amended", "http://nmocart.example/fhir/Questionnaire/screening|1", "used"),
        ("in-progress", "http://nmocart.example/fhir/Questionnaire/screening", "status:in-progress"),
        ("stopped", "http://nmocart.example/fhir/Questionnaire/screening", "status:stopped"),
        (
            "entered-in-error",
            "http://nmocart.example/fhir/Questionnaire/screening",
            "status:entered-in-error",
        ),
        ("completed", "http://nmocart.example/fhir/Questionnaire/screening|2", "questionnaire"),
        ("completed", "http://hospital.example/Questionnaire/phq9", "questionnaire"),
    ],
)
def test_questionnaire_response_filter(status: str, questionnaire: str, expected: str) -> None:
    body = form(
        [{"linkId": "contraception_agreed", "answer": [{"valueBoolean": True}]}],
        status=status,
        questionnaire=questionnaire,
    )
    intake = build(body)
    assert outcome(intake, "QuestionnaireResponse/form") == expected
    assert intake.record is not None
    assert intake.record["contraception_agreed"] is (True if expected == "used" else None)


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("2026-02-24", "2026-02-24"),
        ("2026-02-24T23:30:00-05:00", "2026-02-24"),  # local date as written, no conversion
        ("2026-02-24T01:30:00+14:00", "2026-02-24"),
        ("2026-02-24T07:45:00Z", "2026-02-24"),
    ],
)
def test_observation_date_is_the_local_date_as_written(written: str, day: str) -> None:
    assert record(lab("o1", CREATININE, 1.0, "mg/dL", date=written))["labs"][0]["date"] == day


@pytest.mark.parametrize(
    "extra",
    [
        {"effectivePeriod": {"start": "2026-02-20T08:00:00Z", "end": "2026-02-21"}},
        {"effectiveInstant": "2026-02-20T08:00:00.000Z"},
    ],
)
def test_observation_period_start_and_instant_give_the_date(extra: dict[str, Any]) -> None:
    body = observation(
        "o1", [coding(LOINC, CREATININE)], date=None, valueQuantity=quantity(1.0, "mg/dL"), **extra
    )
    assert record(body)["labs"][0]["date"] == "2026-02-20"


@pytest.mark.parametrize(
    "extra",
    [
        {"effectiveDateTime": "2026"},
        {"effectiveDateTime": "2026-02"},
        {"effectivePeriod": {"end": "2026-02-21"}},
        {"effectiveTiming": {"event": ["2026-02-20"]}},
        {},
    ],
)
def test_observation_without_a_full_date_is_unusable(extra: dict[str, Any]) -> None:
    body = observation(
        "o1", [coding(LOINC, CREATININE)], date=None, valueQuantity=quantity(1.0, "mg/dL"), **extra
    )
    intake = build(body)
    assert outcome(intake, "Observation/o1") == "unusable:no_date"
    assert intake.record is not None
    assert intake.record["labs"] == []


@pytest.mark.parametrize(
    ("birth", "expected", "warned"),
    [
        ("1990-05-01", "1990-05-01", False),
        ("1990-05", None, True),
        ("1990", None, True),
        (None, None, True),
    ],
)
def test_birth_date_partial_is_null_and_reported(
    birth: str | None, expected: str | None, warned: bool
) -> None:
    intake = build(with_patient=patient(birth=birth))
    assert intake.record is not None
    assert intake.record["birth_date"] == expected
    assert ("partial_birth_date" in kinds(intake)) is warned
    assert ("/birth_date" in intake.sources) is (expected is not None)


@pytest.mark.parametrize(
    ("extra", "onset"),
    [
        ({"onsetDateTime": "2019-07-14T10:00:00+02:00"}, "2019-07-14"),
        ({"onsetPeriod": {"start": "2019-07-14", "end": "2019-08-01"}}, "2019-07-14"),
        ({"onsetDateTime": "2019-07"}, None),
        ({"onsetDateTime": "2019"}, None),
        ({"onsetPeriod": {"end": "2019-08-01"}}, None),
        ({"onsetAge": {"value": 30, "unit": "a"}}, None),
        ({"onsetRange": {"low": {"value": 30}}}, None),
        ({"onsetString": "childhood"}, None),
        ({"abatementDateTime": "2019-07-14", "recordedDate": "2019-07-14"}, None),
    ],
)
def test_condition_onset(extra: dict[str, Any], onset: str | None) -> None:
    rec = record(condition("c1", [EPILEPSY], onset=None, **extra))
    assert rec["conditions"][0]["onset_date"] == onset


def test_data_after_the_screening_date_is_kept() -> None:
    rec = record(lab("o1", CREATININE, 1.0, "mg/dL", date="2026-12-01"))
    assert rec["labs"][0]["date"] == "2026-12-01"
