"""The blank template: derived from the models and the unit table, with drop-downs, formats and notes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, get_args

import pytest
from openpyxl import Workbook, load_workbook

from nmocart.batch.workbook import COLLECTED, NOT_COLLECTED, layout, write_workbook
from nmocart.kernel.units import ANALYTE_UNITS
from nmocart.screening.record import (
    NUMERIC_TESTS,
    ConditionCategory,
    DrugClass,
    QualitativeTest,
    Route,
    ScreeningRecord,
    SyndromeType,
)

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def template() -> Workbook:
    return load_workbook(io.BytesIO(write_workbook()))


def _headers(wb: Workbook, sheet: str) -> list[Any]:
    return [cell.value for cell in wb[sheet][1]]


def _validation(wb: Workbook, sheet: str, header: str) -> Any:
    letter = next(c.column_letter for c in wb[sheet][1] if c.value == header)
    found = [
        dv
        for dv in wb[sheet].data_validations.dataValidation
        if f"{letter}2:{letter}1048576" in str(dv.sqref)
    ]
    assert len(found) == 1, (sheet, header, found)
    return found[0]


def _named_list(wb: Workbook, name: str) -> list[Any]:
    sheet, ref = wb.defined_names[name].attr_text.split("!")
    return [row[0].value for row in wb[sheet][ref.replace("$", "")]]


def test_one_sheet_per_section_then_notes_and_the_hidden_lists(template: Workbook) -> None:
    sections = ["attacks", "antibody_tests", "medications", "conditions", "labs", "pregnancy_tests", "ecgs"]
    sections += ["tcell_proliferation", "investigator"]
    assert template.sheetnames == ["candidate", *sections, "notes", "lists"]
    assert template["lists"].sheet_state == "hidden"
    assert template["candidate"].sheet_state == "visible"


def test_headers_are_the_spec_field_names(template: Workbook) -> None:
    fields = list(ScreeningRecord.model_fields)
    assert _headers(template, "candidate") == fields  # scalars, then one status column per section
    assert _headers(template, "labs") == [
        "candidate_id",
        "date",
        "test",
        "value",
        "unit",
        "upper_limit",
        "result",
    ]
    assert _headers(template, "attacks") == [
        "candidate_id",
        "attack",
        "onset_date",
        "type",
        "mri_requirements_met",
    ]
    assert _headers(template, "investigator") == [
        "candidate_id",
        "survival_over_12_weeks",
        "uncontrolled_disease",
        "other_risk",
        "notes",
    ]


@pytest.mark.parametrize(
    ("sheet", "header", "words"),
    [
        ("candidate", "sex", ["female", "male"]),
        ("candidate", "labs", [COLLECTED, NOT_COLLECTED]),
        ("candidate", "pregnant", ["TRUE", "FALSE"]),
        ("attacks", "type", list(get_args(SyndromeType))),
        ("medications", "drug_class", list(get_args(DrugClass))),
        ("medications", "route", list(get_args(Route))),
        ("conditions", "category", list(get_args(ConditionCategory))),
        ("labs", "test", [*NUMERIC_TESTS, *get_args(QualitativeTest)]),
        ("labs", "result", ["positive", "negative"]),
        ("ecgs", "correction", ["fridericia", "bazett", "other"]),
        ("antibody_tests", "method", ["cba", "elisa", "tissue_iif", "other"]),
    ],
)
def test_every_vocabulary_is_a_drop_down_of_the_models_words(
    template: Workbook, sheet: str, header: str, words: list[str]
) -> None:
    dv = _validation(template, sheet, header)
    assert dv.type == "list"
    assert dv.showErrorMessage
    assert _named_list(template, dv.formula1) == words


def test_every_choice_column_has_a_drop_down() -> None:
    wb = load_workbook(io.BytesIO(write_workbook()))
    for sheet in layout():
        for col in sheet.columns:
            if col.kind.value in ("choice", "status", "boolean", "unit"):
                assert _validation(wb, sheet.name, col.header).type == "list"


def test_the_unit_drop_down_lists_the_units_of_the_rows_test(template: Workbook) -> None:
    dv = _validation(template, "labs", "unit")
    assert dv.formula1 == 'INDIRECT("units_"&C2)'  # C is the test column
    for analyte, units in ANALYTE_UNITS.items():
        assert _named_list(template, f"units_{analyte}") == list(units.spellings)
    assert _named_list(template, "units_creatinine") == ["mg/dL", "umol/L", "µmol/L"]


def test_dates_are_date_cells_and_text_columns_are_text(template: Workbook) -> None:
    ws = template["candidate"]
    assert ws.column_dimensions["B"].number_format == "yyyy-mm-dd"  # screening_date
    assert ws.column_dimensions["A"].number_format == "@"  # candidate_id keeps leading zeros
    assert _validation(template, "labs", "date").type == "date"
    assert _validation(template, "ecgs", "qtc_ms").type == "decimal"
    assert (
        _validation(template, "ecgs", "qtc_ms").formula1,
        _validation(template, "ecgs", "qtc_ms").formula2,
    ) == (
        "0.0",
        "1000.0",
    )


def test_header_is_frozen_bold_and_columns_are_wide_enough(template: Workbook) -> None:
    for sheet in layout():
        ws = template[sheet.name]
        assert ws.freeze_panes == "B2"
        for cell in ws[1]:
            assert cell.font.b
            width = ws.column_dimensions[cell.column_letter].width
            assert len(str(cell.value)) < width <= 40
    assert template["medications"].column_dimensions["C"].width >= len("other_immunosuppressant")


def test_the_notes_explain_every_column(template: Workbook) -> None:
    ws = template["notes"]
    header_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "sheet")
    rows = {(ws.cell(r, 1).value, ws.cell(r, 2).value): r for r in range(header_row + 1, ws.max_row + 1)}
    expected = {(s.name, c.header) for s in layout() for c in s.columns}
    assert set(rows) == expected
    unit_row = rows[("labs", "unit")]
    assert ws.cell(unit_row, 5).value.startswith("creatinine: mg/dL, umol/L, µmol/L; alt: U/L, IU/L")
    assert ws.cell(rows[("candidate", "birth_date")], 6).value == "null (unknown or not recorded)"
    assert ws.cell(rows[("candidate", "sex")], 6).value == "not allowed: required"
    assert ws.cell(rows[("candidate", "sex")], 7).value == "Sex at birth."
    rules = " ".join(str(ws.cell(r, 1).value) for r in range(1, header_row))
    assert "'collected' with no rows" in rules
    assert "An empty cell is null" in rules


def test_the_template_bytes_are_fixed() -> None:
    first, second = write_workbook(), write_workbook()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core


def test_the_same_bytes_in_other_processes_time_zones_and_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed, zone in (("1", "UTC"), ("2", "Pacific/Auckland")):
        out = tmp_path / f"t{seed}.xlsx"
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": zone, "PYTHONPATH": str(SRC)}
        command = [sys.executable, "-m", "nmocart", "template", "record", "--examples", "--out", str(out)]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
