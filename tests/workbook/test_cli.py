"""The workbook commands through the real command line: template, import, screen, safety synth, guide."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from openpyxl import Workbook
from typer.testing import CliRunner

from nmocart.batch.workbook import write_workbook
from nmocart.cli import app
from nmocart.demo import EXAMPLES, example_bytes
from nmocart.reports.record_guide import field_guide
from nmocart.safety.synthetic import synthetic_study
from nmocart.screening.record import parse_record

from .sheets import edited, example_records, set_cell

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def test_template_record_writes_the_blank_workbook(tmp_path: Path) -> None:
    out = tmp_path / "candidate.xlsx"
    result = runner.invoke(app, ["template", "record", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == write_workbook()
    assert result.stderr == f"wrote {out} (0 candidate(s))\n"


def test_template_record_with_the_examples_and_from_records(shared_dir: Path, tmp_path: Path) -> None:
    examples = example_records(shared_dir)
    shipped = tmp_path / "shipped.xlsx"
    assert runner.invoke(app, ["template", "record", "--examples", "--out", str(shipped)]).exit_code == 0
    assert shipped.read_bytes() == write_workbook([parse_record(example_bytes(name)) for name in EXAMPLES])
    batch = tmp_path / "two.ndjson"
    batch.write_bytes(b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in examples[1:]))
    filled = tmp_path / "filled.xlsx"
    args = ["template", "record", "--from", str(batch), "--out", str(filled)]
    assert runner.invoke(app, args).exit_code == 0
    assert filled.read_bytes() == write_workbook(examples[1:])


def test_template_record_never_overwrites_entered_data_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "candidate.xlsx"
    out.write_bytes(b"entered data")
    result = runner.invoke(app, ["template", "record", "--out", str(out)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: --out {out} exists and may hold entered data; choose another name or add --force\n"
    )
    assert out.read_bytes() == b"entered data"
    assert runner.invoke(app, ["template", "record", "--out", str(out), "--force"]).exit_code == 0
    assert out.read_bytes() == write_workbook()


def test_template_record_refuses_other_names_and_bad_records(tmp_path: Path) -> None:
    result = runner.invoke(app, ["template", "record", "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 2
    assert "the workbook must end in .xlsx" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"candidate_id": "X", "sex": "male"}')
    result = runner.invoke(app, ["template", "record", "--from", str(bad), "--out", str(tmp_path / "c.xlsx")])
    assert result.exit_code == 2
    assert f"rejected {bad}: screening_date: required field is missing; add it" in result.stderr
    assert not (tmp_path / "c.xlsx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]  # no workbook, no temporary file


def test_template_record_into_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "c.xlsx"
    result = runner.invoke(app, ["template", "record", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --out {out}: cannot write: ")
    assert result.stderr.count("\n") == 1


def test_import_gives_the_records_as_ndjson(shared_dir: Path, tmp_path: Path) -> None:
    examples = example_records(shared_dir)
    workbook = tmp_path / "c.xlsx"
    workbook.write_bytes(write_workbook(examples))
    result = runner.invoke(app, ["import", str(workbook)])
    assert result.exit_code == 0
    lines = result.stdout_bytes.splitlines()
    assert [json.loads(line) for line in lines] == [r.model_dump(mode="json") for r in examples]
    out = tmp_path / "records.ndjson"
    assert runner.invoke(app, ["import", str(workbook), "--out", str(out)]).exit_code == 0
    assert out.read_bytes() == result.stdout_bytes
    # and what import writes is what screen reads
    assert (
        runner.invoke(app, ["screen", str(out)]).stdout_bytes
        == runner.invoke(app, ["screen", str(workbook)]).stdout_bytes
    )


def test_import_reports_rejected_candidates_and_keeps_the_others(shared_dir: Path, tmp_path: Path) -> None:
    examples = example_records(shared_dir)

    def edit(wb: Workbook) -> None:
        set_cell(wb, "labs", "unit", 2, "mmol/L")

    workbook = tmp_path / "c.xlsx"
    workbook.write_bytes(edited(examples, edit))
    result = runner.invoke(app, ["import", str(workbook), str(tmp_path / "also.json")])
    assert result.exit_code == 2
    assert [json.loads(x)["candidate_id"] for x in result.stdout_bytes.splitlines()] == [
        "SCR-0003",
        "SCR-0002",
    ]
    errors = result.stderr.splitlines()
    assert json.loads(errors[0]) == {
        "source": f"{workbook}:candidate!A2",
        "candidate_id": "SCR-0001",
        "error": "labs!E2: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L",
    }
    assert json.loads(errors[1])["error"] == "import reads .xlsx workbooks; screen reads JSON"
    assert errors[2] == "2 candidate(s) rejected, 2 imported"


def test_screen_reports_a_bad_candidate_by_cell_and_goes_on(shared_dir: Path, tmp_path: Path) -> None:
    examples = example_records(shared_dir)

    def edit(wb: Workbook) -> None:
        set_cell(wb, "ecgs", "qtc_ms", 3, "long")

    workbook = tmp_path / "c.xlsx"
    workbook.write_bytes(edited(examples, edit))
    result = runner.invoke(app, ["screen", str(workbook)])
    assert result.exit_code == 2
    lines = [json.loads(x) for x in result.stdout_bytes.splitlines()]
    assert [x.get("decision") for x in lines] == ["eligible", None, "ineligible"]
    assert lines[1] == {
        "source": f"{workbook}:candidate!A3",
        "error": "ecgs!C3: 'long' is not a number; type digits with a decimal point, no unit or comma",
    }
    assert "1 record(s) rejected, 2 evaluated" in result.stderr


def test_screen_text_and_html_read_workbooks_too(shared_dir: Path, tmp_path: Path) -> None:
    workbook = tmp_path / "c.xlsx"
    workbook.write_bytes(write_workbook(example_records(shared_dir)))
    text = runner.invoke(app, ["screen", str(workbook), "--format", "text"])
    assert text.exit_code == 0
    assert text.stdout.count("decision:") == 3
    html = runner.invoke(app, ["screen", str(workbook), "--format", "html"])
    assert html.exit_code == 0
    assert html.stdout.count("SCR-000") >= 3


def test_screen_an_unreadable_workbook_is_an_error_line(tmp_path: Path) -> None:
    fake = tmp_path / "c.xlsx"
    fake.write_text("candidate_id,sex\n")
    result = runner.invoke(app, ["screen", str(fake), str(tmp_path / "missing.xlsx")])
    assert result.exit_code == 2
    lines = [json.loads(x) for x in result.stdout_bytes.splitlines()]
    assert lines[0]["source"] == str(fake)
    assert "not a readable Excel workbook" in lines[0]["error"]
    assert lines[1]["error"].startswith(f"{tmp_path / 'missing.xlsx'}: cannot read the file: ")


def test_safety_synth_is_the_seeded_generator_byte_for_byte(tmp_path: Path) -> None:
    expected = b"".join(orjson.dumps(r) + b"\n" for r in synthetic_study(4, seed=7))
    result = runner.invoke(app, ["safety", "synth", "--subjects", "4", "--seed", "7"])
    assert result.exit_code == 0
    assert result.stdout_bytes == expected
    out = tmp_path / "study.ndjson"
    assert (
        runner.invoke(app, ["safety", "synth", "--subjects", "4", "--seed", "7", "--out", str(out)]).exit_code
        == 0
    )
    assert out.read_bytes() == expected
    other = runner.invoke(app, ["safety", "synth", "--subjects", "4", "--seed", "8"])
    assert other.stdout_bytes != expected
    graded = runner.invoke(app, ["safety", "grade", str(out)])
    assert graded.exit_code == 0
    assert graded.stdout.count("\n") == 4


def test_safety_synth_rejects_nonsense_counts() -> None:
    result = runner.invoke(app, ["safety", "synth", "--subjects", "0"])
    assert result.exit_code == 2


def test_the_committed_field_guide_is_the_generated_one() -> None:
    assert (REPO / "docs" / "record.md").read_text(encoding="utf-8") == field_guide()
    assert runner.invoke(app, ["template", "guide"]).stdout == field_guide()


def test_the_field_guide_covers_every_field_and_unit() -> None:
    guide = field_guide()
    for name in example_records.__globals__["EXAMPLES"]:
        assert f"](../src/nmocart/data/examples/{name}.json)" in guide
    for field in (
        "candidate_id",
        "labs",
        "syndromes[].type",
        "syndromes[].mri_requirements_met",
        "fold_expansion",
        "notes",
    ):
        assert f"`{field}`" in guide
    units = (
        "creatinine: mg/dL, umol/L, µmol/L; alt: U/L, IU/L; ast: U/L, IU/L; total_bilirubin: mg/dL, umol/L"
    )
    assert units in guide
