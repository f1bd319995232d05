"""``nmocart prescreen`` with the DuckDB engine: outputs checked against what they are computed from."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.screening.protocol import load_protocol
from tests.population.conftest import OUTPUTS, SCREENING_DATE, input_paths, prescreen

EXCLUDING = {"not_met", "present"}


def _results(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (out / "results.ndjson").read_bytes().splitlines()]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _criteria(result: dict[str, object]) -> list[dict[str, object]]:
    criteria = result["criteria"]
    assert isinstance(criteria, list)
    return criteria


def _verdict(result: dict[str, object], cid: str) -> object:
    return next(c["verdict"] for c in _criteria(result) if c["id"] == cid)


def test_worked_example_gives_its_record_sources_and_decision(shared_dir: Path, tmp_path: Path) -> None:
    examples = shared_dir / "spec" / "fhir" / "examples"
    out = tmp_path / "out"
    assert prescreen([str(examples / "eligible.fhir.bundle.json")], out, "--jobs", "1") == 0
    records = (out / "records.ndjson").read_bytes().splitlines()
    assert [orjson.loads(r) for r in records] == [
        json.loads((examples / "eligible.fhir.expected-record.json").read_text())
    ]
    sources = (out / "sources.ndjson").read_bytes().splitlines()
    assert [orjson.loads(s) for s in sources] == [
        json.loads((examples / "eligible.fhir.expected-sources.json").read_text())
    ]
    (result,) = _results(out)
    assert result["decision"] == "eligible"
    in2 = next(c for c in _criteria(result) if c["id"] == "IN2")
    assert in2["evidence_fhir"]["/antibody_tests/0"] == ["Observation/obs-aqp4-cba"]  # type: ignore[index]
    assert in2["evidence_fhir"]["/attacks/2"] == [  # type: ignore[index]
        "Condition/cond-attack-3a",
        "Condition/cond-attack-3b",
    ]


def test_intake_files_are_those_of_fhir_records(mixed_input: Path, duckdb_out: Path, tmp_path: Path) -> None:
    records_out = tmp_path / "records"
    result = CliRunner().invoke(
        app,
        [
            "fhir",
            "records",
            *input_paths(mixed_input),
            "--screening-date",
            SCREENING_DATE,
            "--out",
            str(records_out),
        ],
    )
    assert result.exit_code == 2
    for name in ("records.ndjson", "sources.ndjson", "intake-report.json"):
        assert (duckdb_out / name).read_bytes() == (records_out / name).read_bytes(), name


def test_every_patient_is_accounted_for_and_bad_input_reported(duckdb_out: Path) -> None:
    report = orjson.loads((duckdb_out / "intake-report.json").read_bytes())
    results = _results(duckdb_out)
    rejected = {(r["patient"], r["reason"]) for r in report["patients"]["rejected"]}
    assert ("nosex-1", "sex_unknown") in rejected
    assert ("dup-1", "duplicate_id") in rejected
    unscreened = [r for r in results if r["decision"] is None]
    assert sum(len(r["patients"]) for r in unscreened) == len(report["patients"]["rejected"])  # type: ignore[misc, arg-type]
    screened = [r for r in results if r["decision"] is not None]
    assert len(screened) == report["patients"]["records_built"]
    assert report["patients"]["read"] == len(report["patients"]["rejected"]) + len(screened)
    lonely = next(r for r in screened if r["candidate_id"] == "lonely-1")
    assert lonely["decision"] == "incomplete"
    errors = {(Path(e["file"]).name, e["line"]) for f in report["files"] for e in f["parse_errors"]}
    assert {("bad.ndjson", 3), ("bad.ndjson", 9), ("bad.ndjson", 10)} <= errors
    assert any(o["resource"] == "Observation/orphan-1" for o in report["orphans"])
    assert report["resources"]["Basic"]["ignored"] == {"type_not_read": 1}
    for counts in report["resources"].values():
        assert counts["read"] == counts["used"] + counts["unmapped"] + sum(counts["ignored"].values())


def test_attrition_matches_results(duckdb_out: Path) -> None:
    screened = [r for r in _results(duckdb_out) if r["decision"] is not None]
    order = [c.id for c in load_protocol().criteria]
    rows = _csv(duckdb_out / "attrition.csv")
    assert [r["criterion"] for r in rows] == ["", *order]
    assert int(rows[0]["remaining"]) == len(screened)
    remaining = list(screened)
    for row, cid in zip(rows[1:], order, strict=True):
        verdicts = Counter(_verdict(r, cid) for r in screened)
        assert int(row["excluding"]) == verdicts["not_met"] + verdicts["present"]
        assert int(row["unknown"]) == verdicts["unknown"]
        assert int(row["passing"]) == verdicts["met"] + verdicts["absent"]
        assert int(row["not_applicable"]) == verdicts["not_applicable"]
        remaining = [
            r
            for r in remaining
            if next(c["verdict"] for c in _criteria(r) if c["id"] == cid) not in EXCLUDING
        ]
        assert int(row["remaining"]) == len(remaining)
        alone = [r for r in screened if [c["id"] for c in _criteria(r) if c["verdict"] in EXCLUDING] == [cid]]
        assert int(row["excluded_by_this_alone"]) == len(alone)
    assert int(rows[-1]["remaining"]) == sum(1 for r in screened if r["decision"] != "ineligible")


def test_worklist_matches_results(duckdb_out: Path) -> None:
    open_cases = [r for r in _results(duckdb_out) if r["decision"] in ("eligible", "incomplete")]
    rows = _csv(duckdb_out / "worklist.csv")
    assert {r["candidate_id"] for r in rows} == {r["candidate_id"] for r in open_cases}
    by_id = {r["candidate_id"]: r for r in open_cases}
    keys = []
    for rank, row in enumerate(rows, start=1):
        result = by_id[row["candidate_id"]]
        unknown = [c["id"] for c in _criteria(result) if c["verdict"] == "unknown"]
        assert int(row["rank"]) == rank
        assert row["decision"] == result["decision"]
        assert row["unknown_criteria"].split() == unknown
        assert int(row["unknown_count"]) == len(unknown)
        assert row["data_to_settle"] == " | ".join(result["missing"])  # type: ignore[arg-type]
        keys.append((row["decision"] != "eligible", len(unknown), row["candidate_id"]))
    assert keys == sorted(keys)
    assert rows[0]["candidate_id"] == "SCR-0001"


def test_coverage_matches_the_intake_report(duckdb_out: Path) -> None:
    report = orjson.loads((duckdb_out / "intake-report.json").read_bytes())
    rows = _csv(duckdb_out / "coverage.csv")
    by_type = {r["resource_type"]: r for r in rows if not r["system"]}
    assert set(by_type) == set(report["resources"])
    for rtype, counts in report["resources"].items():
        row = by_type[rtype]
        assert int(row["read"]) == counts["read"]
        assert int(row["used"]) == counts["used"]
        assert int(row["unmapped"]) == counts["unmapped"]
        assert int(row["ignored"]) == sum(counts["ignored"].values())
    unmapped: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        if row["system"]:
            unmapped[(row["resource_type"], row["system"], row["code"])] += int(row["unmapped"])
    for code in report["unmapped_codes"]:
        assert unmapped[(code["resource_type"], code["system"], code["code"])] == code["count"]
    html = (duckdb_out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html
    assert "SCR-0001" in html
    assert "<script" not in html


@pytest.mark.parametrize("jobs", ["2"])
def test_line_order_and_workers_never_change_the_bytes(
    mixed_input: Path, duckdb_out: Path, tmp_path: Path, jobs: str
) -> None:
    shuffled = tmp_path / "shuffled"
    (shuffled / "population").mkdir(parents=True)
    for path in sorted((mixed_input / "population").iterdir()):
        lines = path.read_bytes().splitlines(keepends=True)
        (shuffled / "population" / path.name).write_bytes(b"".join(reversed(lines)))
    (shuffled / "example.json").write_bytes((mixed_input / "example.json").read_bytes())
    (shuffled / "bad.ndjson").write_bytes((mixed_input / "bad.ndjson").read_bytes())
    out = tmp_path / "out"
    assert prescreen(input_paths(shuffled), out, "--jobs", jobs) == 2
    for name in OUTPUTS:
        expected = (duckdb_out / name).read_bytes().replace(str(mixed_input).encode(), b"<root>")
        assert (out / name).read_bytes().replace(str(shuffled).encode(), b"<root>") == expected, name


def test_existing_output_folder_is_replaced_whole(mixed_input: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    assert prescreen([str(mixed_input / "example.json")], out, "--jobs", "1") == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_synthea_exports_prescreen_with_every_patient_accounted_for(shared_dir: Path, tmp_path: Path) -> None:
    synthea = shared_dir / "reference" / "fhir-synthea"
    paths = [str(synthea / "bulk-10-patients"), str(synthea / "hiv-bundles")]
    out = tmp_path / "out"
    assert prescreen(paths, out, "--jobs", "1") == 2
    report = orjson.loads((out / "intake-report.json").read_bytes())
    patients = report["patients"]
    results = _results(out)
    assert patients["read"] == patients["records_built"] + len(patients["rejected"]) == len(results)
    assert any(Path(f["file"]).name == "log.ndjson" and f["parse_errors"] for f in report["files"])
    assert report["unmapped_codes"]
    records_out = tmp_path / "records"
    arguments = ["fhir", "records", *paths, "--screening-date", SCREENING_DATE, "--out", str(records_out)]
    assert CliRunner().invoke(app, arguments).exit_code == 2
    for name in ("records.ndjson", "sources.ndjson", "intake-report.json"):
        assert (out / name).read_bytes() == (records_out / name).read_bytes(), name


def test_a_consulted_medication_without_a_mapped_coding_counts_as_in_fhir_records(tmp_path: Path) -> None:
    """One rule for Medications in both commands: consulted but unmapped is ``unmapped``, not ``used``."""
    source = tmp_path / "input.ndjson"
    resources: list[dict[str, object]] = [
        {
            "resourceType": "Patient",
            "id": "P1",
            "gender": "female",
            "birthDate": "1990-01-02",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/P1"},
            "medicationReference": {"reference": "Medication/m1"},
            "authoredOn": "2026-01-05",
        },
        {
            "resourceType": "Medication",
            "id": "m1",
            "code": {"coding": [{"system": "http://example.org/drugs", "code": "not-in-the-map"}]},
        },
        {
            "resourceType": "Medication",
            "id": "m2",
            "code": {"coding": [{"system": "http://example.org/drugs", "code": "nobody-points-here"}]},
        },
    ]
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    prescreen([str(source)], tmp_path / "prescreen")
    records = CliRunner().invoke(
        app,
        [
            "fhir",
            "records",
            str(source),
            "--screening-date",
            SCREENING_DATE,
            "--out",
            str(tmp_path / "records"),
        ],
    )
    assert records.exception is None or isinstance(records.exception, SystemExit)
    report = (tmp_path / "prescreen" / "intake-report.json").read_bytes()
    assert report == (tmp_path / "records" / "intake-report.json").read_bytes()
    medications = orjson.loads(report)["resources"]["Medication"]
    assert medications == {"read": 2, "used": 0, "unmapped": 1, "ignored": {"unreferenced": 1}}


@pytest.mark.parametrize("reverse", [False, True])
def test_copies_of_a_medication_id_resolve_as_in_fhir_records_in_any_order(
    tmp_path: Path, reverse: bool
) -> None:
    """Two Medications share an id: both commands use the copy of least JSON text, in any line order."""
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    resources: list[dict[str, object]] = [
        {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1990-01-02"},
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/P1"},
            "medicationReference": {"reference": "Medication/m1"},
            "authoredOn": "2026-01-05",
        },
        {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": rxnorm, "code": "8640"}]}},
        {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": rxnorm, "code": "3264"}]}},
    ]
    if reverse:
        resources.reverse()
    source = tmp_path / "input.ndjson"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    assert (
        prescreen([str(source)], tmp_path / "prescreen", "--jobs", "1") == 2
    )  # the duplicate id is reported
    arguments = [
        "fhir",
        "records",
        str(source),
        "--screening-date",
        SCREENING_DATE,
        "--out",
        str(tmp_path / "r"),
    ]
    assert CliRunner().invoke(app, arguments).exit_code == 2
    record = (tmp_path / "prescreen" / "records.ndjson").read_bytes()
    assert record == (tmp_path / "r" / "records.ndjson").read_bytes()
    assert orjson.loads(record)["medications"][0]["name"] == "dexamethasone"  # code 3264 sorts first
