"""Every kind of workbook problem is an error naming the cell and the fix; other candidates go on."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from nmocart.batch.workbook import WorkbookError, write_workbook
from nmocart.screening.record import ScreeningRecord

from .sheets import edited, example_records, only_problems, read, record, row_of, set_cell


@pytest.fixture
def examples(shared_dir: Path) -> list[ScreeningRecord]:
    return example_records(shared_dir)


@pytest.fixture
def eligible(examples: list[ScreeningRecord]) -> list[ScreeningRecord]:
    return examples[:1]


def _problems_of_first(data: bytes) -> list[str]:
    first = read(data)[0]
    assert first.record is None
    return list(first.problems)


def test_a_unit_not_accepted_for_the_test_names_the_cell(eligible: list[ScreeningRecord]) -> None:
    cells: list[str] = []

    def edit(wb: Workbook) -> None:
        cells.append(set_cell(wb, "labs", "unit", row_of(wb, "labs", test="creatinine"), "mmol/L"))

    problems = _problems_of_first(edited(eligible, edit))
    assert cells == ["labs!E2"]
    assert problems == ["labs!E2: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L"]


def test_the_other_candidates_of_the_workbook_are_still_read(examples: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "sex", 3, "unknown")

    entries = read(edited(examples, edit))
    assert [e.record is not None for e in entries] == [True, False, True]
    assert entries[1].candidate_id == "SCR-0003"
    assert entries[1].source == "c.xlsx:candidate!A3"
    assert entries[1].problems == (
        "candidate!D3: 'unknown' is not one of the allowed words; input should be 'female' or 'male'",
    )
    assert [e.record for e in entries if e.record is not None] == [examples[0], examples[2]]


@pytest.mark.parametrize(
    ("sheet", "header", "value", "message"),
    [
        ("labs", "date", "2026-02-30", "is not a calendar date (no such day); write YYYY-MM-DD"),
        ("labs", "date", "24/02/2026", "'24/02/2026' is not a date; type the date as YYYY-MM-DD"),
        (
            "labs",
            "date",
            dt.datetime(2026, 2, 24, 9, 30),
            "2026-02-24 09:30:00 has a time of day; give the date only",
        ),
        (
            "labs",
            "date",
            20260224,
            "is not a date (a number too large for a date, or #VALUE!); type the date",
        ),
        ("labs", "date", True, "TRUE is not a date; type the date as YYYY-MM-DD"),
        (
            "labs",
            "value",
            "76,5",
            "'76,5' is not a number; type digits with a decimal point, no unit or comma",
        ),
        ("labs", "value", "1e400", "'1e400' is not a finite number; type the measured value"),
        ("labs", "value", True, "TRUE is not a number; type the number"),
        ("labs", "value", -1, "is negative; a creatinine result is 0 or more"),
        ("labs", "test", "creatinin", "'creatinin' is not one of the allowed words"),
        (
            "medications",
            "name",
            42,
            "42 is not text; name is text: format the cell as Text and type it again",
        ),
        (
            "investigator",
            "other_risk",
            "yes",
            "'yes' is not TRUE or FALSE; choose one, or leave the cell empty",
        ),
        ("ecgs", "qtc_ms", 1200, "Input should be less than 1000"),
        ("medications", "end_date", dt.date(2000, 1, 1), "2000-01-01 is before start_date"),
        ("candidate", "birth_date", dt.date(2027, 1, 1), "2027-01-01 is after screening_date 2026-03-02"),
        ("candidate", "candidate_id", "SCR 0001", "should match pattern"),
        ("candidate", "pregnant", True, "pregnant is true for a male candidate; check sex or write null"),
    ],
)
def test_each_kind_of_bad_cell_names_the_cell(
    eligible: list[ScreeningRecord], sheet: str, header: str, value: object, message: str
) -> None:
    cells: list[str] = []

    def edit(wb: Workbook) -> None:
        cells.append(set_cell(wb, sheet, header, 2, value))

    problems = _problems_of_first(edited(eligible, edit))
    # a word outside a union of vocabularies gets one line per vocabulary, all at the cell
    assert {p.split(": ", 1)[0] for p in problems} == {cells[0]}
    assert message in problems[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (46077, None),
        (46077.0, None),
        (46077.5, "46077.5 is not a date serial number"),
        (0, "0 is not a date serial number"),
    ],
)
def test_a_date_typed_as_a_serial_number_in_a_general_cell(
    eligible: list[ScreeningRecord], value: float, expected: str | None
) -> None:
    def edit(wb: Workbook) -> None:
        wb["ecgs"]["B2"] = value
        wb["ecgs"]["B2"].number_format = "General"

    first = read(edited(eligible, edit))[0]
    if expected is None:  # 46077 is 2026-02-24 in the 1900 date system
        assert first.record == eligible[0]
    else:
        assert first.problems == (f"ecgs!B2: {expected}; type the date as YYYY-MM-DD",)


def test_text_dates_and_text_booleans_as_libreoffice_may_keep_them(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["ecgs"]["B2"] = "2026-02-24"
        wb["ecgs"]["B2"].number_format = "@"
        wb["candidate"]["I2"] = "True"  # contraception_agreed
        wb["labs"]["D2"] = " 76 "  # numbers kept as text, with stray spaces

    assert read(edited(eligible, edit))[0].record == eligible[0]


def test_a_required_cell_left_empty_names_the_cell(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "ecgs", "date", 2, None)

    assert _problems_of_first(edited(eligible, edit)) == ["ecgs!B2: required field is missing; add it"]


def test_a_numeric_lab_without_value_names_the_value_cell(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "labs", "value", row_of(wb, "labs", test="alt"), None)

    assert _problems_of_first(edited(eligible, edit)) == [
        "labs!D3: alt needs a numeric value; give the number"
    ]


def test_a_formula_is_refused_and_reported_once(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "labs", "value", 2, "=70+6")

    assert _problems_of_first(edited(eligible, edit)) == [
        "labs!D2: holds a formula; type the value itself (paste as values)"
    ]


def test_several_problems_of_one_candidate_are_all_reported_in_order(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "sex", 2, "m")
        set_cell(wb, "labs", "unit", 3, "U/mL")
        set_cell(wb, "ecgs", "qtc_ms", 2, "long")

    problems = _problems_of_first(edited(eligible, edit))
    assert [p.split(": ")[0] for p in problems] == ["ecgs!C2", "candidate!D2", "labs!E3"]


def test_a_text_id_typed_as_a_number_is_refused_not_guessed(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "candidate_id", 2, 12)

    entries = read(edited(eligible, edit))
    first = entries[0]
    assert first.problems[0] == (
        "candidate!A2: 12 is not text; candidate_id is text: format the cell as Text and type it again"
    )
    # its section rows keep the old id, which is now on no candidate row: reported, not dropped
    assert all(e.record is None for e in entries)
    assert any("'SCR-0001' is not on the candidate sheet" in e.problems[0] for e in entries[1:])


def test_a_row_for_an_unknown_candidate_is_its_own_error(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "ecgs", "candidate_id", 3, "SCR-9999")
        set_cell(wb, "ecgs", "date", 3, dt.date(2026, 2, 20))
        set_cell(wb, "ecgs", "qtc_ms", 3, 440)

    entries = read(edited(eligible, edit))
    assert entries[0].record == eligible[0]
    assert entries[1].source == "c.xlsx:ecgs!A3"
    assert entries[1].candidate_id == "SCR-9999"
    assert entries[1].problems == (
        "ecgs!A3: candidate_id 'SCR-9999' is not on the candidate sheet; "
        "add a row for the candidate there or correct the id",
    )


def test_a_section_row_without_candidate_id_is_reported(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "ecgs", "qtc_ms", 3, 440)

    entries = read(edited(eligible, edit))
    assert entries[1].problems[0] == (
        "ecgs!A3: candidate_id is empty; give the id of the candidate this row belongs to"
    )


def test_a_duplicate_candidate_rejects_every_row_with_that_id(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "candidate_id", 3, "SCR-0001")
        set_cell(wb, "candidate", "screening_date", 3, dt.date(2026, 3, 2))

    entries = read(edited(eligible, edit))
    assert [e.problems for e in entries] == [
        ("candidate!A2: candidate_id 'SCR-0001' is also on row(s) 3; one row per candidate",),
        ("candidate!A3: candidate_id 'SCR-0001' is also on row(s) 2; one row per candidate",),
    ]


def test_not_collected_with_rows_is_a_contradiction(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "labs", 2, "not collected")

    assert _problems_of_first(edited(eligible, edit)) == [
        "candidate!P2: labs marked 'not collected' but the labs sheet has 9 row(s) for this candidate "
        "(first labs!A2); clear the status or delete the rows"
    ]


def test_an_unknown_status_word_names_the_cell(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "ecgs", 2, "done")

    assert _problems_of_first(edited(eligible, edit)) == [
        "candidate!R2: 'done' is not a section status; choose 'collected' or 'not collected'"
    ]


def test_collected_but_the_sheet_was_deleted(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        del wb["ecgs"]

    assert _problems_of_first(edited(eligible, edit)) == [
        "candidate!R2: ecgs marked 'collected' but the workbook has no ecgs sheet; add the sheet "
        "(nmocart template record gives it) or write 'not collected'"
    ]


def test_an_attack_row_without_number_and_a_second_onset_date(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        # eligible: attack 3 has two syndromes on rows 4 and 5
        set_cell(wb, "attacks", "onset_date", 5, dt.date(2025, 1, 10))
        set_cell(wb, "attacks", "attack", 6, None)

    assert _problems_of_first(edited(eligible, edit)) == [
        "attacks!C5: onset_date differs from row 4 of attack 3; give one onset_date per attack",
        "attacks!B6: the attack number is empty; give every row the number of its attack (1, 2, ...)",
    ]


def test_a_second_investigator_row_is_refused(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "investigator", "candidate_id", 3, "SCR-0001")
        set_cell(wb, "investigator", "other_risk", 3, True)

    assert _problems_of_first(edited(eligible, edit)) == [
        "investigator!A3: a second investigator row for this candidate (first on row 2); keep one"
    ]


def test_a_value_in_a_column_without_header(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["ecgs"]["F2"] = "checked"

    assert _problems_of_first(edited(eligible, edit)) == [
        "ecgs!F2: a value in a column without a header; delete it or name the column"
    ]


@pytest.mark.parametrize(
    ("edit_name", "expected"),
    [
        ("rename_sheet", "sheet 'Labs' is not a section of the record; rename it 'labs'"),
        ("extra_sheet", "sheet 'scratch' is not a section of the record; delete it or rename it to one of "),
        ("unknown_column", "labs!H1: 'comment' is not a column of labs; remove it or use one of "),
        ("missing_column", "labs!1: missing column(s) upper_limit; add them to the header row"),
        ("duplicate_column", "labs!H1: column 'unit' appears twice; keep one"),
        ("no_candidate_sheet", "no 'candidate' sheet; use the layout of nmocart template record"),
    ],
)
def test_a_workbook_not_in_the_layout_is_one_error_naming_the_fix(
    eligible: list[ScreeningRecord], edit_name: str, expected: str
) -> None:
    def edit(wb: Workbook) -> None:
        if edit_name == "rename_sheet":
            wb["labs"].title = "renamed"
            wb["renamed"].title = "Labs"
        elif edit_name == "extra_sheet":
            wb.create_sheet("scratch")
        elif edit_name == "unknown_column":
            wb["labs"]["H1"] = "comment"
        elif edit_name == "missing_column":
            wb["labs"]["F1"] = None
        elif edit_name == "duplicate_column":
            wb["labs"]["H1"] = "unit"
        else:
            del wb["candidate"]

    problems = only_problems(edited(eligible, edit))
    assert any(p.startswith(expected) for p in problems), problems


def test_a_file_that_is_not_a_workbook() -> None:
    (entry,) = read(b"candidate_id,sex\nSCR-1,male\n")
    assert entry.record is None
    assert entry.problems[0].startswith("c.xlsx: not a readable Excel workbook (")
    assert entry.problems[0].endswith("); save it as .xlsx (Excel Workbook)")


def test_writing_text_a_workbook_cannot_hold_is_refused_naming_the_field(
    eligible: list[ScreeningRecord],
) -> None:
    bad = record({**eligible[0].model_dump(mode="json"), "investigator": {"notes": "line\x07bell"}})
    with pytest.raises(
        WorkbookError, match=r"^candidate SCR-0001, investigator\.notes: 'line\\x07bell' cannot"
    ):
        write_workbook([bad])


def test_a_number_with_more_digits_than_a_spreadsheet_keeps_is_refused(
    eligible: list[ScreeningRecord],
) -> None:
    data = eligible[0].model_dump(mode="json")
    data["ecgs"][0]["qtc_ms"] = 431.00000000000006
    with pytest.raises(
        WorkbookError, match=r"^candidate SCR-0001, ecgs\.qtc_ms: 431\.00000000000006 has more"
    ):
        write_workbook([record(data)])


def test_an_error_cell_from_excel_is_refused(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        cell = wb["labs"]["D2"]
        cell.value = "#DIV/0!"
        cell.data_type = "e"

    assert _problems_of_first(edited(eligible, edit)) == [
        "labs!D2: holds the spreadsheet error #DIV/0!; type the value"
    ]


def test_nothing_is_written_for_an_unreadable_stream() -> None:
    assert read(io.BytesIO(b"").getvalue())[0].record is None


cell_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12),
    st.dates(dt.date(1900, 3, 1), dt.date(9999, 12, 31)),
    st.sampled_from(["=1+1", "TRUE", "not collected", "collected", "mmol/L", "2026-02-30", " "]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 9), st.integers(1, 8), st.integers(1, 12), cell_values), max_size=4
    )
)
def test_any_edit_gives_records_or_problems_naming_cells_never_an_exception(
    examples: list[ScreeningRecord], edits: list[tuple[int, int, int, object]]
) -> None:
    def edit(wb: Workbook) -> None:
        for sheet_index, column, row, value in edits:
            wb.worksheets[sheet_index].cell(row, column).value = value

    entries = read(edited(examples, edit))
    assert entries
    for entry in entries:
        assert (entry.record is None) == bool(entry.problems)
        for problem in entry.problems:
            assert re.match(r"^([a-z_]+!([A-Z]+)?\d+: |sheet '|no 'candidate' sheet)", problem), problem
    if not edits:
        assert [e.record for e in entries] == examples
