"""Outputs safe to open: CSV cells never run as formulas, terminal text never runs as markup,
plot labels never run as mathtext (issue 9, item 3)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmocart.batch.safety import parse_record
from nmocart.cli import app
from nmocart.kernel.csv_cells import FORMULA_STARTS, csv_text, safe_cell
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import read_samples
from nmocart.kinetics.summary import summarise, summary_csv
from nmocart.kinetics.table import table_csv
from nmocart.reports.kinetics_plots import plot_individual, plot_median
from nmocart.reports.plot_text import literal
from nmocart.reports.safety import write_report

from ..safety.helpers import PARAMS, record_dict
from ..screening.builders import base

runner = CliRunner()


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")', "-", "+", "-inf"],
)
def test_formula_starts_are_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["-1.5", "+2", "-0", "3e-05", "-2.5E+10", ".5", "-.5", "12"])
def test_numbers_stay_numbers(text: str) -> None:
    assert safe_cell(text) == text


@pytest.mark.parametrize("text", ["S-001", "CAR transgene", "", "a=b", "'quoted", "1-2"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


def test_numeric_cells_are_written_as_numbers() -> None:
    assert safe_cell(-3) == "-3"
    assert safe_cell(-0.25) == "-0.25"
    with pytest.raises(TypeError):
        safe_cell(True)


@given(st.text())
def test_no_cell_can_start_a_formula_and_the_text_is_kept(text: str) -> None:
    cell = safe_cell(text)
    if cell.startswith(FORMULA_STARTS):
        float(cell)  # only a plain number may start with + or -
    assert cell in (text, "'" + text)


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_any_number_stays_a_number(number: float) -> None:
    cell = safe_cell(number)
    # an int above 2**53 has no exact float: read it back as what it was
    assert (int(cell) if isinstance(number, int) else float(cell)) == number


def test_csv_text_round_trips_through_a_csv_reader() -> None:
    text = csv_text(("id", "term"), [("S-1", "=cmd|' /C calc'!A0"), ("-4", "x,y")])
    assert list(csv.reader(io.StringIO(text))) == [
        ["id", "term"],
        ["S-1", "'=cmd|' /C calc'!A0"],
        ["-4", "x,y"],
    ]


AE = {
    "start_date": "2024-03-12",
    "end_date": None,
    "serious": False,
    "related_to_cart": "possible",
    "outcome": "recovered",
}


def _hostile_safety_record() -> Any:
    rec = record_dict(
        subject_id="-S1",
        adverse_events=[
            {"term": '=HYPERLINK("http://evil","x")', "grade": 2, **AE},
            {"term": "@cmd", "grade": 1, **AE},
        ],
    )
    return parse_record(orjson.dumps(rec))


def test_safety_report_csvs_neutralise_user_text(tmp_path: Path) -> None:
    write_report([_hostile_safety_record()], PARAMS, tmp_path / "r")
    for path in sorted((tmp_path / "r").glob("*.csv")):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS) or float(cell) is not None, (path.name, cell)
    ae = (tmp_path / "r" / "ae_incidence.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in ae
    assert "'@cmd" in ae
    subjects = (tmp_path / "r" / "subjects.csv").read_text(encoding="utf-8")
    assert "\n'-S1," in subjects


KINETICS = "subject,time,conc,blq\n"
for _sid in ("=1+1", "$\\foo$", "-3"):
    KINETICS += "".join(f"{_sid},{t},{c},0\n" for t, c in ((0, 1.0), (7, 500.0), (14, 200.0), (28, 50.0)))


def test_kinetics_csvs_neutralise_ids_and_keep_numbers() -> None:
    samples = read_samples(KINETICS)
    result = compute_nca(samples.profiles)
    rows = list(csv.reader(io.StringIO(table_csv(samples, result))))
    assert [r[0] for r in rows[1:]] == ["'=1+1", "$\\foo$", "-3"]
    for row in rows[1:]:
        float(row[2])  # cmax is a number, not neutralised text
    summary = summary_csv(summarise(samples, result))
    assert summary.startswith("analyte,")


def test_literal_text_draws_as_written_where_raw_mathtext_fails() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def draw(title: str) -> str:
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.set_yscale("log")  # log tick labels keep using mathtext
        ax.plot([1, 2], [10, 1000])
        text = ax.set_title(title)
        fig.canvas.draw()
        return text.get_text()

    assert literal("$\\foo$ costs $5") == "\\$\\foo\\$ costs \\$5"
    assert draw(literal("$\\foo$")) == "\\$\\foo\\$"
    with pytest.raises(ValueError, match="foo"):
        draw("$\\foo$")


def test_mathtext_in_a_subject_id_plots_as_written(tmp_path: Path) -> None:
    samples = read_samples(KINETICS)
    result = compute_nca(samples.profiles)
    analyte = samples.analyte[0]
    assert plot_individual(samples, result, analyte, tmp_path / "i.png").stat().st_size > 0
    assert plot_median(samples, analyte, tmp_path / "m.png").stat().st_size > 0


@pytest.mark.parametrize("name", ["prednisone [/]", "[link=http://evil.example]click[/link]", "[bold]x"])
def test_screen_text_prints_markup_in_record_data_as_written(tmp_path: Path, name: str) -> None:
    record = base()
    record["medications"][1]["name"] = name  # IN4's reason names the medication (prednisone)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(record))
    result = runner.invoke(app, ["screen", str(path), "--format", "text"], env={"COLUMNS": "300"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0
    assert name in result.stdout
    assert "\x1b]8;" not in result.stdout  # no terminal hyperlink


def test_rejected_record_with_markup_is_printed_as_written(tmp_path: Path) -> None:
    record = base()
    record["candidate_id"] = "[/]"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(record))
    result = runner.invoke(app, ["screen", str(path), "--format", "text"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "'[/]'" in result.stderr
