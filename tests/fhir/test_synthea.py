"""Third-party data no one here wrote: the Synthea Bulk Data export and transaction Bundles."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nmocart.fhir.concept_map import load_concept_map, map_resource_of
from nmocart.fhir.grouping import IntakeRun, run_intake
from nmocart.fhir.intake import screening_record
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol

RUN_DATE = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def synthea(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, IntakeRun]:
    base = shared_dir / "reference" / "fhir-synthea"
    out = tmp_path_factory.mktemp("synthea")
    run = run_intake([base / "bulk-10-patients", base / "hiv-bundles"], RUN_DATE, load_concept_map(), out)
    return base, out, run


def test_every_patient_is_accounted_for(synthea: tuple[Path, Path, IntakeRun]) -> None:
    _, out, run = synthea
    patients = run.report["patients"]
    assert patients["read"] == 16
    assert patients["records_built"] == 13
    assert [r["reason"] for r in patients["rejected"]] == ["deceased"] * 3
    records = (out / "records.ndjson").read_bytes().splitlines()
    ids = [json.loads(line)["candidate_id"] for line in records]
    assert len(ids) == 13
    assert ids == sorted(ids)
    assert not set(ids) & {r["patient"] for r in patients["rejected"]}
    sources = [
        json.loads(line)["candidate_id"] for line in (out / "sources.ndjson").read_bytes().splitlines()
    ]
    assert sources == ids


def test_log_lines_are_parse_errors_and_the_run_goes_on(synthea: tuple[Path, Path, IntakeRun]) -> None:
    base, _, run = synthea
    errors = [e for f in run.report["files"] for e in f["parse_errors"]]
    log = str(base / "bulk-10-patients" / "log.ndjson")
    assert [(e["file"], e["line"]) for e in errors] == [(log, n) for n in (1, 2, 3, 4)]
    assert run.reported


def test_every_resource_is_counted_once(synthea: tuple[Path, Path, IntakeRun]) -> None:
    base, _, run = synthea
    in_files: Counter[str] = Counter()
    for path in sorted((base / "bulk-10-patients").glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            body = json.loads(line)
            if "resourceType" in body:
                in_files[body["resourceType"]] += 1
    for path in sorted((base / "hiv-bundles").glob("*.json")):
        for entry in json.loads(path.read_bytes())["entry"]:
            in_files[entry["resource"]["resourceType"]] += 1
    resources = run.report["resources"]
    assert {t: c["read"] for t, c in resources.items()} == dict(in_files)
    for counts in resources.values():
        assert counts["read"] == counts["used"] + counts["unmapped"] + sum(counts["ignored"].values())
    for rtype in (
        "Encounter",
        "Procedure",
        "Claim",
        "ExplanationOfBenefit",
        "DiagnosticReport",
        "Immunization",
    ):
        assert resources[rtype]["ignored"] == {"type_not_read": in_files[rtype]}
    # The deceased patients' resources are counted, not dropped.
    assert resources["Condition"]["ignored"]["patient_rejected"] > 0
    assert resources["MedicationRequest"]["ignored"]["patient_rejected"] > 0


def _accepted_codes(base: Path, run: IntakeRun) -> Counter[tuple[str, str, str]]:
    """Independently: the unmapped (type, system, code) of the built patients' Conditions and requests."""
    concept_map = load_concept_map()
    rejected = {r["patient"] for r in run.report["patients"]["rejected"]}
    counts: Counter[tuple[str, str, str]] = Counter()
    for name, key in (("Condition", "code"), ("MedicationRequest", "medicationCodeableConcept")):
        for line in (base / "bulk-10-patients" / f"{name}.000.ndjson").read_bytes().splitlines():
            body: dict[str, Any] = json.loads(line)
            if body["subject"]["reference"].split("/")[-1] in rejected:
                continue
            codings = body[key]["coding"]
            kind = map_resource_of(name)
            assert kind is not None
            if not any(concept_map.lookup(kind, c["system"], c["code"]) for c in codings):
                counts.update((name, c["system"], c["code"]) for c in codings)
    return counts


def test_every_unmapped_code_is_counted(synthea: tuple[Path, Path, IntakeRun]) -> None:
    base, _, run = synthea
    reported = {
        (u["resource_type"], u["system"], u["code"]): u["count"]
        for u in run.report["unmapped_codes"]
        if u["resource_type"] in ("Condition", "MedicationRequest")
    }
    expected = _accepted_codes(base, run)
    # The Bundles hold one Condition each, from living patients.
    bundle_conditions = {k: v for k, v in reported.items() if k not in expected}
    assert sum(bundle_conditions.values()) <= 3
    assert {k: reported[k] for k in expected} == dict(expected)
    assert reported[("Condition", "http://snomed.info/sct", "160903007")] > 0  # full-time employment
    observations = [u for u in run.report["unmapped_codes"] if u["resource_type"] == "Observation"]
    assert sum(u["count"] for u in observations) == run.report["resources"]["Observation"]["unmapped"]
    counts = [u["count"] for u in run.report["unmapped_codes"]]
    assert counts == sorted(counts, reverse=True)


def test_stopped_requests_without_end_are_reported_open(synthea: tuple[Path, Path, IntakeRun]) -> None:
    _, _, run = synthea
    kinds = Counter(w["kind"] for w in run.report["warnings"])
    assert kinds["open_end_date"] > 0
    assert set(kinds) <= {"open_end_date", "sex_from_gender", "partial_birth_date"}


def test_every_record_validates_and_screens(synthea: tuple[Path, Path, IntakeRun]) -> None:
    _, out, _ = synthea
    protocol = load_protocol()
    decisions: Counter[str] = Counter()
    for line in (out / "records.ndjson").read_bytes().splitlines():
        result = screen(screening_record(json.loads(line)), protocol)
        decisions[result.decision] += 1
    assert sum(decisions.values()) == 13
    assert decisions["eligible"] == 0  # nobody has NMOSD
