"""Patients (sex, rejections, a Patient alone), references, and the collected-or-not rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from nmocart.fhir.intake import build_patient, screening_record
from nmocart.fhir.resources import Origin, patient_id_of_reference, resource_from_body
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol

from .fhir_builders import (
    CONCEPT_MAP,
    LOINC,
    PID,
    SNOMED,
    SYNDROME,
    build,
    coding,
    condition,
    kinds,
    lab,
    observation,
    outcome,
    patient,
    record,
    resources_of,
)


@pytest.mark.parametrize(
    ("extension", "gender", "sex", "from_gender"),
    [
        ("F", "male", "female", False),  # birth sex wins over gender
        ("M", None, "male", False),
        (None, "female", "female", True),
        (None, "male", "male", True),
        ("UNK", "female", "female", True),
    ],
)
def test_sex_at_birth(extension: str | None, gender: str | None, sex: str, from_gender: bool) -> None:
    body = patient(sex=extension)
    if gender is not None:
        body["gender"] = gender
    intake = build(with_patient=body)
    assert intake.record is not None
    assert intake.record["sex"] == sex
    assert ("sex_from_gender" in kinds(intake)) is from_gender
    assert intake.sources["/sex"] == [f"Patient/{PID}"]


@pytest.mark.parametrize("gender", [None, "other", "unknown"])
def test_unknown_sex_rejects_the_patient_and_counts_its_resources(gender: str | None) -> None:
    body = patient(sex=None)
    if gender is not None:
        body["gender"] = gender
    intake = build(lab("o1", "2160-0", 1.0, "mg/dL"), with_patient=body)
    assert intake.record is None
    assert intake.rejection == "sex_unknown"
    assert outcome(intake, f"Patient/{PID}") == "rejected:sex_unknown"
    assert outcome(intake, "Observation/o1") == "patient_rejected"


@pytest.mark.parametrize(
    ("extra", "deceased"),
    [
        ({"deceasedBoolean": True}, True),
        ({"deceasedBoolean": False}, False),
        ({"deceasedDateTime": "2026-03-02T23:00:00-05:00"}, True),  # on the screening date
        ({"deceasedDateTime": "2026-03-01"}, True),
        ({"deceasedDateTime": "2026-03-03"}, False),  # after it
        ({"deceasedDateTime": "2025"}, True),  # the whole year is before it
        ({"deceasedDateTime": "2026"}, False),  # might be after it
        ({"deceasedDateTime": "2026-02"}, True),
        ({"deceasedDateTime": "2026-03"}, False),
    ],
)
def test_deceased(extra: dict[str, Any], deceased: bool) -> None:
    intake = build(with_patient=patient(**extra))
    assert (intake.rejection == "deceased") is deceased
    assert (intake.record is None) is deceased


def test_deceased_uses_the_forms_screening_date() -> None:
    from .fhir_builders import answer, form

    body = form([answer("screening_date", valueDate="2026-01-10")])
    intake = build(body, with_patient=patient(deceasedDateTime="2026-02-01"))
    assert intake.record is not None
    assert intake.record["screening_date"] == "2026-01-10"


def test_duplicate_patient_ids_reject_every_copy() -> None:
    copies = resources_of([patient(), patient(sex="M"), lab("o1", "2160-0", 1.0, "mg/dL")])
    intake = build_patient(copies[:2], copies[2:], {}, dt.date(2026, 3, 2), CONCEPT_MAP)
    assert intake.rejection == "duplicate_id"
    assert [o.reason for o in intake.outcomes if o.resource_type == "Patient"] == [
        "rejected:duplicate_id"
    ] * 2
    assert outcome(intake, "Observation/o1") == "patient_rejected"


@pytest.mark.parametrize("pid", [None, "has space", "x" * 65, 42])
def test_patient_without_usable_id_is_rejected(pid: Any) -> None:
    body = patient()
    if pid is None:
        del body["id"]
    else:
        body["id"] = pid
    res = resource_from_body(body, Origin("p.ndjson", 1, ""))
    intake = build_patient([res], [], {}, dt.date(2026, 3, 2), CONCEPT_MAP)
    assert intake.rejection == "no_id"
    assert intake.candidate_id is None


def test_patient_without_id_in_a_bundle_takes_its_urn_uuid() -> None:
    body = patient()
    del body["id"]
    res = resource_from_body(body, Origin("b.json", 0, "entry[0]"), full_url="urn:uuid:6f1c-44")
    assert res.patient_key == "6f1c-44"
    assert res.ref == "urn:uuid:6f1c-44"
    intake = build_patient([res], [], {}, dt.date(2026, 3, 2), CONCEPT_MAP)
    assert intake.record is not None
    assert intake.record["candidate_id"] == "6f1c-44"
    assert intake.sources["/candidate_id"] == ["urn:uuid:6f1c-44"]


def test_patient_alone_gets_a_record_mostly_unknown() -> None:
    intake = build()
    assert intake.record is not None
    rec = intake.record
    for section in (
        "attacks",
        "antibody_tests",
        "medications",
        "conditions",
        "labs",
        "pregnancy_tests",
        "ecgs",
        "tcell_proliferation",
        "investigator",
        "planned_treatment_date",
        "disease_onset_date",
        "pregnant",
    ):
        assert rec[section] is None, section
    assert rec["screening_date"] == "2026-03-02"
    assert "/screening_date" not in intake.sources  # from the run parameter: no source
    result = screen(screening_record(rec), load_protocol())
    assert result.decision == "incomplete"
    verdicts = {c.id: c.verdict for c in result.criteria}
    assert verdicts["IN1"] == "met"  # born 1990: age is known
    assert sum(v == "unknown" for v in verdicts.values()) >= 15


@pytest.mark.parametrize(
    ("reference", "pid"),
    [
        ("Patient/P1", "P1"),
        ("https://hospital.example/fhir/Patient/P1", "P1"),
        ("https://hospital.example/fhir/Patient/P1/_history/3", "P1"),
        ("Patient/P1/_history/3", "P1"),
        ("Group/P1", None),
        ("Patient/", None),
        ("#p1", None),
        ("urn:uuid:P1", None),  # outside a Bundle a URN resolves to nothing
        ("Patient/has space", None),
    ],
)
def test_patient_references(reference: str, pid: str | None) -> None:
    assert patient_id_of_reference(reference) == pid
    body = lab("o1", "2160-0", 1.0, "mg/dL", subject=reference)
    assert resource_from_body(body, Origin("f", 1, "")).patient_key == pid


def test_urn_reference_resolves_inside_its_bundle() -> None:
    pat = patient(pid="abc")
    index = {"urn:uuid:abc": pat}
    body = lab("o1", "2160-0", 1.0, "mg/dL", subject="urn:uuid:abc")
    assert (
        resource_from_body(body, Origin("b.json", 0, "entry[1]"), "urn:uuid:o1", index).patient_key == "abc"
    )
    not_patient = {"urn:uuid:abc": {"resourceType": "Group", "id": "abc"}}
    assert resource_from_body(body, Origin("b.json", 0, "entry[1]"), None, not_patient).patient_key is None


# ---------------------------------------------------------------- collected or not


def test_observation_sections_collected_by_any_accepted_observation() -> None:
    unmapped = observation("o1", [coding(LOINC, "718-7")])
    rec = record(unmapped)
    for section in ("labs", "antibody_tests", "pregnancy_tests", "ecgs", "tcell_proliferation"):
        assert rec[section] == [], section
    assert rec["conditions"] is None
    assert rec["medications"] is None


def test_conditions_and_attacks_collected_by_an_unmapped_condition() -> None:
    rec = record(condition("c1", [coding(SNOMED, "160903007")]))
    assert rec["conditions"] == []
    assert rec["attacks"] == []


def test_nmosd_condition_alone_leaves_attacks_unknown() -> None:
    rec = record(condition("n1", [coding(SNOMED, "25044007")], onset="2016-05-04"))
    assert rec["attacks"] is None
    assert rec["conditions"] == []
    assert rec["disease_onset_date"] == "2016-05-04"


def test_disease_onset_is_the_earliest_dated_nmosd_condition() -> None:
    intake = build(
        condition("n1", [coding(SNOMED, "25044007")], onset="2017-01-01"),
        condition("n2", [coding("http://hl7.org/fhir/sid/icd-10-cm", "G36.0")], onset="2016-05-04"),
        condition("n3", [coding(SNOMED, "25044007")], onset="2016"),
    )
    assert intake.record is not None
    assert intake.record["disease_onset_date"] == "2016-05-04"
    assert intake.sources["/disease_onset_date"] == ["Condition/n2"]


def test_attacks_group_by_date_and_order_syndromes() -> None:
    intake = build(
        condition("a3", [coding(SYNDROME, "brainstem")], onset="2025-01-09"),
        condition("a2", [coding(SYNDROME, "area_postrema")], onset="2025-01-09T08:00:00Z"),
        condition("a4", [coding(SYNDROME, "area_postrema")], onset="2025-01-09"),
        condition("a1", [coding(SNOMED, "66760008")], onset="2024-04-18"),
    )
    assert intake.record is not None
    assert intake.record["attacks"] == [
        {"onset_date": "2024-04-18", "syndromes": [{"type": "optic_neuritis", "mri_requirements_met": None}]},
        {
            "onset_date": "2025-01-09",
            "syndromes": [
                {"type": "area_postrema", "mri_requirements_met": None},
                {"type": "brainstem", "mri_requirements_met": None},
            ],
        },
    ]
    assert intake.sources["/attacks/1"] == ["Condition/a2", "Condition/a3", "Condition/a4"]
    assert intake.sources["/attacks/1/syndromes/0"] == ["Condition/a2", "Condition/a4"]
    assert intake.record["conditions"] == []


def test_an_undated_attack_makes_attacks_unknown() -> None:
    intake = build(
        condition("a1", [coding(SYNDROME, "brainstem")], onset="2025-01-09"),
        condition("a2", [coding(SYNDROME, "cerebral")], onset="2025-01"),
    )
    assert intake.record is not None
    assert intake.record["attacks"] is None
    assert "undated_attack" in kinds(intake)
    assert outcome(intake, "Condition/a2") == "unusable:no_date"
    assert outcome(intake, "Condition/a1") == "section_null"
    assert not any(p.startswith("/attacks") for p in intake.sources)


@pytest.mark.parametrize(
    ("clinical", "severity", "active", "severe"),
    [
        ("active", "24484000", True, True),
        ("recurrence", "6736007", True, False),
        ("relapse", "255604002", True, False),
        ("inactive", None, False, None),
        ("remission", "399166001", False, None),
        ("resolved", None, False, None),
        (None, None, None, None),
    ],
)
def test_condition_flags(
    clinical: str | None, severity: str | None, active: bool | None, severe: bool | None
) -> None:
    extra: dict[str, Any] = {}
    if clinical is not None:
        extra["clinicalStatus"] = {
            "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical)]
        }
    if severity is not None:
        extra["severity"] = {"coding": [coding(SNOMED, severity)]}
    rec = record(condition("c1", [coding(SNOMED, "91302008")], text="sepsis", **extra))
    assert rec["conditions"] == [
        {
            "name": "sepsis",
            "category": "infection",
            "onset_date": "2020-01-01",
            "active": active,
            "severe": severe,
            "controlled": None,
        }
    ]


def test_condition_name_text_then_first_matching_display_then_map() -> None:
    first = record(
        condition(
            "c1",
            [coding(SNOMED, "999", "unmapped display"), coding(SNOMED, "84757009", "EHR epilepsy")],
            text="  ",
        )
    )
    assert first["conditions"][0]["name"] == "EHR epilepsy"
    from_map = record(condition("c1", [coding(SNOMED, "84757009")]))
    assert from_map["conditions"][0]["name"] == "Epilepsy (disorder)"


def test_pregnancy_status_latest_in_window_true_wins_ties() -> None:
    def status(rid: str, code: str, day: str) -> dict[str, Any]:
        return observation(
            rid, [coding(LOINC, "82810-3")], date=day, valueCodeableConcept={"coding": [coding(SNOMED, code)]}
        )

    intake = build(
        status("s1", "60001007", "2026-02-20"),
        status("s2", "77386006", "2026-02-20"),
        status("s3", "77386006", "2026-01-01"),  # outside the 28-day window
    )
    assert intake.record is not None
    assert intake.record["pregnant"] is True
    assert intake.sources["/pregnant"] == ["Observation/s2"]
    not_pregnant = record(status("s1", "60001007", "2026-02-02"))  # window start, inclusive
    assert not_pregnant["pregnant"] is False
    too_old = record(status("s1", "77386006", "2026-02-01"))
    assert too_old["pregnant"] is None
    man = build(status("s1", "77386006", "2026-02-20"), with_patient=patient(sex="M"))
    assert man.record is not None
    assert man.record["pregnant"] is None
    other = build(status("s1", "261665006", "2026-02-20"))
    assert outcome(other, "Observation/s1") == "unusable:no_result"
