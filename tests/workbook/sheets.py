"""Workbook test helpers: write records, edit cells as a person would, read back."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from nmocart.batch.workbook import WorkbookCandidate, read_workbook, write_workbook
from nmocart.screening.record import ScreeningRecord, parse_record

EXAMPLES = ("eligible", "incomplete", "ineligible")


def example_records(shared_dir: Path) -> list[ScreeningRecord]:
    """The study team's three spec examples, validated."""
    return [parse_record((shared_dir / "spec" / "examples" / f"{n}.json").read_bytes()) for n in EXAMPLES]


def record(data: dict[str, Any]) -> ScreeningRecord:
    """A record from JSON-shaped data, validated as the CLI does."""
    return parse_record(json.dumps(data))


def edited(records: list[ScreeningRecord], edit: Callable[[Workbook], None]) -> bytes:
    """The workbook of ``records`` after ``edit`` changed it (saved again by openpyxl)."""
    wb = load_workbook(io.BytesIO(write_workbook(records)))
    edit(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read(data: bytes) -> list[WorkbookCandidate]:
    """Every candidate of a workbook named ``c.xlsx``."""
    return read_workbook(data, "c.xlsx")


def only_problems(data: bytes) -> list[str]:
    """The problems of the single entry the workbook gives (which must be rejected)."""
    (entry,) = read(data)
    assert entry.record is None, entry
    return list(entry.problems)


def column_letter(wb: Workbook, sheet: str, header: str) -> str:
    """The letter of the column whose header is ``header``."""
    for cell in wb[sheet][1]:
        if cell.value == header:
            return str(cell.column_letter)
    raise AssertionError(f"no column {header} on {sheet}")


def row_of(wb: Workbook, sheet: str, **match: object) -> int:
    """The first row of ``sheet`` whose cells equal ``match`` (by header)."""
    headers = {cell.value: cell.column for cell in wb[sheet][1]}
    for row in range(2, wb[sheet].max_row + 1):
        if all(wb[sheet].cell(row, headers[k]).value == v for k, v in match.items()):
            return row
    raise AssertionError(f"no row {match} on {sheet}")


def set_cell(wb: Workbook, sheet: str, header: str, row: int, value: object) -> str:
    """Put ``value`` into the ``header`` column of ``row``; return the cell's name ``sheet!B4``."""
    letter = column_letter(wb, sheet, header)
    wb[sheet][f"{letter}{row}"] = value
    return f"{sheet}!{letter}{row}"
