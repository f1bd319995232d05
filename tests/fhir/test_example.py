"""The worked example of spec fhir.md: exactly its expected record and sources, and its decision."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import orjson
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.grouping import run_intake
from nmocart.fhir.intake import screening_record
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import ScreeningRecord, parse_record

runner = CliRunner()


def _fhir_examples(shared_dir: Path) -> Path:
    return shared_dir / "spec" / "fhir" / "examples"


def test_example_builds_exactly_the_expected_record_and_sources(shared_dir: Path, tmp_path: Path) -> None:
    examples = _fhir_examples(shared_dir)
    run = run_intake(
        [examples / "eligible.fhir.bundle.json"], dt.date(2026, 6, 30), load_concept_map(), tmp_path
    )
    records = (tmp_path / "records.ndjson").read_bytes().splitlines()
    sources = (tmp_path / "sources.ndjson").read_bytes().splitlines()
    assert len(records) == 1
    assert len(sources) == 1
    assert json.loads(records[0]) == json.loads((examples / "eligible.fhir.expected-record.json").read_text())
    assert json.loads(sources[0]) == json.loads(
        (examples / "eligible.fhir.expected-sources.json").read_text()
    )
    # The form's screening date wins over the run's default date.
    assert json.loads(records[0])["screening_date"] == "2026-03-02"
    assert not run.reported


def test_example_report_counts_every_resource_once(shared_dir: Path, tmp_path: Path) -> None:
    run = run_intake(
        [_fhir_examples(shared_dir) / "eligible.fhir.bundle.json"],
        dt.date(2026, 3, 2),
        load_concept_map(),
        tmp_path,
    )
    resources = run.report["resources"]
    for counts in resources.values():
        assert counts["read"] == counts["used"] + counts["unmapped"] + sum(counts["ignored"].values())
    assert sum(c["read"] for c in resources.values()) == 29  # the Bundle's 29 entries
    assert resources["Observation"]["ignored"] == {"status:preliminary": 1}
    assert resources["Observation"]["unmapped"] == 1  # haemoglobin
    assert resources["Condition"]["ignored"] == {"status:refuted": 1}
    assert resources["Encounter"]["ignored"] == {"type_not_read": 1}
    assert resources["Medication"] == {"read": 1, "used": 1, "unmapped": 0, "ignored": {}}
    assert run.report["unmapped_codes"] == [
        {
            "resource_type": "Observation",
            "system": "http://loinc.org",
            "code": "718-7",
            "display": "Hemoglobin [Mass/volume] in Blood",
            "count": 1,
        }
    ]
    assert run.report["concept_map_sha256"] == load_concept_map().sha256


def test_example_screens_eligible_like_the_json_example(shared_dir: Path) -> None:
    record = json.loads((_fhir_examples(shared_dir) / "eligible.fhir.expected-record.json").read_text())
    expected = json.loads((shared_dir / "spec" / "examples" / "eligible.expected.json").read_text())
    protocol = load_protocol()
    result = screen(ScreeningRecord.model_validate_json(json.dumps(record)), protocol)
    assert result.decision == expected["decision"] == "eligible"
    assert {c.id: c.verdict for c in result.criteria} == expected["verdicts"]


def test_record_from_fhir_screens_equal_to_the_same_record_as_json(shared_dir: Path, tmp_path: Path) -> None:
    run_intake(
        [_fhir_examples(shared_dir) / "eligible.fhir.bundle.json"],
        dt.date(2026, 3, 2),
        load_concept_map(),
        tmp_path,
    )
    line = (tmp_path / "records.ndjson").read_bytes().splitlines()[0]
    protocol = load_protocol()
    from_fhir = screen(screening_record(orjson.loads(line)), protocol)
    from_json = screen(parse_record(line), protocol)
    assert from_fhir.as_dict() == from_json.as_dict()
    # And the hand-written JSON example of the same candidate gets the same verdicts.
    by_hand = screen(
        parse_record((shared_dir / "spec" / "examples" / "eligible.json").read_bytes()), protocol
    )
    assert [(c.id, c.verdict) for c in from_fhir.criteria] == [(c.id, c.verdict) for c in by_hand.criteria]


def test_cli_records_on_the_example(shared_dir: Path, tmp_path: Path) -> None:
    bundle = _fhir_examples(shared_dir) / "eligible.fhir.bundle.json"
    result = runner.invoke(
        app, ["fhir", "records", str(bundle), "--screening-date", "2026-03-02", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "screening date: 2026-03-02" in result.stderr
    assert "1 records built" in result.stderr
    report = json.loads((tmp_path / "intake-report.json").read_text())
    assert report["screening_date_default"] == "2026-03-02"
    screened = runner.invoke(app, ["screen", str(tmp_path / "records.ndjson")])
    assert screened.exit_code == 0
    assert json.loads(screened.stdout)["decision"] == "eligible"


def test_cli_default_screening_date_is_today_and_printed(shared_dir: Path, tmp_path: Path) -> None:
    bundle = _fhir_examples(shared_dir) / "eligible.fhir.bundle.json"
    result = runner.invoke(app, ["fhir", "records", str(bundle), "--out", str(tmp_path)])
    assert f"screening date (default, today): {dt.date.today().isoformat()}" in result.stderr
    report = json.loads((tmp_path / "intake-report.json").read_text())
    assert report["screening_date_default"] == dt.date.today().isoformat()


def test_cli_rejects_a_bad_screening_date(shared_dir: Path, tmp_path: Path) -> None:
    bundle = _fhir_examples(shared_dir) / "eligible.fhir.bundle.json"
    result = runner.invoke(
        app, ["fhir", "records", str(bundle), "--screening-date", "2026-02-30", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--screening-date" in result.stderr
    assert "Traceback" not in result.output
