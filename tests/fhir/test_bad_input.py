"""Bad input is reported with file and line, the run goes on, exit 2, and nothing is lost."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.grouping import run_intake

from .fhir_builders import RXNORM, lab, patient

runner = CliRunner()
D = dt.date(2026, 3, 2)


def _line(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _messy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [
        _line(patient("P1")),  # 1
        b'{"resourceType": "Observation", ',  # 2 malformed
        b"[1, 2]",  # 3 not an object
        b"",  # 4 blank: skipped
        b'{"foo": 1}',  # 5 no resourceType
        _line(lab("orphan", "2160-0", 1.0, "mg/dL", subject="Patient/ghost")),  # 6 missing patient
        _line(lab("o1", "2160-0", 1.0, "mg/dL", subject="Patient/P1")),  # 7
        _line(lab("o1", "2160-0", 1.2, "mg/dL", subject="Patient/P1")),  # 8 duplicate id
        b'{"resourceType": "Observation", "id": "bad\xff\xfe"}',  # 9 not UTF-8
        _line({"resourceType": "Frobnicator", "id": "x"}),  # 10 unknown type
        _line(patient("P2", sex="M")),  # 11 a Patient alone
        _line({"resourceType": "Observation", "id": "nosubject", "status": "final"}),  # 12 no subject
        _line(patient("P3")),  # 13
    ]
    (folder / "a.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    with gzip.open(folder / "b.ndjson.gz", "wb") as handle:
        handle.write(_line(patient("P3", sex="M")) + b"\n")  # duplicate Patient id
        handle.write(_line(lab("o9", "2160-0", 1.0, "mg/dL", subject="Patient/P2")) + b"\n")
    nameless = patient("u-1")
    del nameless["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:u-1", "resource": nameless},
            {"request": {"method": "DELETE", "url": "Patient/x"}},  # no resource
            {
                "fullUrl": "urn:uuid:o-1",
                "resource": lab("o-1", "2160-0", 1.0, "mg/dL", subject="urn:uuid:u-1"),
            },
            {"resource": {"resourceType": "Bundle", "entry": [{"resource": patient("P4")}]}},  # nested Bundle
        ],
    }
    (folder / "c.json").write_text(json.dumps(bundle))
    (folder / "d.json").write_bytes(b"not json at all")
    (folder / "README.txt").write_text("not FHIR")
    return folder


def test_messy_export_is_reported_line_by_line_and_nothing_is_lost(tmp_path: Path) -> None:
    folder = _messy_folder(tmp_path)
    out = tmp_path / "out"
    run = run_intake([folder], D, load_concept_map(), out)
    report = run.report
    a = str(folder / "a.ndjson")
    errors = {(e["file"], e["line"]): e["error"] for f in report["files"] for e in f["parse_errors"]}
    assert set(errors) == {(a, 2), (a, 3), (a, 5), (a, 9), (str(folder / "d.json"), 1)}
    assert errors[(a, 2)].startswith("not JSON")
    assert "not a JSON object" in errors[(a, 3)]
    assert "no string resourceType" in errors[(a, 5)]
    assert errors[(a, 9)].startswith("not UTF-8")
    assert report["skipped_files"] == [
        {"file": str(folder / "README.txt"), "reason": "not .ndjson, .ndjson.gz, .jsonl or .json"}
    ]
    by_file = {f["file"]: f for f in report["files"]}
    assert by_file[a]["read"] == 12  # non-blank lines
    assert by_file[str(folder / "c.json")]["entries_without_resource"] == 1

    assert report["orphans"] == [
        {"resource": "Observation/nosubject", "file": a, "line": 12, "entry": "", "subject": None},
        {"resource": "Observation/orphan", "file": a, "line": 6, "entry": "", "subject": "Patient/ghost"},
    ]
    duplicates = {d["resource"]: d["copies"] for d in report["duplicate_ids"]}
    assert duplicates["Observation/o1"] == [
        {"file": a, "line": 7, "entry": ""},
        {"file": a, "line": 8, "entry": ""},
    ]
    assert [c["file"] for c in duplicates["Patient/P3"]] == [a, str(folder / "b.ndjson.gz")]

    patients = report["patients"]
    assert patients["read"] == 6  # P1, P2, P3 twice, u-1, P4
    assert patients["records_built"] == 4
    assert patients["rejected"] == [{"patient": "P3", "reason": "duplicate_id"}] * 2
    records = [json.loads(line) for line in (out / "records.ndjson").read_bytes().splitlines()]
    assert [r["candidate_id"] for r in records] == ["P1", "P2", "P4", "u-1"]
    assert [len(r["labs"] or []) for r in records] == [2, 1, 0, 1]

    resources = report["resources"]
    assert resources["Frobnicator"] == {"read": 1, "used": 0, "unmapped": 0, "ignored": {"type_not_read": 1}}
    for counts in resources.values():
        assert counts["read"] == counts["used"] + counts["unmapped"] + sum(counts["ignored"].values())
    resources_in_input = (
        8 + 2 + 3
    )  # a.ndjson's resources, b's two, c's three (the nested Bundle's one included)
    assert sum(c["read"] for c in resources.values()) == resources_in_input
    assert run.reported


def test_cli_exits_2_on_bad_input_and_says_why(tmp_path: Path) -> None:
    folder = _messy_folder(tmp_path)
    result = runner.invoke(
        app, ["fhir", "records", str(folder), "--screening-date", "2026-03-02", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "5 parse errors" in result.stderr
    assert "2 orphan resources" in result.stderr
    assert (tmp_path / "o" / "records.ndjson").exists()


def test_cli_refuses_a_missing_path_and_a_bad_concept_map(tmp_path: Path) -> None:
    result = runner.invoke(app, ["fhir", "records", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
    bad_map = tmp_path / "map.csv"
    bad_map.write_text("target,resource\n")
    folder = _messy_folder(tmp_path)
    result = runner.invoke(
        app, ["fhir", "records", str(folder), "--concept-map", str(bad_map), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "header must be exactly" in result.stderr


def test_named_file_of_unknown_kind_is_a_parse_error(tmp_path: Path) -> None:
    odd = tmp_path / "export.xml"
    odd.write_text("<Patient/>")
    run = run_intake([odd], D, load_concept_map(), tmp_path / "o")
    assert run.parse_errors == 1
    assert run.reported


def test_truncated_gzip_is_reported_and_the_lines_before_kept(tmp_path: Path) -> None:
    whole = gzip.compress(b"\n".join(_line(patient(f"P{i}")) for i in range(200)) + b"\n")
    broken = tmp_path / "p.ndjson.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    run = run_intake([broken], D, load_concept_map(), tmp_path / "o")
    errors = run.report["files"][0]["parse_errors"]
    assert len(errors) == 1
    assert "cannot read the file past here" in errors[0]["error"]
    assert 0 < run.report["patients"]["records_built"] < 200
    assert errors[0]["line"] == run.report["patients"]["records_built"] + 1


def test_clean_input_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "p.ndjson"
    data.write_bytes(_line(patient("P1")) + b"\n" + _line(lab("o1", "2160-0", 1.0, "mg/dL")) + b"\n")
    result = runner.invoke(
        app, ["fhir", "records", str(data), "--screening-date", "2026-03-02", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output


def test_medications_are_counted_used_or_unreferenced(tmp_path: Path) -> None:
    used = {
        "resourceType": "Medication",
        "id": "mp",
        "code": {"coding": [{"system": RXNORM, "code": "6902"}]},
    }
    spare = {
        "resourceType": "Medication",
        "id": "spare",
        "code": {"coding": [{"system": RXNORM, "code": "1256"}]},
    }
    request = {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "urn:uuid:p"},
        "medicationReference": {"reference": "urn:uuid:m"},
        "authoredOn": "2026-01-01",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:p", "resource": patient("P1")},
            {"fullUrl": "urn:uuid:m", "resource": used},
            {"fullUrl": "urn:uuid:r", "resource": request},
        ],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "m.ndjson").write_text(json.dumps(spare) + "\n")
    out = tmp_path / "out"
    run = run_intake([tmp_path / "b.json", tmp_path / "m.ndjson"], D, load_concept_map(), out)
    assert run.report["resources"]["Medication"] == {
        "read": 2,
        "used": 1,
        "unmapped": 0,
        "ignored": {"unreferenced": 1},
    }
    rec = json.loads((out / "records.ndjson").read_text())
    # No text, no display: the name is the map row's display.
    assert [(m["name"], m["drug_class"]) for m in rec["medications"]] == [
        ("methylprednisolone", "systemic_corticosteroid")
    ]
    assert not run.reported


def test_progress_bar_option_runs_to_the_end(tmp_path: Path) -> None:
    data = tmp_path / "p.ndjson"
    data.write_bytes(_line(patient("P1")) + b"\n")
    result = runner.invoke(
        app,
        [
            "fhir",
            "records",
            str(data),
            "--screening-date",
            "2026-03-02",
            "--out",
            str(tmp_path / "o"),
            "--progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 records built" in result.stderr
