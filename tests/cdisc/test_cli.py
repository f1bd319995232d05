"""``nmocart cdisc export``: spec section 1 (exit 0 written; exit 2 rejected, nothing written)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nmocart.cli import app

from .study import ENROLLED_ONLY_KINETICS, ENROLMENT, safety_records, write_study

runner = CliRunner()


def _args(paths: dict[str, Path], out: Path, *extra: str) -> list[str]:
    args = [
        "cdisc",
        "export",
        "--screening",
        str(paths["screening"]),
        "--safety",
        str(paths["safety"]),
        "--kinetics-samples",
        str(paths["kinetics"]),
        "--out",
        str(out),
    ]
    if "enrolment" in paths:
        args += ["--enrolment", str(paths["enrolment"])]
    return args + list(extra)


@pytest.fixture
def enrolled(tmp_path: Path) -> dict[str, Path]:
    return write_study(
        tmp_path / "in", safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS, enrolment=ENROLMENT
    )


def test_export_writes_every_file_warns_and_reports(enrolled: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sdtm"
    report = tmp_path / "report.html"
    res = runner.invoke(
        app, _args(enrolled, out, "--created", "2026-11-25T12:00:00", "--report", str(report))
    )
    assert res.exit_code == 0, res.output
    listed = res.stdout.splitlines()
    assert len(listed) == 15
    assert f"{out}/define.xml" in listed
    assert "warning:" in res.stderr
    assert "graded ASTCT maximum 2 is exported" in res.stderr
    page = report.read_text(encoding="utf-8")
    assert "VALID</b>: " in page
    assert "Define-XML 2.1 XSD" in page
    assert "FAIL" not in page
    doc = orjson.loads((out / "json" / "dm.json").read_bytes())
    assert doc["datasetJSONCreationDateTime"] == "2026-11-25T12:00:00"


def test_source_date_epoch_is_the_default_creation_time(
    enrolled: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    res = runner.invoke(app, _args(enrolled, tmp_path / "sdtm"))
    assert res.exit_code == 0, res.output
    assert orjson.loads((tmp_path / "sdtm" / "json" / "ti.json").read_bytes())[
        "datasetJSONCreationDateTime"
    ] == ("2026-01-01T00:00:00")
    assert 'CreationDateTime="2026-01-01T00:00:00"' in (tmp_path / "sdtm" / "define.xml").read_text("utf-8")


@pytest.mark.parametrize("created", ["2026-11-25", "2026-11-25T25:00:00", "yesterday"])
def test_a_bad_creation_time_is_rejected(enrolled: dict[str, Path], tmp_path: Path, created: str) -> None:
    res = runner.invoke(app, _args(enrolled, tmp_path / "sdtm", "--created", created))
    assert res.exit_code == 2
    assert "--created" in res.stderr
    assert "write YYYY-MM-DDThh:mm:ss" in res.stderr
    assert not (tmp_path / "sdtm").exists()


def test_rejected_input_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    safety = safety_records()
    safety[0]["sex"] = "female"
    paths = write_study(tmp_path / "in", safety=safety, enrolment=ENROLMENT)
    out = tmp_path / "sdtm"
    res = runner.invoke(app, _args(paths, out, "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    errors = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert any("sex 'female' differs from 'male'" in e for e in errors)
    assert any("safety subject 'SYN-900' is not enrolled" in e for e in errors)
    assert "Traceback" not in res.output
    assert "nothing was written" in res.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_invalid_records_are_reported_by_file_and_line(tmp_path: Path) -> None:
    paths = write_study(tmp_path / "in")
    paths["safety"].write_text(
        paths["safety"].read_text(encoding="utf-8") + '{"subject_id": "BAD-1", "sex": "other"}\n',
        encoding="utf-8",
    )
    res = runner.invoke(app, _args(paths, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    assert f"error: {paths['safety']}:3 (subject BAD-1):" in res.stderr
    assert not (tmp_path / "sdtm").exists()


def test_bad_enrolment_rows_are_named(tmp_path: Path) -> None:
    enrolment = (
        "candidate_id,subject_id,consent_date,enrolment_date\n"
        "SCR-0001,SUBJ-001,2026-03-06,2026-03-05\n"
        "SCR-0004,SUBJ-002,2026-03-01,\n"
        "SCR-0003,,2026-02-30,\n"
    )
    paths = write_study(
        tmp_path / "in", safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS, enrolment=enrolment
    )
    res = runner.invoke(app, _args(paths, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    where = paths["enrolment"]
    assert f"{where} row 2: consent_date 2026-03-06 is after enrolment_date 2026-03-05" in res.stderr
    assert f"{where} row 3: only one of subject_id and enrolment_date is filled" in res.stderr
    assert f"{where} row 4: consent_date '2026-02-30' is not a calendar date" in res.stderr


def test_a_wrong_enrolment_header_is_rejected(tmp_path: Path) -> None:
    paths = write_study(tmp_path / "in", enrolment="candidate,subject,consent,enrolment\n")
    res = runner.invoke(app, _args(paths, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    assert "the header must be exactly candidate_id,subject_id,consent_date,enrolment_date" in res.stderr


def test_a_non_empty_output_folder_is_refused(enrolled: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sdtm"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    res = runner.invoke(app, _args(enrolled, out, "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    assert "exists and is not an empty folder" in res.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_missing_input_file_is_named(enrolled: dict[str, Path], tmp_path: Path) -> None:
    enrolled["kinetics"] = tmp_path / "nowhere.csv"
    res = runner.invoke(app, _args(enrolled, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 2
    assert (
        f"error: {tmp_path / 'nowhere.csv'}: no such file; give the path of the kinetics sample CSV"
        in res.stderr
    )


def test_an_enrolled_candidate_who_is_not_eligible_is_a_warning(tmp_path: Path) -> None:
    safety = safety_records()[:1]
    safety[0]["sex"] = "female"
    enrolment = (
        "candidate_id,subject_id,consent_date,enrolment_date\nSCR-0003,SUBJ-001,2026-03-01,2026-03-05\n"
    )
    paths = write_study(tmp_path / "in", safety=safety, kinetics=ENROLLED_ONLY_KINETICS, enrolment=enrolment)
    res = runner.invoke(app, _args(paths, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 0, res.output
    assert (
        "warning: candidate SCR-0003 is enrolled as SUBJ-001 but its screening decision is incomplete"
        in res.stderr
    )


def test_a_failed_check_is_reported_and_nothing_is_written(
    enrolled: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nmocart.cdisc import export as export_module
    from nmocart.cdisc.validation import Check

    def broken(folder: Path) -> list[Check]:
        return [Check("forced failure", "dm.json", False, "for the test", ("row 0: bad",))]

    monkeypatch.setattr(export_module, "validate_export", broken)
    report = tmp_path / "report.html"
    res = runner.invoke(
        app, _args(enrolled, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00", "--report", str(report))
    )
    assert res.exit_code == 2
    assert "forced failure (dm.json): row 0: bad" in res.stderr
    assert not (tmp_path / "sdtm").exists()
    page = report.read_text(encoding="utf-8")
    assert "INVALID: nothing was written" in page
    assert "row 0: bad" in page


def test_ie_is_exactly_what_nmocart_screen_returns_for_the_same_file(
    enrolled: dict[str, Path], tmp_path: Path
) -> None:
    screened = runner.invoke(app, ["screen", str(enrolled["screening"])])
    assert screened.exit_code == 0, screened.output
    expected = sorted(
        (result["candidate_id"], criterion["id"])
        for result in map(orjson.loads, screened.stdout.splitlines())
        for criterion in result["criteria"]
        if criterion["verdict"] in ("not_met", "present")
    )
    res = runner.invoke(app, _args(enrolled, tmp_path / "sdtm", "--created", "2026-11-25T12:00:00"))
    assert res.exit_code == 0, res.output
    ie = orjson.loads((tmp_path / "sdtm" / "json" / "ie.json").read_bytes())
    names = [c["name"] for c in ie["columns"]]
    subject = {"CD19-CAR-T-NMOSD-SUBJ-001": "SCR-0001", "CD19-CAR-T-NMOSD-SUBJ-002": "SCR-0004"}
    got = sorted(
        (
            subject.get(
                row[names.index("USUBJID")], row[names.index("USUBJID")].removeprefix("CD19-CAR-T-NMOSD-")
            ),
            row[names.index("IESPID")],
        )
        for row in ie["rows"]
    )
    assert got == expected
    assert expected  # the ineligible example has exclusions present
