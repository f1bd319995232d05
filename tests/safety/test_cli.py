from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from typer.testing import CliRunner

from nmocart.cli.safety import app

from .helpers import crs_item, day, icans_item, ice, lab_item, record_dict

runner = CliRunner()


def write(path: Path, obj: object) -> str:
    path.write_bytes(orjson.dumps(obj))
    return str(path)


def good_record(subject: str = "S-001") -> dict[str, object]:
    return record_dict(
        subject_id=subject,
        crs_assessments=[
            crs_item(date=day(1), temperature_c=38.6),
            crs_item(date=day(2), temperature_c=38.9, hypotension=True, vasopressors=1),
            crs_item(date=day(3), temperature_c=37.1),
        ],
        icans_assessments=[icans_item(date=day(4), ice=ice(8)), icans_item(date=day(5), ice=None)],
        labs=[
            lab_item("anc", 3.1, "10^9/L", -7, lower_limit=1.8, upper_limit=7.7),
            lab_item("anc", 400, "/uL", 2, lower_limit=1800, upper_limit=7700),
            lab_item("alt", 50, "U/L", 3),
            lab_item("igg", 3.5, "g/L", 28),
        ],
    )


def test_grade_single_file_has_the_issue_shape(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grade", write(tmp_path / "s.json", good_record())])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert out["subject_id"] == "S-001"
    crs = out["crs"]
    assert [a["grade"] for a in crs["assessments"]] == [1, 3, 0]
    assert set(crs["assessments"][0]) >= {"date", "study_day", "grade"}
    assert (crs["max_grade"], crs["onset_day"], crs["duration_days"]) == (3, 1, 2)
    icans = out["icans"]
    assert [a["ice_score"] for a in icans["assessments"]] == [8, None]
    assert (icans["max_grade"], icans["onset_day"], icans["duration_days"]) == (1, 4, 1)
    labs = out["labs"]
    assert [(x["index"], x["test"], x["grade"]) for x in labs] == [(1, "anc", 4), (2, "alt", None)]
    assert labs[1]["reason"].startswith("upper_limit (ULN) is missing")
    assert labs[0]["baseline"]["index"] == 0
    assert set(labs[0]) >= {"index", "test", "term", "grade", "baseline"}
    assert out["worst_lab_grades"] == {
        "Alanine aminotransferase increased": None,
        "Neutrophil count decreased": 4,
    }
    assert set(out["icaht"]) >= {"early_grade", "late_grade"}
    assert out["hypogammaglobulinemia"] is True
    assert out["parameters"]["version"] == "2"
    assert len(out["parameters"]["sha256"]) == 64


def test_no_episode_gives_grade_0_and_null_days(tmp_path: Path) -> None:
    rec = record_dict(crs_assessments=[crs_item()], icans_assessments=None, labs=None)
    out = orjson.loads(runner.invoke(app, ["grade", write(tmp_path / "s.json", rec)]).stdout)
    assert (out["crs"]["max_grade"], out["crs"]["onset_day"], out["crs"]["duration_days"]) == (
        0,
        None,
        None,
    )
    assert out["icans"]["max_grade"] is None  # not collected stays unknown
    assert out["hypogammaglobulinemia"] is None
    assert out["icaht"]["early_grade"] is None
    assert out["labs"] is None  # not collected: unknown, not "no results"
    assert out["worst_lab_grades"] is None
    text = runner.invoke(app, ["grade", "--format", "text", write(tmp_path / "s.json", rec)]).stdout
    assert "labs: not collected" in text


def test_labs_collected_empty_are_an_empty_list(tmp_path: Path) -> None:
    rec = record_dict(crs_assessments=[crs_item()], labs=[])
    out = orjson.loads(runner.invoke(app, ["grade", write(tmp_path / "s.json", rec)]).stdout)
    assert out["labs"] == []
    assert out["worst_lab_grades"] == {}


def test_several_files_give_ndjson_and_a_bad_record_gives_exit_2(tmp_path: Path) -> None:
    bad = good_record("S-002")
    bad["labs"] = [lab_item("creatinine", 1.0, "mmol/L", 3)]
    files = [
        write(tmp_path / "a.json", good_record("S-001")),
        write(tmp_path / "b.json", bad),
        str(tmp_path / "missing.json"),
        write(tmp_path / "c.json", good_record("S-003")),
    ]
    result = runner.invoke(app, ["grade", *files])
    assert result.exit_code == 2
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("subject_id") for line in lines] == ["S-001", "S-002", None, "S-003"]
    assert lines[1]["error"] == (
        "labs[0].unit: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L"
    )
    assert lines[1]["source"].endswith("b.json")
    assert "cannot read the file" in lines[2]["error"]
    assert "Traceback" not in result.output


def test_stdin_ndjson_and_bad_json_line() -> None:
    stdin = orjson.dumps(good_record()) + b"\n{not json\n"
    result = runner.invoke(app, ["grade", "-"], input=stdin)
    assert result.exit_code == 2
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["subject_id"] == "S-001"
    assert lines[1]["source"] == "<stdin>:2"
    assert "error" in lines[1]


def test_text_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["grade", "--format", "text", write(tmp_path / "s.json", good_record())])
    assert result.exit_code == 0
    assert "CRS: max grade 3, onset day 1, 2 days" in result.stdout
    assert "Neutrophil count decreased: worst grade 4" in result.stdout


def test_same_input_same_output_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", good_record())
    first = runner.invoke(app, ["grade", path, path]).stdout
    second = runner.invoke(app, ["grade", path, path]).stdout
    assert first == second


def test_module_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(record_dict(crs_assessments=[crs_item(oxygen="nasal_cannula")])))
    proc = subprocess.run(
        [sys.executable, "-m", "nmocart", "safety", "grade", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "crs_assessments[0].oxygen_flow_l_min" in proc.stderr


def test_report_command_writes_files_and_lists_bad_records(tmp_path: Path) -> None:
    bad = good_record("S-002")
    bad["crs_assessments"] = [crs_item(date=day(-2))]
    files = [write(tmp_path / "a.json", good_record("S-001")), write(tmp_path / "b.json", bad)]
    result = runner.invoke(app, ["report", *files, "--out", str(tmp_path / "rep")])
    assert result.exit_code == 2
    assert (tmp_path / "rep" / "report.html").exists()
    assert "crs_assessments[0].date" in result.stderr
    graded = (tmp_path / "rep" / "graded.ndjson").read_bytes().splitlines()
    assert [orjson.loads(line)["subject_id"] for line in graded] == ["S-001"]


def test_report_into_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(
        app, ["report", write(tmp_path / "a.json", good_record()), "--out", str(blocker / "rep")]
    )
    assert result.exit_code == 2
    assert "is a file, so the folder cannot be created" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
