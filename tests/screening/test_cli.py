"""``nmocart screen``, ``schema`` and ``protocol show`` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nmocart.cli import app

from .builders import base

runner = CliRunner()


def _write(tmp_path: Path, name: str, record: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(record))
    return str(path)


def test_single_file_gives_one_json_object(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", _write(tmp_path, "a.json", base())])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert list(document) == ["candidate_id", "protocol", "as_of", "decision", "criteria", "missing"]
    assert list(document["protocol"]) == ["id", "version", "parameters_sha256"]
    assert document["protocol"]["id"] == "CD19-CAR-T-NMOSD"
    assert document["protocol"]["version"] == "1"
    assert list(document["criteria"][0]) == ["id", "kind", "text", "verdict", "reason", "evidence", "missing"]
    assert document["decision"] == "eligible"


def test_as_of_is_recorded_and_used(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", base())
    result = runner.invoke(app, ["screen", path, "--as-of", "2026-04-30"])
    document = json.loads(result.stdout)
    assert document["as_of"] == "2026-04-30"
    verdicts = {c["id"]: c["verdict"] for c in document["criteria"]}
    assert verdicts["EX9"] == "unknown"  # the labs fall out of the 28-day window
    assert verdicts["IN5"] == "not_met"  # the 2024-04-18 relapse falls out of the 24 months
    assert document["decision"] == "ineligible"


def test_several_files_give_ndjson_and_go_on_past_bad_records(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.json", base())
    broken = base()
    broken["labs"][3]["unit"] = "mmol/L"
    bad = _write(tmp_path, "bad.json", broken)
    other = _write(tmp_path, "other.json", {**base(), "candidate_id": "SCR-0002"})
    result = runner.invoke(app, ["screen", good, bad, other])
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["decision"] == "eligible"
    assert lines[2]["decision"] == "eligible"
    assert lines[2]["candidate_id"] == "SCR-0002"
    assert lines[1] == {
        "source": bad,
        "candidate_id": "SCR-0001",
        "error": "labs[3].unit: 'mmol/L' is not a unit for total_bilirubin; use mg/dL, umol/L or µmol/L",
    }


def test_stdin_ndjson(tmp_path: Path) -> None:
    text = json.dumps(base()) + "\n\n" + "{not json\n" + json.dumps(base("ineligible")) + "\n"
    result = runner.invoke(app, ["screen", "-"], input=text)
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("decision") for line in lines] == ["eligible", None, "ineligible"]
    assert lines[1]["source"] == "<stdin>:3"
    assert "candidate_id" not in lines[1]


def test_all_valid_batch_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "batch.ndjson"
    path.write_text("".join(json.dumps(base(n)) + "\n" for n in ("eligible", "ineligible", "incomplete")))
    result = runner.invoke(app, ["screen", str(path)])
    assert result.exit_code == 0
    assert [json.loads(x)["candidate_id"] for x in result.stdout.splitlines()] == [
        "SCR-0001",
        "SCR-0002",
        "SCR-0003",
    ]


def test_jobs_give_the_same_bytes_in_the_same_order(tmp_path: Path) -> None:
    path = tmp_path / "batch.ndjson"
    records = []
    for i in range(1200):
        record = base(("eligible", "ineligible", "incomplete")[i % 3])
        record["candidate_id"] = f"C{i:05d}"
        records.append(json.dumps(record))
    records[700] = "{broken"
    path.write_text("\n".join(records) + "\n")
    one = runner.invoke(app, ["screen", str(path), "--jobs", "1"])
    two = runner.invoke(app, ["screen", str(path), "--jobs", "2"])
    assert one.exit_code == two.exit_code == 2
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 1200


def test_unreadable_file_is_reported_not_dropped(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.json", base())
    result = runner.invoke(app, ["screen", good, str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["error"].startswith("cannot read the file")


def test_single_bad_file_json_error_object(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", _write(tmp_path, "a.json", {"candidate_id": "X"})])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["candidate_id"] == "X"
    assert "screening_date: required field is missing" in document["error"]
    assert "Traceback" not in result.output


def test_text_checklist(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["screen", _write(tmp_path, "a.json", base("incomplete")), "--format", "text"]
    )
    assert result.exit_code == 0
    for word in ("SCR-0003", "INCOMPLETE", "EX12", "unknown", "To do", "/tcell_proliferation"):
        assert word in result.stdout


def test_html_page_is_self_contained_and_complete(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["screen", _write(tmp_path, "a.json", base("ineligible")), "--format", "html"]
    )
    assert result.exit_code == 0
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "http" not in page.replace("http-equiv", "")
    for text in (
        "SCR-0002",
        "INELIGIBLE",
        "CD19-CAR-T-NMOSD version 1",
        "Signature",
        "EX6",
        "/ecgs/0",
        "Electrocardiogram shows prolonged QT interval",
    ):
        assert text in page


def test_html_out_folder_writes_one_page_per_candidate(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"{n}.json", base(n)) for n in ("eligible", "ineligible")]
    result = runner.invoke(app, ["screen", *paths, "--format", "html", "--out", str(tmp_path / "pages")])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["SCR-0001.html", "SCR-0002.html"]


def test_bad_as_of_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", _write(tmp_path, "a.json", base()), "--as-of", "2026-02-30"])
    assert result.exit_code == 2
    assert "--as-of: '2026-02-30' is not a calendar date; write YYYY-MM-DD" in result.output


def test_schema_record_is_generated_from_the_models() -> None:
    result = runner.invoke(app, ["schema", "record"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "ScreeningRecord"
    assert set(schema["required"]) == {"candidate_id", "screening_date", "sex"}
    assert schema["additionalProperties"] is False
    assert "labs" in schema["properties"]


def test_protocol_show_prints_all_criteria_and_parameters() -> None:
    result = runner.invoke(app, ["protocol", "show"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["id"] == "CD19-CAR-T-NMOSD"
    assert document["version"] == "1"
    assert len(document["criteria"]) == 19
    assert document["parameters"]["relapse_merge_days"] == 30
    assert len(document["parameters_sha256"]) == 64
    text = runner.invoke(app, ["protocol", "show", "--format", "text"])
    assert "rituximab_coverage_days" in text.stdout
    assert "EX12" in text.stdout


def _amended(tmp_path: Path, **changes: Any) -> Path:
    result = runner.invoke(app, ["protocol", "show"])
    document = json.loads(result.stdout)
    del document["parameters_sha256"]
    document["version"] = "2"
    document["parameters"].update(changes)
    path = tmp_path / "amendment.json"
    path.write_text(json.dumps(document))
    return path


def test_protocol_file_changes_parameters_and_stamp(tmp_path: Path) -> None:
    amendment = _amended(tmp_path, age_max=40)
    record = _write(tmp_path, "a.json", base())  # 44 years old
    default = json.loads(runner.invoke(app, ["screen", record]).stdout)
    amended = json.loads(runner.invoke(app, ["screen", record, "--protocol", str(amendment)]).stdout)
    assert default["criteria"][0]["verdict"] == "met"
    assert amended["criteria"][0]["verdict"] == "not_met"
    assert amended["protocol"]["version"] == "2"
    assert amended["protocol"]["parameters_sha256"] != default["protocol"]["parameters_sha256"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age_min": 70}, "age_min 70 is above age_max 60"),
        ({"relapse_merge_days": "30"}, "relapse_merge_days"),
    ],
)
def test_bad_protocol_file_is_a_clear_error(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    amendment = _amended(tmp_path, **change)
    result = runner.invoke(app, ["screen", _write(tmp_path, "a.json", base()), "--protocol", str(amendment)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_progress_bar_never_mixes_into_the_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "batch.ndjson"
    path.write_text("".join(json.dumps(base(n)) + "\n" for n in ("eligible", "ineligible", "incomplete")))
    result = runner.invoke(app, ["screen", str(path), "--progress"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["candidate_id"].startswith("SCR-") for line in lines)
    assert "screening" in result.stderr
