"""Findings of the independent review of the FHIR intake: each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.grouping import run_intake
from nmocart.fhir.output import IntakeTally

from .fhir_builders import LOINC, PID, RXNORM, D, build, coding, observation, patient, statement


def _idless(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "id"}


def test_resources_without_id_or_full_url_in_one_bundle_keep_distinct_sources(tmp_path: Path) -> None:
    """Section 7: provenance must lead to the right resource, also without id and fullUrl."""
    first = _idless(statement("s1", [coding(RXNORM, "1256")], start="2025-01-01"))
    second = _idless(statement("s2", [coding(RXNORM, "1256")], start="2025-03-01"))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient()}, {"resource": first}, {"resource": second}],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    run_intake([tmp_path / "b.json"], D, load_concept_map(), tmp_path / "out")
    sources = orjson.loads((tmp_path / "out" / "sources.ndjson").read_bytes())
    assert sources["candidate_id"] == PID
    one, two = sources["sources"]["/medications/0"], sources["sources"]["/medications/1"]
    assert one != two
    assert one[0].endswith("entry[1]")
    assert two[0].endswith("entry[2]")


def test_an_unmapped_code_written_twice_in_one_resource_counts_that_resource_once() -> None:
    """Section 6/7: unmapped codes are counted per resource, even when two codings differ only in display."""
    body = observation(
        "o1", [coding(LOINC, "99999-9", "Odd test"), coding(LOINC, "99999-9", "Odd test, short")]
    )
    tally = IntakeTally()
    tally.add_intake(build(body))
    rows = [r for r in tally.unmapped_codes() if r["code"] == "99999-9"]
    assert rows == [
        {
            "resource_type": "Observation",
            "system": LOINC,
            "code": "99999-9",
            "display": "Odd test",
            "count": 1,
        }
    ]
    coverage = [r for r in tally.coverage_rows() if r["code"] == "99999-9"]
    assert [(r["read"], r["unmapped"]) for r in coverage] == [(1, 1)]


def test_a_conflict_is_reported_with_its_codings() -> None:
    """Section 6: a conflicting resource is reported with its codings, not only the targets they name."""
    body = observation("o1", [coding(LOINC, "2160-0"), coding(LOINC, "1742-6")], valueQuantity={"value": 1})
    intake = build(body)
    [warning] = [w for w in intake.warnings if w["kind"] == "conflict"]
    assert warning["resource"] == "Observation/o1"
    assert f"{LOINC}|2160-0 -> labs.creatinine" in warning["detail"]
    assert f"{LOINC}|1742-6 -> labs.alt" in warning["detail"]


def test_a_referenced_medication_whose_code_is_unmapped_is_counted_unmapped(tmp_path: Path) -> None:
    """Section 7: ``used`` means mapped and usable; a Medication with no mapped code is ``unmapped``."""
    medication = {"resourceType": "Medication", "id": "m1", "code": {"coding": [coding(RXNORM, "999999")]}}
    taken = {k: v for k, v in statement("s1", []).items() if k != "medicationCodeableConcept"}
    taken["medicationReference"] = {"reference": "Medication/m1"}
    lines = [patient(), medication, taken]
    (tmp_path / "a.ndjson").write_text("".join(json.dumps(b) + "\n" for b in lines))
    run = run_intake([tmp_path / "a.ndjson"], D, load_concept_map(), tmp_path / "out")
    counts = run.report["resources"]
    assert counts["Medication"] == {"read": 1, "used": 0, "unmapped": 1, "ignored": {}}
    assert counts["MedicationStatement"] == {"read": 1, "used": 0, "unmapped": 1, "ignored": {}}


def test_a_json_file_holding_one_resource_reports_one_read(tmp_path: Path) -> None:
    """Section 7: per file, what was read; a .json file holding one resource (not a Bundle) read one."""
    (tmp_path / "p.json").write_text(json.dumps(patient()))
    run = run_intake([tmp_path / "p.json"], D, load_concept_map(), tmp_path / "out")
    [report] = run.report["files"]
    assert (report["read"], report["resources"]) == (1, 1)
