"""``nmocart kinetics nca``: table on stdout, outputs with --out, input errors exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.kinetics.table import COLUMNS

from .helpers import BLQ, csv_text

runner = CliRunner()

PROFILES = {
    "P01": ([0, 1, 4, 7, 10, 14, 21, 28, 90], [BLQ, 40, 900, 5000, 3000, 900, 300, 120, BLQ]),
    "P02": ([0, 1, 4, 7, 10, 14], [BLQ, BLQ, 60, 200, 120, BLQ]),
}


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.csv"
    path.write_text(csv_text(PROFILES), encoding="utf-8")
    return path


def test_csv_table_has_exactly_the_spec_columns(sample_file: Path) -> None:
    res = runner.invoke(app, ["kinetics", "nca", str(sample_file)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == COLUMNS
    assert rows[0][:2] == ["subject", "analyte"]
    assert rows[0][-1] == "notes"
    assert [r[0] for r in rows[1:]] == ["P01", "P02"]
    p02 = dict(zip(rows[0], rows[2], strict=True))
    # P02 has one measurable sample after Tmax: lambda_z and its derivatives are empty cells.
    assert p02["cmax"] == "200"
    assert p02["tmax"] == "7"
    assert p02["lambda_z"] == ""
    assert p02["aucinf_obs"] == ""
    assert p02["half_life"] == ""
    assert "only 1 measurable sample(s) after Tmax" in p02["notes"]
    p01 = dict(zip(rows[0], rows[1], strict=True))
    assert p01["lambda_z_n_points"].isdigit()
    assert p01["notes"] == ""


def test_json_nulls_for_not_estimable(sample_file: Path) -> None:
    res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["time_unit"] == "day"
    p02 = doc["profiles"][1]
    assert p02["lambda_z"] is None
    assert p02["aucinf_obs"] is None
    assert p02["cmax"] == 200
    assert set(COLUMNS) <= set(p02)


def test_auc_method_option_changes_the_area(sample_file: Path) -> None:
    def auclast(method: str) -> float:
        res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--auc-method", method])
        assert res.exit_code == 0, res.output
        return float(next(csv.DictReader(io.StringIO(res.stdout)))["auclast"])

    assert auclast("linear") > auclast("lin-up/log-down")


def test_input_errors_exit_2_with_row_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("subject,time,conc,blq\nA,0,,1\nA,1,abc,0\nA,1,-4,0\n", encoding="utf-8")
    res = runner.invoke(app, ["kinetics", "nca", str(path)])
    assert res.exit_code == 2
    assert res.stdout.splitlines() == [",".join(COLUMNS)]  # the only subject is left out
    assert f"error: {path}: row 3: conc 'abc' is not a number" in res.stderr
    assert "row 4: conc -4 is negative" in res.stderr
    assert "Traceback" not in res.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["kinetics", "nca", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    assert "no such file" in res.stderr


def test_bad_option_exits_2(sample_file: Path) -> None:
    res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--auc-method", "log"])
    assert res.exit_code == 2


def test_out_writes_everything_deterministically(sample_file: Path, tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--out", str(out)])
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == [
        "kinetics_1_car_transgene_individual.png",
        "kinetics_1_car_transgene_median.png",
        "kinetics_nca.csv",
        "kinetics_nca.json",
        "kinetics_report.html",
        "kinetics_summary.csv",
    ]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    png = (outs[0] / names[0]).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert b"Software" not in png
    html = (outs[0] / "kinetics_report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert "<h2>Persistence</h2>" in html
    assert "P02" in html
    summary = list(csv.DictReader((outs[0] / "kinetics_summary.csv").open(encoding="utf-8")))
    cmax = next(r for r in summary if r["parameter"] == "cmax")
    assert (cmax["n"], cmax["min"], cmax["max"], cmax["median"]) == ("2", "200", "5000", "2600")


def test_outputs_are_byte_identical_across_processes(sample_file: Path, tmp_path: Path) -> None:
    # A fresh interpreter with another hash seed and locale writes the same bytes.
    import os
    import subprocess
    import sys

    here = tmp_path / "here"
    res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--out", str(here)])
    assert res.exit_code == 0, res.output
    there = tmp_path / "there"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "LC_ALL": "C"}
    cmd = [sys.executable, "-m", "nmocart", "kinetics", "nca", str(sample_file), "--out", str(there)]
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == (here / "kinetics_nca.csv").read_text(encoding="utf-8")
    for path in sorted(here.iterdir()):
        assert path.read_bytes() == (there / path.name).read_bytes(), path.name


def test_two_analytes_get_their_own_rows_units_and_plots(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    lines = ["subject,time,conc,blq,analyte,unit,lloq"]
    for analyte, unit, scale in (("qPCR", "copies/ug", 100.0), ("flow", "cells/uL", 1.0)):
        for t, c in zip([0, 1, 4, 7, 14, 21, 28], [0, 5, 40, 90, 30, 10, 4], strict=True):
            blq = int(c == 0)
            lines.append(f"A,{t},{'' if blq else c * scale},{blq},{analyte},{unit},1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    res = runner.invoke(app, ["kinetics", "nca", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["subject"], r["analyte"]) for r in rows] == [("A", "qPCR"), ("A", "flow")]
    assert float(rows[0]["cmax"]) == 9000
    assert float(rows[1]["cmax"]) == 90
    assert rows[0]["lambda_z"] == rows[1]["lambda_z"]
    summary = list(csv.DictReader((out / "kinetics_summary.csv").open(encoding="utf-8")))
    units = {(r["analyte"], r["parameter"]): r["unit"] for r in summary}
    assert units["qPCR", "auclast"] == "copies/ug*day"
    assert units["flow", "cmax"] == "cells/uL"
    assert units["flow", "lambda_z"] == "1/day"
    assert (out / "kinetics_1_qpcr_individual.png").is_file()
    assert (out / "kinetics_2_flow_median.png").is_file()


def test_unwritable_out_exits_2_without_traceback(sample_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    res = runner.invoke(app, ["kinetics", "nca", str(sample_file), "--out", str(blocker)])
    assert res.exit_code == 2
    assert "is a file, not a folder" in res.stderr
    assert res.stdout == ""
    assert res.exception is None or isinstance(res.exception, SystemExit)
