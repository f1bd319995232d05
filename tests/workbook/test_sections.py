"""Collected or not: how status cells, rows and missing sheets become null, [] or items."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from nmocart.screening.record import Investigator, ScreeningRecord

from .sheets import edited, example_records, read, row_of, set_cell


@pytest.fixture
def eligible(shared_dir: Path) -> list[ScreeningRecord]:
    return example_records(shared_dir)[:1]


def _first(data: bytes) -> ScreeningRecord:
    entry = read(data)[0]
    assert entry.record is not None, entry.problems
    return entry.record


def test_written_statuses_say_collected_exactly_where_the_record_was_collected(
    eligible: list[ScreeningRecord],
) -> None:
    seen: dict[str, object] = {}

    def look(wb: Workbook) -> None:
        for cell in wb["candidate"][1]:
            seen[str(cell.value)] = wb["candidate"].cell(2, cell.column).value

    edited(eligible, look)
    assert seen["conditions"] == "collected"  # [] in the record
    assert seen["labs"] == "collected"
    assert seen["contraception_agreed"] is True


def test_collected_with_no_rows_is_nothing_to_report(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        for row in range(wb["ecgs"].max_row, 1, -1):
            wb["ecgs"].delete_rows(row)

    assert _first(edited(eligible, edit)).ecgs == ()


def test_empty_status_and_no_rows_is_not_collected(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "conditions", 2, None)

    assert eligible[0].conditions == ()
    assert _first(edited(eligible, edit)).conditions is None


def test_empty_status_with_rows_is_collected(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "labs", 2, None)

    assert _first(edited(eligible, edit)).labs == eligible[0].labs


def test_not_collected_without_rows_is_null(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "pregnancy_tests", 2, "not collected")

    assert _first(edited(eligible, edit)).pregnancy_tests is None


def test_a_deleted_section_sheet_is_not_collected_for_everyone(shared_dir: Path) -> None:
    records = example_records(shared_dir)

    def edit(wb: Workbook) -> None:
        del wb["tcell_proliferation"]
        for row in (2, 3, 4):
            set_cell(wb, "candidate", "tcell_proliferation", row, None)

    back = [e.record for e in read(edited(records, edit))]
    assert [r.tcell_proliferation if r else "rejected" for r in back] == [None, None, None]
    assert [r.model_copy(update={"tcell_proliferation": None}) for r in records] == back


def test_investigator_collected_without_a_row_is_all_unknown(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["investigator"].delete_rows(2)

    assert _first(edited(eligible, edit)).investigator == Investigator()


def test_blank_rows_between_data_are_skipped_and_order_kept(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        wb["labs"].insert_rows(4, 3)

    assert _first(edited(eligible, edit)) == eligible[0]


def test_empty_cells_are_null_never_false(eligible: list[ScreeningRecord]) -> None:
    def edit(wb: Workbook) -> None:
        set_cell(wb, "candidate", "alternative_diagnoses_excluded", 2, None)
        set_cell(wb, "investigator", "survival_over_12_weeks", 2, "   ")

    record = _first(edited(eligible, edit))
    assert record.alternative_diagnoses_excluded is None
    assert record.investigator is not None
    assert record.investigator.survival_over_12_weeks is None


def test_syndromes_of_one_attack_may_leave_the_onset_date_after_the_first_row(
    eligible: list[ScreeningRecord],
) -> None:
    def edit(wb: Workbook) -> None:
        second = row_of(wb, "attacks", type="area_postrema")
        set_cell(wb, "attacks", "onset_date", second, None)

    assert _first(edited(eligible, edit)) == eligible[0]


def test_rows_of_one_candidate_may_be_spread_and_interleaved(shared_dir: Path) -> None:
    records = example_records(shared_dir)

    def edit(wb: Workbook) -> None:
        ws = wb["labs"]
        rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
        # interleave the candidates' lab rows, keeping each candidate's own order
        by_id: dict[object, list[list[object]]] = {}
        for values in rows:
            by_id.setdefault(values[0], []).append(values)
        mixed: list[list[object]] = []
        while any(by_id.values()):
            for queue in by_id.values():
                if queue:
                    mixed.append(queue.pop(0))
        for r, values in enumerate(mixed, start=2):
            for c, value in enumerate(values, start=1):
                ws.cell(r, c).value = value

    assert [e.record for e in read(edited(records, edit))] == records
