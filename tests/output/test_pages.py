"""Pages people read: clinically sensible precision, nothing wider than the screen (issue 9, item 9)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.reports.kinetics import page_number, significant

runner = CliRunner()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (117884.805524, "118,000"),
        (4506.03, "4,510"),
        (16.5366382166, "16.5"),
        (0.0419158459829, "0.0419"),
        (9.996, "10.0"),
        (99.95, "100"),
        (0.0, "0"),
        (-2.345, "-2.35"),
        (1.0, "1.00"),
        (0.000123456, "0.000123"),
        (1.5e-7, "1.50e-07"),
        (math.nan, ""),
        (math.inf, ""),
    ],
)
def test_three_significant_digits_in_fixed_notation(value: float, shown: str) -> None:
    assert significant(value) == shown


def test_page_precision_by_kind_of_parameter() -> None:
    assert page_number(0.996391337392, "adj_r_squared") == "0.9964"
    assert page_number(0.99995, "r_squared") == "1.0000"
    assert page_number(3.0, "lambda_z_n_points") == "3"
    assert page_number(118.94, "geocv_pct") == "118.9"
    assert page_number(76740.0588062, "auc_0_28") == "76,700"
    assert page_number(math.nan, "half_life") == ""


@given(st.floats(min_value=1e-6, max_value=1e12) | st.floats(min_value=-1e12, max_value=-1e-6))
def test_shown_value_is_within_half_a_unit_of_the_third_digit(value: float) -> None:
    shown = float(significant(value).replace(",", ""))
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    assert abs(shown - value) <= unit / 2 * (1 + 1e-9) + abs(value) * 1e-12
    digits = significant(value).replace(",", "").replace("-", "").replace(".", "").lstrip("0")
    assert len(digits.rstrip("0")) <= 3  # never more than 3 significant digits shown


def _demo(tmp_path: Path) -> Path:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_kinetics_page_shows_page_precision_and_csv_keeps_full(tmp_path: Path) -> None:
    out = _demo(tmp_path) / "kinetics"
    page = (out / "kinetics_report.html").read_text(encoding="utf-8")
    csv_text = (out / "kinetics_nca.csv").read_text(encoding="utf-8")
    assert "117884.805524" in csv_text  # S01 auclast, 12 digits in the CSV
    assert "117884.805524" not in page
    assert "<td>118,000</td>" in page
    assert "@media print" in page


def test_pages_fit_1280_px_and_verdicts_stay_in_their_column(tmp_path: Path) -> None:
    out = _demo(tmp_path)
    pages = [
        out / "screening" / "screening.html",
        out / "safety" / "safety_report" / "report.html",
        out / "kinetics" / "kinetics_report.html",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            for path in pages:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(path.resolve().as_uri())
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 1280, (path.name, width)
                overflowing = page.evaluate(
                    """() => [...document.querySelectorAll('table')].filter(
                        t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                    ).length"""
                )
                assert overflowing == 0, path.name
                # no cell's content spills into its neighbour (the 'not applicable' bug)
                spilling = page.evaluate(
                    """() => [...document.querySelectorAll('td.verdict')]
                        .filter(td => td.scrollWidth > td.clientWidth + 1).map(td => td.textContent)"""
                )
                assert spilling == [], (path.name, spilling)
        finally:
            browser.close()
