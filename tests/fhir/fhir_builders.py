"""Small FHIR resource builders for the intake tests, and a one-patient run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from nmocart.fhir.concept_map import ConceptMap, load_concept_map
from nmocart.fhir.intake import PatientIntake, build_patient
from nmocart.fhir.resources import Origin, Resource, resource_from_body

D = dt.date(2026, 3, 2)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
LAB = "http://nmocart.example/fhir/CodeSystem/lab"
SYNDROME = "http://nmocart.example/fhir/CodeSystem/nmosd-syndrome"
BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
FORM = "http://nmocart.example/fhir/Questionnaire/screening"
PID = "P1"
CONCEPT_MAP = load_concept_map()

Json = dict[str, Any]


def patient(pid: str = PID, sex: str | None = "F", birth: str | None = "1990-05-01", **extra: Any) -> Json:
    body: Json = {"resourceType": "Patient", "id": pid}
    if sex is not None:
        body["extension"] = [{"url": BIRTHSEX, "valueCode": sex}]
    if birth is not None:
        body["birthDate"] = birth
    body.update(extra)
    return body


def coding(system: str, code: str, display: str | None = None) -> Json:
    out: Json = {"system": system, "code": code}
    if display is not None:
        out["display"] = display
    return out


def quantity(value: Any, code: str | None = None, unit: str | None = None, system: str | None = UCUM) -> Json:
    out: Json = {"value": value}
    if code is not None:
        out["code"] = code
        if system is not None:
            out["system"] = system
    if unit is not None:
        out["unit"] = unit
    return out


def observation(
    rid: str,
    codings: Iterable[Json],
    date: str | None = "2026-02-20",
    status: str = "final",
    subject: str = f"Patient/{PID}",
    **value: Any,
) -> Json:
    body: Json = {
        "resourceType": "Observation",
        "id": rid,
        "status": status,
        "code": {"coding": list(codings)},
        "subject": {"reference": subject},
    }
    if date is not None:
        body["effectiveDateTime"] = date
    body.update(value)
    return body


def lab(rid: str, code: str, value: Any, unit_code: str, high: Any = None, **extra: Any) -> Json:
    """A numeric LOINC lab Observation with a normal reference range when ``high`` is given."""
    body = observation(rid, [coding(LOINC, code)], valueQuantity=quantity(value, unit_code), **extra)
    if high is not None:
        body["referenceRange"] = [{"high": quantity(high, unit_code)}]
    return body


def condition(
    rid: str,
    codings: Iterable[Json],
    onset: str | None = "2020-01-01",
    subject: str = f"Patient/{PID}",
    text: str | None = None,
    **extra: Any,
) -> Json:
    body: Json = {
        "resourceType": "Condition",
        "id": rid,
        "code": {"coding": list(codings)},
        "subject": {"reference": subject},
    }
    if text is not None:
        body["code"]["text"] = text
    if onset is not None:
        body["onsetDateTime"] = onset
    body.update(extra)
    return body


def route(code: str) -> Json:
    return {"coding": [coding(SNOMED, code)]}


def statement(
    rid: str,
    codings: Iterable[Json],
    start: str | None = "2025-01-01",
    end: str | None = "2025-02-01",
    route_code: str | None = None,
    status: str = "active",
    **extra: Any,
) -> Json:
    body: Json = {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": status,
        "subject": {"reference": f"Patient/{PID}"},
        "medicationCodeableConcept": {"coding": list(codings)},
    }
    period: Json = {}
    if start is not None:
        period["start"] = start
    if end is not None:
        period["end"] = end
    body["effectivePeriod"] = period
    if route_code is not None:
        body["dosage"] = [{"route": route(route_code)}]
    body.update(extra)
    return body


def form(items: list[Json], rid: str = "form", status: str = "completed", questionnaire: str = FORM) -> Json:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": rid,
        "questionnaire": questionnaire,
        "status": status,
        "subject": {"reference": f"Patient/{PID}"},
        "item": items,
    }


def answer(link: str, **value: Any) -> Json:
    return {"linkId": link, "answer": [value]}


def resources_of(bodies: Iterable[Json]) -> list[Resource]:
    return [resource_from_body(b, Origin("test.ndjson", n, "")) for n, b in enumerate(bodies, start=1)]


def build(
    *bodies: Json,
    with_patient: Json | None = None,
    day: dt.date = D,
    concept_map: ConceptMap = CONCEPT_MAP,
) -> PatientIntake:
    """Build patient ``P1`` (a woman born 1990-05-01 unless ``with_patient``) from ``bodies``."""
    all_resources = resources_of([with_patient or patient(), *bodies])
    patients = [r for r in all_resources if r.resource_type == "Patient"]
    meds = {r.ref: r for r in all_resources if r.resource_type == "Medication"}
    others = [r for r in all_resources if r.resource_type not in ("Patient", "Medication")]
    return build_patient(patients, others, meds, day, concept_map)


def record(*bodies: Json, **kwargs: Any) -> Json:
    intake = build(*bodies, **kwargs)
    assert intake.record is not None, intake.rejection
    return intake.record


def outcome(intake: PatientIntake, ref: str) -> str:
    """``used``, ``unmapped`` or the ignored reason of the resource ``ref``."""
    found = [o for o in intake.outcomes if o.ref == ref]
    assert len(found) == 1, found
    return found[0].status if found[0].status != "ignored" else found[0].reason


def kinds(intake: PatientIntake) -> list[str]:
    return sorted(w["kind"] for w in intake.warnings)
