"""Hostile cells found by the independent review: each gives a cell-named problem, never an exception."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from nmocart.batch.workbook import WorkbookError, write_workbook
from nmocart.screening.record import ScreeningRecord

from .sheets import edited, example_records, read, record


@pytest.fixture
def examples(shared_dir: Path) -> list[ScreeningRecord]:
    return example_records(shared_dir)


def _with_raw_cell(data: bytes, sheet_xml: str, cell: str, raw: str) -> bytes:
    """The workbook with one number cell's stored text replaced, as another program may write it."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == sheet_xml:
                text = content.decode()
                changed = re.sub(rf'(<c r="{cell}"[^>]*t="n"[^>]*><v>)[^<]*', rf"\g<1>{raw}", text, count=1)
                assert changed != text, cell
                content = changed.encode()
            target.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # a whole number beyond 64 bits: openpyxl reads it as a Python int
        ("1" + "0" * 30, None),
        # beyond a double's range: as an int it cannot even become a float
        ("1" + "0" * 400, "labs!D2: 1" + "0" * 400 + " is not a finite number; type the measured value"),
    ],
)
def test_a_number_cell_with_a_huge_whole_number_never_loses_the_workbook(
    examples: list[ScreeningRecord], raw: str, message: str | None
) -> None:
    # sheet6 is labs; D2 is the creatinine value of the first candidate (SCR-0001)
    data = _with_raw_cell(write_workbook(examples), "xl/worksheets/sheet6.xml", "D2", raw)
    entries = read(data)
    assert [e.candidate_id for e in entries] == [r.candidate_id for r in examples]
    assert [e.record for e in entries[1:]] == examples[1:]
    first = entries[0]
    if message is None:  # 1e30 is a finite number: the record holds it as a float
        assert first.record is not None
        assert first.record.labs is not None
        assert first.record.labs[0].value == 1e30
    else:
        assert first.problems == (message,)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(born=st.dates(dt.date(1, 1, 1), dt.date(2026, 3, 2)))
@example(born=dt.date(1899, 12, 31))
@example(born=dt.date(1900, 2, 28))
@example(born=dt.date(1, 1, 1))
def test_any_valid_date_written_to_the_workbook_comes_back_unchanged(
    examples: list[ScreeningRecord], born: dt.date
) -> None:
    # 1899-12-31 was written as serial 0, which reads back as a time of day: the workbook
    # nmocart wrote rejected the record it was written from
    data = record({**examples[0].model_dump(mode="json"), "birth_date": born.isoformat()})
    (entry,) = read(write_workbook([data]))
    assert entry.record == data


_EARLY = "is before 1900-03-01, where spreadsheet date cells are ambiguous"


@pytest.mark.parametrize(
    ("serial", "date_cell", "shown"),
    [
        (60, True, f"1900-02-28 {_EARLY}"),
        (60, False, f"serial 60 {_EARLY}"),
        (59, True, f"1900-02-28 {_EARLY}"),
        (1, False, f"serial 1 {_EARLY}"),
        (61, False, None),
        (61, True, None),
        (-5, True, f"1899-12-25 {_EARLY}"),
        (-5, False, "-5 is not a date serial number"),
        (0.5, True, "12:00:00 is not a date"),
    ],
)
def test_a_date_cell_in_the_1900_leap_year_bug_zone_is_refused_not_guessed(
    examples: list[ScreeningRecord], serial: float, date_cell: bool, shown: str | None
) -> None:
    # Excel's serial 60 is 1900-02-29, a day that never existed; openpyxl reads it as 1900-02-28,
    # the same day as serial 59, and reads negative serials as dates Excel cannot show
    def edit(wb: Workbook) -> None:
        wb["candidate"]["E2"] = serial  # birth_date
        wb["candidate"]["E2"].number_format = "yyyy-mm-dd" if date_cell else "General"

    entries = read(edited(examples, edit))
    assert [e.record for e in entries[1:]] == examples[1:]
    if shown is None:
        assert entries[0].record is not None
        assert entries[0].record.birth_date == dt.date(1900, 3, 1)
        return
    (problem,) = entries[0].problems
    assert problem.startswith(f"candidate!E2: {shown}")
    assert problem.endswith("YYYY-MM-DD")


def test_text_dates_before_1900_march_are_read(examples: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["candidate"]["E2"] = "1900-02-28"

    (first, *_) = read(edited(examples, edit))
    assert first.record is not None
    assert first.record.birth_date == dt.date(1900, 2, 28)


def test_a_section_row_whose_id_is_a_number_is_not_called_empty(examples: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["labs"]["A2"] = 12

    orphan = read(edited(examples, edit))[-1]
    assert orphan.source == "c.xlsx:labs!A2"
    assert orphan.problems == (
        "labs!A2: 12 is not text; candidate_id is text: format the cell as Text and type it again",
    )


def test_merged_cells_reject_the_candidate_instead_of_dropping_rows(examples: list[ScreeningRecord]) -> None:
    # a coordinator merges the id over three lab rows of one candidate: only the first row holds
    # the id, so the candidate was screened on the first lab alone (the others were orphans)
    def edit(wb: Workbook) -> None:
        wb["labs"].merge_cells("A2:A4")

    entries = read(edited(examples, edit))
    merged = "labs!A2:A4 is merged; unmerge it and type the value in every row"
    first = entries[0]
    assert first.record is None
    assert first.problems == (f"labs!A2: {merged}",)
    assert [e.record for e in entries[1:3]] == examples[1:]
    assert [e.problems for e in entries[3:]] == [(f"labs!A3: {merged}",), (f"labs!A4: {merged}",)]


def test_a_merged_optional_cell_is_not_read_as_unknown(examples: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["labs"].merge_cells("F2:F3")  # upper_limit over two rows

    first = read(edited(examples, edit))[0]
    assert first.record is None
    assert first.problems == (
        "labs!F2: labs!F2:F3 is merged; unmerge it and type the value in every row",
        "labs!F3: labs!F2:F3 is merged; unmerge it and type the value in every row",
    )


def test_a_cell_merged_across_columns_is_one_problem(examples: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["labs"].merge_cells("D2:E2")  # value over unit

    first = read(edited(examples, edit))[0]
    assert first.problems == ("labs!D2: labs!D2:E2 is merged; unmerge it and type the value in every row",)


@pytest.mark.parametrize("text", ["0", "86400", "1700006400", " 0 ", "٢٠٢٤-٠١-٠٥"])
def test_text_in_a_date_cell_must_be_yyyy_mm_dd_never_a_timestamp(
    examples: list[ScreeningRecord], text: str
) -> None:
    # the model reads a JSON string of digits as Unix seconds: "0" typed in a date cell (meaning
    # "unknown") became the birth date 1970-01-01
    def edit(wb: Workbook) -> None:
        wb["candidate"]["E2"] = text

    entries = read(edited(examples, edit))
    assert [e.record for e in entries[1:]] == examples[1:]
    assert entries[0].problems == (
        f"candidate!E2: {text.strip()!r} is not a date; type the date as YYYY-MM-DD",
    )


@pytest.mark.parametrize(("text", "shown"), [("²", "'²'"), ("١", "'١'")])
def test_an_attack_number_in_other_digits_is_a_clear_problem(
    examples: list[ScreeningRecord], text: str, shown: str
) -> None:
    def edit(wb: Workbook) -> None:
        wb["attacks"]["B2"] = text

    assert read(edited(examples, edit))[0].problems == (
        f"attacks!B2: {shown} is not an attack number; number the attacks 1, 2, ...",
    )


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # any size: beyond 64 bits and beyond a double's range
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=3000000)),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12),
    st.sampled_from(["=A1", "=TRUE()", "TRUE", "false", " ", "", "0", "86400", "1e400", "-1", "SCR-0003"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 9), st.integers(1, 8), st.integers(2, 14), hostile_values), max_size=4
    ),
    merge=st.one_of(st.none(), st.tuples(st.integers(1, 9), st.integers(1, 6), st.integers(2, 12))),
)
def test_hostile_cells_never_raise_and_leave_untouched_candidates_alone(
    examples: list[ScreeningRecord],
    edits: list[tuple[int, int, int, object]],
    merge: tuple[int, int, int] | None,
) -> None:
    touched: set[object] = set()

    def edit(wb: Workbook) -> None:
        for sheet_index, column, row, value in edits:
            ws = wb.worksheets[sheet_index]
            touched.update({ws.cell(row, 1).value, value})
            ws.cell(row, column).value = value
        if merge is not None:
            sheet_index, column, row = merge
            ws = wb.worksheets[sheet_index]
            touched.update(ws.cell(r, 1).value for r in (row, row + 1))
            ws.merge_cells(start_row=row, start_column=column, end_row=row + 1, end_column=column)

    entries = read(edited(examples, edit))
    for entry in entries:
        assert (entry.record is None) == bool(entry.problems)
        for problem in entry.problems:
            assert re.match(r"^[a-z_]+!([A-Z]+)?\d+: ", problem), problem
    by_id = {e.candidate_id: e for e in entries if e.source.startswith("c.xlsx:candidate!")}
    for original in examples:
        if original.candidate_id not in touched:
            assert by_id[original.candidate_id].record == original


def test_the_template_tells_what_the_reader_refuses() -> None:
    # Excel's own check at entry must not allow dates the reader refuses (serial 60 is 1900-02-29)
    template = load_workbook(io.BytesIO(write_workbook()))
    date_checks = [dv for dv in template["candidate"].data_validations.dataValidation if dv.type == "date"]
    assert date_checks
    assert {(dv.formula1, dv.formula2) for dv in date_checks} == {("61", "2958465")}
    notes = " ".join(str(c.value) for c in template["notes"]["A"] if c.value)
    assert "before 1900-03-01" in notes
    assert "merge" in notes


def test_a_stray_value_in_the_last_cell_of_a_sheet_is_reported_without_filling_the_grid(
    examples: list[ScreeningRecord],
) -> None:
    # the reader walked every cell of the used rectangle, creating each one: a value typed in
    # XFD1048576 meant 17 billion cells (the run never ended); it reads only the stored cells
    def edit(wb: Workbook) -> None:
        wb["labs"]["XFD1048576"] = "x"

    entries = read(edited(examples, edit))
    assert [e.record for e in entries[:3]] == examples
    assert entries[3].problems == (
        "labs!A1048576: candidate_id is empty; give the id of the candidate this row belongs to",
        "labs!XFD1048576: a value in a column without a header; delete it or name the column",
    )


def test_text_of_only_spaces_is_refused_on_writing_not_turned_into_null(
    examples: list[ScreeningRecord],
) -> None:
    # the reader takes a cell of only spaces as empty (null): writing it would change the record
    investigator = examples[0].investigator
    assert investigator is not None
    spaces = examples[0].model_copy(update={"investigator": investigator.model_copy(update={"notes": "   "})})
    with pytest.raises(WorkbookError) as caught:
        write_workbook([spaces])
    assert str(caught.value) == (
        "candidate SCR-0001, investigator.notes: '   ' is only spaces, which a spreadsheet cell reads "
        "as empty (null); write null or the text"
    )


def test_writing_two_records_with_one_candidate_id_is_refused(examples: list[ScreeningRecord]) -> None:
    # the workbook ties section rows to candidates by id: it would hold both records' rows under
    # one id, and reading it back rejects both
    with pytest.raises(WorkbookError) as caught:
        write_workbook([examples[0], examples[1], examples[0]])
    assert str(caught.value) == (
        "candidate SCR-0001: candidate_id appears in records 1 and 3; a workbook holds one row per "
        "candidate: give each record its own candidate_id"
    )


def test_text_longer_than_a_cell_holds_is_refused(examples: list[ScreeningRecord]) -> None:
    investigator = examples[0].investigator
    assert investigator is not None
    long_notes = investigator.model_copy(update={"notes": "x" * 32768})
    with pytest.raises(WorkbookError) as caught:
        write_workbook([examples[0].model_copy(update={"investigator": long_notes})])
    assert str(caught.value) == (
        "candidate SCR-0001, investigator.notes: 32768 characters, more than a spreadsheet cell holds "
        "(32767); shorten it"
    )
    fits = investigator.model_copy(update={"notes": "x" * 32767})
    (entry,) = read(write_workbook([examples[0].model_copy(update={"investigator": fits})]))
    assert entry.record is not None
    assert entry.record.investigator is not None
    assert entry.record.investigator.notes == "x" * 32767
