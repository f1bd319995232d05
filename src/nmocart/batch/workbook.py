"""Screening records in Excel workbooks: the template writer and the reader (the study team's way in).

The layout is derived from :class:`~nmocart.screening.record.ScreeningRecord` and the unit table of
:mod:`nmocart.kernel.units`, never restated:

- sheet ``candidate``: one row per candidate, a column per scalar field of the record, then one
  status column per section (``attacks`` ... ``investigator``) holding ``collected`` or
  ``not collected``;
- one sheet per section, named as the record field, with a ``candidate_id`` column tying each
  row to its candidate; one row per item (``attacks``: one row per syndrome, the ``attack``
  number grouping the syndromes of one attack; ``investigator``: at most one row);
- ``notes`` explains every column; a hidden ``lists`` sheet holds the drop-down vocabularies.

Collected or not (missing stays unknown): a section whose status cell is empty is collected when
its sheet has rows for the candidate and **not collected** (``null``) when it has none;
``collected`` with no rows is ``[]`` (collected, nothing to report); ``not collected`` is ``null``
and contradicts rows. A section sheet left out of the workbook is not collected for everyone.
An empty cell is ``null``. Every error names its cell: ``labs!D4: 'mmol/L' is not a unit for
creatinine; use mg/dL, umol/L or µmol/L`` (the model's own messages, with the field path mapped
to the cell).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import types
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from nmocart.batch import SourceItem, iter_sources
from nmocart.kernel.errors import describe_validation_error
from nmocart.kernel.units import ANALYTE_UNITS
from nmocart.screening.record import ScreeningRecord

if TYPE_CHECKING:  # openpyxl is imported when a workbook is written or read: CLI start-up stays fast
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = [
    "COLLECTED",
    "NOT_COLLECTED",
    "WORKBOOK_SUFFIX",
    "Column",
    "Kind",
    "SheetLayout",
    "WorkbookCandidate",
    "WorkbookError",
    "allowed_text",
    "empty_cell_meaning",
    "is_workbook",
    "layout",
    "read_workbook",
    "read_workbook_file",
    "screening_sources",
    "type_text",
    "write_workbook",
]

WORKBOOK_SUFFIX = ".xlsx"
"""Files with this ending are read as workbooks by ``screen`` and ``import``."""

CANDIDATE_SHEET = "candidate"
NOTES_SHEET = "notes"
LISTS_SHEET = "lists"
ID_COLUMN = "candidate_id"
COLLECTED = "collected"
NOT_COLLECTED = "not collected"
STATUS_WORDS = (COLLECTED, NOT_COLLECTED)

FIXED_TIME = dt.datetime(2000, 1, 1)
"""Workbook properties' created/modified time, so the same records give the same bytes."""
SIGNIFICANT_DIGITS = 15
"""A spreadsheet keeps 15 significant digits; a number needing more is refused, never rounded silently."""
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_DATE_FORMAT = "yyyy-mm-dd"
_TEXT_FORMAT = "@"
_LAST_ROW = 1048576
_MAX_SERIAL = 2958465  # 9999-12-31 in the 1900 date system
_FIRST_RELIABLE_SERIAL = 61
FIRST_RELIABLE_DATE = dt.date(1900, 3, 1)
"""In the 1900 date system serial 60 is 1900-02-29, a day that never existed (Excel's leap-year
bug): earlier date cells are ambiguous, so they are refused on reading and written as text."""
_CELL_CHARACTERS = 32767  # Excel's limit: it cuts longer text when opening the file
_EXACT_WHOLE = 2**53
"""Whole numbers above this are read as floats (a spreadsheet holds doubles; JSON ints are 64-bit)."""
_BOOLEAN_FORMULAS = {"=TRUE()": True, "=FALSE()": False}
_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_UNIT_OF: dict[tuple[str, str], str] = {("labs", "unit"): "test"}
"""Columns holding a unit, and the column naming the analyte whose units apply (kernel/units.py)."""


class Kind(StrEnum):
    """What a column holds, which decides its cell format, drop-down and reading."""

    text = "text"
    date = "date"
    number = "number"
    boolean = "boolean"
    choice = "choice"
    unit = "unit"
    status = "status"
    group = "group"


@dataclass(frozen=True)
class Column:
    """One workbook column: its header (the spec's field name), kind and where its value goes."""

    header: str
    kind: Kind
    required: bool
    description: str
    path: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class SheetLayout:
    """One sheet: the record section it holds (``None`` for the candidate sheet) and its columns."""

    name: str
    description: str
    columns: tuple[Column, ...]
    section: str | None = None
    shape: Literal["scalars", "list", "object"] = "scalars"
    nested: str | None = None


class WorkbookError(ValueError):
    """A record that cannot be written into a workbook (e.g. text with control characters)."""


@dataclass(frozen=True)
class WorkbookCandidate:
    """One candidate read from a workbook: its validated record, or the problems naming cells."""

    source: str
    candidate_id: str | None
    record: ScreeningRecord | None
    problems: tuple[str, ...] = ()


# --------------------------------------------------------------------------- layout


def _strip_none(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(a for a in get_args(annotation) if a is not type(None))
    return (annotation,)


def _classify(annotation: Any) -> tuple[Kind, tuple[str, ...]]:
    """The column kind and vocabulary of a scalar field's annotation."""
    options = _strip_none(annotation)
    words: list[str] = []
    for option in options:
        if get_origin(option) is Literal:
            words.extend(str(w) for w in get_args(option))
        else:
            for inner in _strip_none(option):
                if get_origin(inner) is Literal:
                    words.extend(str(w) for w in get_args(inner))
    if words:
        return Kind.choice, tuple(words)
    (single,) = options
    if get_origin(single) is Annotated:  # e.g. IsoDate: the checked type is the first argument
        single = get_args(single)[0]
    kinds = {dt.date: Kind.date, bool: Kind.boolean, float: Kind.number, int: Kind.number, str: Kind.text}
    return kinds[single], ()


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The item model of a ``tuple[Model, ...]`` field, or None."""
    (option,) = _strip_none(annotation)
    if get_origin(option) is tuple:
        item = get_args(option)[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _object_model(annotation: Any) -> type[BaseModel] | None:
    (option,) = _strip_none(annotation)
    return option if isinstance(option, type) and issubclass(option, BaseModel) else None


def _bounds(info: FieldInfo) -> tuple[tuple[str, float], ...]:
    out: list[tuple[str, float]] = []
    for meta in info.metadata:
        for kind, attr in ((Gt, "gt"), (Ge, "ge"), (Lt, "lt"), (Le, "le")):
            if isinstance(meta, kind):
                out.append((attr, float(getattr(meta, attr))))
    return tuple(out)


def _scalar_column(section: str | None, name: str, info: FieldInfo, path: tuple[str, ...]) -> Column:
    kind, choices = _classify(info.annotation)
    if section is not None and (section, name) in _UNIT_OF:
        kind = Kind.unit
        analytes = layout_choices(section, _UNIT_OF[(section, name)])
        choices = tuple(
            dict.fromkeys(u for a in analytes if a in ANALYTE_UNITS for u in ANALYTE_UNITS[a].spellings)
        )
    return Column(
        header=name,
        kind=kind,
        required=info.is_required(),
        description=info.description or "",
        path=path,
        choices=choices,
        bounds=_bounds(info),
    )


def layout_choices(section: str, header: str) -> tuple[str, ...]:
    """The vocabulary of a field of a section's item model (used for the analyte of a unit)."""
    model = _item_model(ScreeningRecord.model_fields[section].annotation)
    assert model is not None
    return _classify(model.model_fields[header].annotation)[1]


def _id_column() -> Column:
    return Column(
        ID_COLUMN,
        Kind.text,
        True,
        f"The candidate_id of the candidate (on the {CANDIDATE_SHEET} sheet) this row belongs to.",
        path=(ID_COLUMN,),
    )


def _section_sheet(section: str, info: FieldInfo) -> SheetLayout:
    item = _item_model(info.annotation)
    if item is None:
        obj = _object_model(info.annotation)
        assert obj is not None, section
        columns = [_id_column()]
        columns += [_scalar_column(section, n, f, (n,)) for n, f in obj.model_fields.items()]
        return SheetLayout(section, info.description or "", tuple(columns), section, "object")
    columns = [_id_column()]
    nested: str | None = None
    children: list[Column] = []
    for name, sub in item.model_fields.items():
        child = _item_model(sub.annotation) if get_origin(_strip_none(sub.annotation)[0]) is tuple else None
        if child is None:
            columns.append(_scalar_column(section, name, sub, (name,)))
            continue
        nested = name
        group = section.removesuffix("s")
        columns.insert(
            1,
            Column(
                group,
                Kind.group,
                True,
                f"Number of the {group} (1, 2, ...): rows with the same number are the {name} "
                f"of one {group}; repeat its other columns or leave them empty after the first row.",
            ),
        )
        children = [_scalar_column(section, n, f, (name, n)) for n, f in child.model_fields.items()]
    headers = [c.header for c in columns + children]
    assert len(headers) == len(set(headers)), headers
    return SheetLayout(section, info.description or "", tuple(columns + children), section, "list", nested)


def _build_layout() -> tuple[SheetLayout, ...]:
    scalars: list[Column] = []
    statuses: list[Column] = []
    sheets: list[SheetLayout] = []
    for name, info in ScreeningRecord.model_fields.items():
        if _item_model(info.annotation) is None and _object_model(info.annotation) is None:
            scalars.append(_scalar_column(None, name, info, (name,)))
            continue
        sheets.append(_section_sheet(name, info))
        statuses.append(
            Column(
                name,
                Kind.status,
                False,
                f"Whether the {name} section was collected: '{COLLECTED}' (with no rows on the {name} sheet: "
                f"collected, nothing to report) or '{NOT_COLLECTED}'; empty: collected when the "
                f"{name} sheet has rows for the candidate, else not collected.",
                path=(name,),
                choices=STATUS_WORDS,
            )
        )
    candidate = SheetLayout(
        CANDIDATE_SHEET,
        "One row per candidate: the record's single fields and whether each section was collected.",
        tuple(scalars + statuses),
    )
    return (candidate, *sheets)


_LAYOUT = _build_layout()


def layout() -> tuple[SheetLayout, ...]:
    """The workbook's sheets in order: the candidate sheet, then one per record section."""
    return _LAYOUT


# --------------------------------------------------------------------------- writer


def _vocabulary_name(sheet: str, header: str) -> str:
    return f"vocab_{sheet}_{header}"


def _unit_name(analyte: str) -> str:
    return f"units_{analyte}"


def _write_lists(wb: Workbook) -> None:
    """The hidden sheet of drop-down vocabularies, each a named range; units one range per analyte."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName

    ws = wb.create_sheet(LISTS_SHEET)
    ws.sheet_state = "hidden"
    ranges: list[tuple[str, str, tuple[str, ...]]] = []
    for sheet in _LAYOUT:
        for col in sheet.columns:
            if col.kind in (Kind.choice, Kind.status, Kind.boolean):
                words = ("TRUE", "FALSE") if col.kind is Kind.boolean else col.choices
                ranges.append((_vocabulary_name(sheet.name, col.header), f"{sheet.name}.{col.header}", words))
    for analyte, units in ANALYTE_UNITS.items():
        ranges.append((_unit_name(analyte), f"units of {analyte}", units.spellings))
    for column, (name, title, words) in enumerate(ranges, start=1):
        letter = get_column_letter(column)
        ws.cell(1, column, title).font = Font(bold=True)
        for row, word in enumerate(words, start=2):
            ws.cell(row, column, word).data_type = "s"
        ref = f"{LISTS_SHEET}!${letter}$2:${letter}${len(words) + 1}"
        wb.defined_names[name] = DefinedName(name, attr_text=ref)


def _validation(
    sheet: SheetLayout, col: Column, letter: str, columns: dict[str, str]
) -> DataValidation | None:
    from openpyxl.worksheet.datavalidation import DataValidation

    area = f"{letter}2:{letter}{_LAST_ROW}"
    dv: DataValidation
    if col.kind in (Kind.choice, Kind.status, Kind.boolean):
        dv = DataValidation(type="list", formula1=_vocabulary_name(sheet.name, col.header), allow_blank=True)
        dv.error = f"Choose {col.header} from the list."
    elif col.kind is Kind.unit:
        analyte = columns[_UNIT_OF[(sheet.name, col.header)]]
        units_of_the_row = f'INDIRECT("{_unit_name("")}"&{analyte}2)'
        dv = DataValidation(type="list", formula1=units_of_the_row, allow_blank=True)
        dv.error = "Choose a unit accepted for the row's test (numeric tests only)."
    elif col.kind is Kind.date:
        dv = DataValidation(
            type="date", operator="between", formula1=str(_FIRST_RELIABLE_SERIAL), formula2=str(_MAX_SERIAL)
        )
        dv.allow_blank = True
        dv.error = "Type a calendar date (YYYY-MM-DD); before 1900-03-01 only as text."
    elif col.kind is Kind.group:
        dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="1", allow_blank=True)
        dv.error = "Type the attack number: 1, 2, ..."
    elif col.kind is Kind.number and col.bounds:
        low = next((v for k, v in col.bounds if k in ("gt", "ge")), None)
        high = next((v for k, v in col.bounds if k in ("lt", "le")), None)
        if low is not None and high is not None:
            dv = DataValidation(type="decimal", operator="between", formula1=repr(low), formula2=repr(high))
        elif low is not None:
            dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1=repr(low))
        else:
            dv = DataValidation(type="decimal", operator="lessThanOrEqual", formula1=repr(high))
        dv.allow_blank = True
        dv.error = f"Type a number ({_bounds_text(col.bounds)})."
    else:
        return None
    dv.errorTitle = col.header
    dv.showErrorMessage = True
    dv.prompt = col.description[:255]
    dv.showInputMessage = bool(dv.prompt)
    dv.add(area)
    return dv


def _bounds_text(bounds: tuple[tuple[str, float], ...]) -> str:
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    return " and ".join(f"{signs[k]} {v:g}" for k, v in bounds)


def _width(col: Column) -> float:
    longest = max([len(col.header), *(len(c) for c in col.choices)])
    if col.kind is Kind.date:
        longest = max(longest, 11)
    if col.header in ("name", "notes"):
        longest = 32
    return float(min(max(longest + 3, 10), 40))


def _prepare_sheet(wb: Workbook, sheet: SheetLayout, first: bool) -> Worksheet:
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    ws = wb.active if first else wb.create_sheet(sheet.name)
    assert isinstance(ws, Worksheet)
    ws.title = sheet.name
    letters = {c.header: get_column_letter(i) for i, c in enumerate(sheet.columns, start=1)}
    header_fill = PatternFill("solid", fgColor="DDE4EE")
    for index, col in enumerate(sheet.columns, start=1):
        cell = ws.cell(1, index, col.header)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        dimension = ws.column_dimensions[letters[col.header]]
        dimension.width = _width(col)
        if col.kind is Kind.date:
            dimension.number_format = _DATE_FORMAT
        elif col.kind is Kind.text:
            dimension.number_format = _TEXT_FORMAT
        dv = _validation(sheet, col, letters[col.header], letters)
        if dv is not None:
            ws.add_data_validation(dv)
    ws.freeze_panes = "B2"
    return ws


def _put(ws: Worksheet, row: int, column: int, col: Column, value: Any, where: str) -> None:
    """Write one value into a cell of the kind's format; text never becomes a formula."""
    if value is None:
        return
    if isinstance(value, str) and len(value) > _CELL_CHARACTERS:
        raise WorkbookError(
            f"{where}: {len(value)} characters, more than a spreadsheet cell holds ({_CELL_CHARACTERS}); "
            "shorten it"
        )
    if isinstance(value, str) and not value.strip():
        raise WorkbookError(
            f"{where}: {value!r} is only spaces, which a spreadsheet cell reads as empty (null); "
            "write null or the text"
        )
    if isinstance(value, dt.date) and value < FIRST_RELIABLE_DATE:
        value = value.isoformat()  # as text: a date cell this early reads back ambiguous or as a time
    if isinstance(value, float) and float(f"{value:.{SIGNIFICANT_DIGITS}g}") != value:
        raise WorkbookError(
            f"{where}: {value!r} has more than {SIGNIFICANT_DIGITS} significant digits, more than a "
            "spreadsheet keeps; round it in the record"
        )
    from openpyxl.utils.exceptions import IllegalCharacterError

    try:
        cell = ws.cell(row, column, value)
    except IllegalCharacterError:
        raise WorkbookError(
            f"{where}: {value!r} cannot be written to a workbook (control characters); remove them"
        ) from None
    if isinstance(value, str):
        cell.data_type = "s"
    if col.kind is Kind.date:
        cell.number_format = _DATE_FORMAT
    elif col.kind is Kind.text:
        cell.number_format = _TEXT_FORMAT


def _item_rows(sheet: SheetLayout, items: Sequence[BaseModel]) -> Iterator[dict[str, Any]]:
    """The rows of one section of one record: header -> Python value."""
    for number, item in enumerate(items, start=1):
        values = {name: getattr(item, name) for name in type(item).model_fields}
        if sheet.nested is None:
            yield values
            continue
        parent = {k: v for k, v in values.items() if k != sheet.nested}
        group = sheet.columns[1].header
        for child in values[sheet.nested]:
            yield {group: number, **parent, **{n: getattr(child, n) for n in type(child).model_fields}}


def write_workbook(records: Sequence[ScreeningRecord] = ()) -> bytes:
    """The workbook of ``records`` (the empty template when none), as deterministic ``.xlsx`` bytes."""
    from openpyxl import Workbook

    first_of: dict[str, int] = {}
    for number, record in enumerate(records, start=1):
        first = first_of.setdefault(record.candidate_id, number)
        if first != number:
            raise WorkbookError(
                f"candidate {record.candidate_id}: candidate_id appears in records {first} and {number}; "
                "a workbook holds one row per candidate: give each record its own candidate_id"
            )
    wb = Workbook()
    sheets = {s.name: _prepare_sheet(wb, s, i == 0) for i, s in enumerate(_LAYOUT)}
    next_row = dict.fromkeys(sheets, 2)
    for record in records:
        rid = record.candidate_id
        for sheet in _LAYOUT:
            ws = sheets[sheet.name]
            if sheet.section is None:
                rows: list[dict[str, Any]] = [
                    {
                        c.header: (
                            getattr(record, c.header)
                            if c.kind is not Kind.status
                            else None
                            if getattr(record, c.header) is None
                            else COLLECTED
                        )
                        for c in sheet.columns
                    }
                ]
            else:
                content = getattr(record, sheet.section)
                if content is None:
                    continue
                items = content if isinstance(content, tuple) else (content,)
                rows = [{ID_COLUMN: rid, **r} for r in _item_rows(sheet, items)]
            for values in rows:
                row = next_row[sheet.name]
                next_row[sheet.name] += 1
                for index, col in enumerate(sheet.columns, start=1):
                    where = f"candidate {rid}, {sheet.name}.{col.header}"
                    _put(ws, row, index, col, values.get(col.header), where)
    _write_notes(wb)
    _write_lists(wb)
    wb.properties.creator = "nmocart"
    wb.properties.lastModifiedBy = "nmocart"
    wb.properties.title = "nmocart screening record workbook"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return _deterministic_bytes(wb)


def _deterministic_bytes(wb: Workbook) -> bytes:
    """Save without openpyxl's 'modified = now' and with fixed zip entry times."""
    from openpyxl.writer.excel import ExcelWriter

    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def empty_cell_meaning(col: Column) -> str:
    """What an empty cell of this column means."""
    if col.kind is Kind.status:
        return "collected if the section's sheet has rows for the candidate, else not collected (null)"
    if col.required:
        return "not allowed: required"
    return "null (unknown or not recorded)"


def type_text(col: Column) -> str:
    """The column's type as the notes and the field guide show it."""
    text = {
        Kind.text: "text",
        Kind.date: "date (YYYY-MM-DD)",
        Kind.number: "number",
        Kind.boolean: "TRUE / FALSE",
        Kind.choice: "one of the list",
        Kind.unit: "unit of the row's test",
        Kind.status: "collected / not collected",
        Kind.group: "whole number >= 1",
    }[col.kind]
    return f"{text} ({_bounds_text(col.bounds)})" if col.bounds else text


def allowed_text(sheet: SheetLayout, col: Column) -> str:
    """The allowed values: the vocabulary, or per analyte for a unit column."""
    if col.kind is Kind.unit:
        analytes = layout_choices(sheet.name, _UNIT_OF[(sheet.name, col.header)])
        return "; ".join(
            f"{a}: {', '.join(ANALYTE_UNITS[a].spellings)}" for a in analytes if a in ANALYTE_UNITS
        )
    if col.kind is Kind.boolean:
        return "TRUE, FALSE"
    return ", ".join(col.choices)


NOTES_RULES = (
    "Fill one row per candidate on the candidate sheet, and one row per item on each section "
    "sheet, with the candidate's candidate_id in column A.",
    "An empty cell is null: unknown or not recorded. Never write 0, 'no' or 'none' for unknown.",
    f"Section status (candidate sheet, last columns): '{COLLECTED}' with no rows on the section's "
    f"sheet means collected, nothing to report ([]); '{NOT_COLLECTED}' means not collected (null); "
    "empty means collected if the sheet has rows for the candidate, otherwise not collected.",
    "A section sheet deleted from the workbook is not collected for every candidate.",
    "attacks: one row per syndrome; rows with the same attack number form one attack.",
    "Dates: type them as dates (or as text YYYY-MM-DD); a date before 1900-03-01 only as text "
    "YYYY-MM-DD (spreadsheets count a 1900-02-29 that never existed). Text columns are formatted as "
    "Text so that ids such as 0012 keep their zeros. Type values, not formulas.",
    "Do not merge cells: only a merged range's first cell holds its value, so every row needs its own "
    "values (candidate_id on every row); merged cells are refused.",
    "labs: value and upper_limit are in the row's unit; the unit drop-down lists the units accepted "
    "for the row's test; qualitative tests have result and no value, unit or upper_limit.",
)


def _write_notes(wb: Workbook) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(NOTES_SHEET)
    row = 1
    ws.cell(row, 1, "How to fill in this workbook").font = Font(bold=True, size=13)
    for rule in NOTES_RULES:
        row += 1
        ws.cell(row, 1, rule)
    row += 2
    headers = ("sheet", "column", "type", "required", "allowed values", "empty cell means", "meaning")
    widths = (20, 26, 26, 10, 50, 40, 80)
    for index, (header, width) in enumerate(zip(headers, widths, strict=True), start=1):
        ws.cell(row, index, header).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(index)].width = width
    for sheet in _LAYOUT:
        for col in sheet.columns:
            row += 1
            values = (
                sheet.name,
                col.header,
                type_text(col),
                "yes" if col.required else "no",
                allowed_text(sheet, col),
                empty_cell_meaning(col),
                col.description,
            )
            for index, value in enumerate(values, start=1):
                ws.cell(row, index, value).alignment = Alignment(wrap_text=index >= 5, vertical="top")


# --------------------------------------------------------------------------- reader


class _Empty:
    """Marker of an empty cell (the field is left out, i.e. null or missing)."""


_EMPTY = _Empty()


@dataclass
class _Row:
    """One non-empty row: typed values and cell names by header, and the cells that failed to read."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)


@dataclass
class _Table:
    sheet: SheetLayout
    rows: list[_Row] = field(default_factory=list)


@dataclass
class _Problems:
    lines: list[str] = field(default_factory=list)

    def add(self, cell: str, message: str) -> None:
        self.lines.append(f"{cell}: {message}")


def _cell_value(cell: Cell, col: Column, epoch: dt.datetime) -> Any:
    """The JSON value of one cell for its column kind; ``_EMPTY``; or a ValueError saying the fix."""
    value = cell.value
    if cell.data_type == "f" and isinstance(value, str) and value.upper() in _BOOLEAN_FORMULAS:
        value = _BOOLEAN_FORMULAS[value.upper()]  # LibreOffice saves TRUE and FALSE as these formulas
    elif cell.data_type == "f":
        raise ValueError("holds a formula; type the value itself (paste as values)")
    if cell.data_type == "e" and col.kind is Kind.date and value == "#VALUE!":
        # openpyxl also reads a number too large for a date in a date-formatted cell this way
        raise ValueError(
            "is not a date (a number too large for a date, or #VALUE!); type the date as YYYY-MM-DD"
        )
    if cell.data_type == "e":
        raise ValueError(f"holds the spreadsheet error {value}; type the value")
    if value is None or (isinstance(value, str) and not value.strip()):
        return _EMPTY
    if col.kind is Kind.text:
        if isinstance(value, str):
            return value
        raise ValueError(
            f"{_shown(value)} is not text; {col.header} is text: format the cell as Text and type it again"
        )
    if isinstance(value, str):
        value = value.strip()
    if col.kind is Kind.date:
        return _date_value(value, epoch)
    if col.kind is Kind.number:
        return _number_value(value)
    if col.kind is Kind.boolean:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(
            f"{_shown(value)} is not TRUE or FALSE; choose one, or leave the cell empty when unknown"
        )
    if col.kind is Kind.group:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and value >= 1
            and value == int(value)
        ):
            return int(value)
        raise ValueError(f"{_shown(value)} is not an attack number; number the attacks 1, 2, ...")
    if isinstance(value, str):
        return value  # choice, unit, status: the model (or the status check) names the allowed words
    raise ValueError(f"{_shown(value)} is not one of the allowed words; choose from the cell's list")


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return repr(value)


_EARLY_DATE = (
    "is before 1900-03-01, where spreadsheet date cells are ambiguous (serial 60 is 1900-02-29, "
    "a day that never existed); type the date as text YYYY-MM-DD"
)


def _date_value(value: Any, epoch: dt.datetime) -> str:
    from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

    in_1900_system = epoch == WINDOWS_EPOCH
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError(f"{_shown(value)} has a time of day; give the date only")
        if in_1900_system and value.date() < FIRST_RELIABLE_DATE:
            raise ValueError(f"{_shown(value.date())} {_EARLY_DATE}")
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if not _DATE_TEXT.fullmatch(value):  # the model would read "0" or "86400" as Unix seconds
            raise ValueError(f"{value!r} is not a date; type the date as YYYY-MM-DD")
        return value  # the model checks it is a real calendar date
    if isinstance(value, int | float) and not isinstance(value, bool):
        if in_1900_system and value < _FIRST_RELIABLE_SERIAL and value == int(value) and value >= 1:
            raise ValueError(f"serial {_shown(value)} {_EARLY_DATE}")
        if value == int(value) and 1 <= value <= _MAX_SERIAL:
            converted = from_excel(int(value), epoch)
            if isinstance(converted, dt.datetime):
                return converted.date().isoformat()
        raise ValueError(f"{_shown(value)} is not a date serial number; type the date as YYYY-MM-DD")
    raise ValueError(f"{_shown(value)} is not a date; type the date as YYYY-MM-DD")


def _number_value(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_shown(value)} is not a number; type the number")
    if isinstance(value, str):
        if not _NUMBER_TEXT.fullmatch(value):
            raise ValueError(f"{value!r} is not a number; type digits with a decimal point, no unit or comma")
        number: float | int = float(value)
    elif isinstance(value, int) and abs(value) > _EXACT_WHOLE:
        # another program may store a huge whole number without a decimal point: openpyxl reads a
        # Python int, which JSON (64 bits) and math.isfinite (a double's range) cannot take
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    else:
        number = value
    if not math.isfinite(number):
        raise ValueError(f"{_shown(value)} is not a finite number; type the measured value")
    return number


def _read_table(ws: Worksheet, sheet: SheetLayout, epoch: dt.datetime, structure: list[str]) -> _Table:
    """Header check (problems into ``structure``) and the typed non-empty rows of one sheet."""
    from openpyxl.utils import get_column_letter

    table = _Table(sheet)
    expected = {c.header: c for c in sheet.columns}
    found: dict[int, Column] = {}
    header_row = next(ws.iter_rows(min_row=1, max_row=1), ())
    for cell in header_row:
        text = cell.value
        if text is None or (isinstance(text, str) and not text.strip()):
            continue
        name = str(text).strip()
        if name not in expected:
            structure.append(
                f"{sheet.name}!{cell.coordinate}: {name!r} is not a column of {sheet.name}; "
                f"remove it or use one of {', '.join(expected)}"
            )
        elif name in {c.header for c in found.values()}:
            structure.append(f"{sheet.name}!{cell.coordinate}: column {name!r} appears twice; keep one")
        else:
            found[cell.column] = expected[name]
    missing = [h for h in expected if h not in {c.header for c in found.values()}]
    if missing:
        structure.append(
            f"{sheet.name}!1: missing column(s) {', '.join(missing)}; "
            "add them to the header row (nmocart template record gives the layout)"
        )
    if structure:
        return table
    prefixes = {c.header: f"{sheet.name}!{get_column_letter(i)}" for i, c in found.items()}
    merged = _merged_data_cells(ws)
    for cells in _stored_rows(ws):
        present = [
            c for c in cells if c.value is not None and not (isinstance(c.value, str) and not c.value.strip())
        ]
        if not present:
            continue
        row = _Row(cells[0].row)
        row.cells = {header: f"{prefix}{row.number}" for header, prefix in prefixes.items()}
        for first, last, merged_range in merged.get(row.number, ()):
            row.problems.append(
                f"{sheet.name}!{get_column_letter(first)}{row.number}: {sheet.name}!{merged_range} "
                "is merged; unmerge it and type the value in every row"
            )
            row.failed.update(found[c].header for c in range(first, last + 1) if c in found)
        for cell in present:
            col_or_none = found.get(cell.column)
            where = f"{sheet.name}!{cell.coordinate}"
            if col_or_none is None:
                row.problems.append(
                    f"{where}: a value in a column without a header; delete it or name the column"
                )
                continue
            try:
                value = _cell_value(cell, col_or_none, epoch)
            except ValueError as exc:
                row.problems.append(f"{where}: {exc}")
                row.failed.add(col_or_none.header)
                continue
            if not isinstance(value, _Empty):
                row.values[col_or_none.header] = value
        table.rows.append(row)
    return table


def _stored_rows(ws: Worksheet) -> list[list[Cell]]:
    """The cells the file holds below the header, row by row in order.

    ``iter_rows`` would create every cell of the used rectangle: one stray value in XFD1048576
    means 17 billion cells. openpyxl keeps a loaded sheet's cells in ``_cells`` (row, column).
    """
    rows: dict[int, list[Cell]] = {}
    for (row, _column), cell in sorted(ws._cells.items()):
        if row >= 2:
            rows.setdefault(row, []).append(cell)
    return list(rows.values())


def _merged_data_cells(ws: Worksheet) -> dict[int, list[tuple[int, int, str]]]:
    """Row -> (first column, last column, range) of each merged range below the header.

    Only a merged range's first cell holds its value: the other rows would read as empty (an id
    lost, a value unknown), so every row a merged range covers is refused instead of guessed.
    """
    out: dict[int, list[tuple[int, int, str]]] = {}
    for merged in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
        for row in range(max(merged.min_row, 2), merged.max_row + 1):
            out.setdefault(row, []).append((merged.min_col, merged.max_col, merged.coord))
    return out


@dataclass
class _Candidate:
    """The rows of one candidate across the sheets, and the path -> cell map of its record."""

    row: _Row
    problems: _Problems = field(default_factory=_Problems)
    cells: dict[str, str] = field(default_factory=dict)
    failed_paths: set[str] = field(default_factory=set)


def _assemble(
    cand: _Candidate,
    tables: dict[str, _Table | None],
    rows_of: dict[str, dict[str, list[_Row]]],
) -> dict[str, Any]:
    """The candidate's record as JSON data; fills ``cand.cells`` (field path -> cell)."""
    candidate_sheet = _LAYOUT[0]
    data: dict[str, Any] = {}
    key = cand.row.values.get(ID_COLUMN)
    bad = cand.row.failed
    cand.cells["(record)"] = cand.row.cells[ID_COLUMN]
    for col in candidate_sheet.columns:
        cand.cells[col.header] = cand.row.cells[col.header]
        if col.header in bad:
            cand.failed_paths.add(col.header)
        if col.kind is not Kind.status and col.header in cand.row.values:
            data[col.header] = cand.row.values[col.header]
    for sheet in _LAYOUT[1:]:
        section = sheet.name
        status_cell = cand.row.cells[section]
        status = cand.row.values.get(section)
        table = tables.get(section)
        rows = rows_of.get(section, {}).get(key, []) if isinstance(key, str) else []
        if status is not None and status not in STATUS_WORDS:
            cand.problems.add(
                status_cell, f"{status!r} is not a section status; choose {COLLECTED!r} or {NOT_COLLECTED!r}"
            )
            cand.failed_paths.add(section)
            continue
        if status == NOT_COLLECTED and rows:
            cand.problems.add(
                status_cell,
                f"{section} marked {NOT_COLLECTED!r} but the {section} sheet has {len(rows)} row(s) for "
                f"this candidate (first {section}!A{rows[0].number}); clear the status or delete the rows",
            )
            cand.failed_paths.add(section)
            continue
        if table is None:
            if status == COLLECTED:
                cand.problems.add(
                    status_cell,
                    f"{section} marked {COLLECTED!r} but the workbook has no {section} sheet; add the "
                    f"sheet (nmocart template record gives it) or write {NOT_COLLECTED!r}",
                )
                cand.failed_paths.add(section)
            continue
        if status != COLLECTED and not rows:
            continue
        cand.cells[section] = status_cell
        if sheet.shape == "object":
            if len(rows) > 1:
                cand.problems.add(
                    f"{section}!A{rows[1].number}",
                    f"a second {section} row for this candidate (first on row {rows[0].number}); keep one",
                )
                cand.failed_paths.add(section)
                continue
            data[section] = _object_data(cand, sheet, section, rows[0] if rows else None)
        elif sheet.nested is None:
            data[section] = [_object_data(cand, sheet, f"{section}[{i}]", row) for i, row in enumerate(rows)]
        else:
            data[section] = _nested_data(cand, sheet, rows)
    return data


def _object_data(cand: _Candidate, sheet: SheetLayout, path: str, row: _Row | None) -> dict[str, Any]:
    if row is None:
        return {}
    cand.cells[path] = row.cells[ID_COLUMN]
    bad = row.failed
    out: dict[str, Any] = {}
    for col in sheet.columns[1:]:
        cand.cells[f"{path}.{col.header}"] = row.cells[col.header]
        if col.header in bad:
            cand.failed_paths.add(f"{path}.{col.header}")
        if col.header in row.values:
            out[col.header] = row.values[col.header]
    return out


def _nested_data(cand: _Candidate, sheet: SheetLayout, rows: list[_Row]) -> list[dict[str, Any]]:
    """``attacks``: rows grouped by the attack number, each row one syndrome."""
    section, nested = sheet.name, sheet.nested
    assert nested is not None
    group = sheet.columns[1].header
    parents = [c for c in sheet.columns[2:] if len(c.path) == 1]
    children = [c for c in sheet.columns if len(c.path) == 2]
    numbers: dict[int, int] = {}
    items: list[dict[str, Any]] = []
    sources: list[dict[str, _Row]] = []
    for row in rows:
        bad = row.failed
        number = row.values.get(group)
        if number is None:
            if group not in bad:
                cand.problems.add(
                    row.cells[group],
                    f"the {group} number is empty; give every row the number of its {group} (1, 2, ...)",
                )
            cand.failed_paths.add(section)
            continue
        if number not in numbers:
            numbers[number] = len(items)
            index = len(items)
            items.append({nested: []})
            sources.append({})
            cand.cells[f"{section}[{index}]"] = row.cells[group]
            cand.cells[f"{section}[{index}].{nested}"] = row.cells[group]
        index = numbers[number]
        item, seen = items[index], sources[index]
        for col in parents:
            path = f"{section}[{index}].{col.header}"
            cand.cells.setdefault(path, row.cells[col.header])
            if col.header in bad:
                cand.failed_paths.add(path)
            if col.header not in row.values:
                continue
            if col.header in item and item[col.header] != row.values[col.header]:
                cand.problems.add(
                    row.cells[col.header],
                    f"{col.header} differs from row {seen[col.header].number} of {group} {number}; "
                    f"give one {col.header} per {group}",
                )
                cand.failed_paths.add(path)
                continue
            if col.header not in item:
                item[col.header] = row.values[col.header]
                seen[col.header] = row
                cand.cells[path] = row.cells[col.header]
        child_index = len(item[nested])
        child_path = f"{section}[{index}].{nested}[{child_index}]"
        cand.cells[child_path] = row.cells[group]
        child: dict[str, Any] = {}
        for col in children:
            cand.cells[f"{child_path}.{col.header}"] = row.cells[col.header]
            if col.header in bad:
                cand.failed_paths.add(f"{child_path}.{col.header}")
            if col.header in row.values:
                child[col.header] = row.values[col.header]
        item[nested].append(child)
    return items


def _cell_of(cells: dict[str, str], path: str) -> str:
    """The cell of a field path, or of its nearest enclosing path that has one."""
    while path:
        if path in cells:
            return cells[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return cells["(record)"]


def _covered(path: str, failed: set[str]) -> bool:
    """Whether a model error at ``path`` follows from a cell already reported as unreadable."""
    return any(path == f or path.startswith((f + ".", f + "[")) for f in failed)


def _validate(cand: _Candidate, data: dict[str, Any]) -> ScreeningRecord | None:
    try:
        record = ScreeningRecord.model_validate_json(orjson.dumps(data))
    except ValidationError as exc:
        for line in describe_validation_error(exc):
            path, _, message = line.partition(": ")
            if not _covered(path, cand.failed_paths):
                cand.problems.add(_cell_of(cand.cells, path), message)
        return None
    return record if not cand.problems.lines else None


def _load(data: bytes) -> Workbook:
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(io.BytesIO(data), data_only=False, rich_text=False)


def read_workbook(data: bytes, name: str) -> list[WorkbookCandidate]:
    """Every candidate of a workbook, in the order of the candidate sheet, then any orphan rows.

    A workbook that cannot be used at all (not ``.xlsx``, unknown sheets or columns, no candidate
    sheet) gives one entry with the problems; otherwise each candidate is validated on its own.
    """
    from openpyxl.worksheet.worksheet import Worksheet

    try:
        wb = _load(data)
    except Exception as exc:  # openpyxl raises many kinds on a file that is not a workbook
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [
            WorkbookCandidate(
                name,
                None,
                None,
                (f"{name}: not a readable Excel workbook ({reason}); save it as .xlsx (Excel Workbook)",),
            )
        ]
    epoch = wb.epoch
    structure: list[str] = []
    known = {s.name: s for s in _LAYOUT}
    for title in wb.sheetnames:
        if title not in known and title not in (NOTES_SHEET, LISTS_SHEET):
            hint = next((k for k in known if k.lower() == title.strip().lower()), None)
            fix = f"rename it {hint!r}" if hint else f"delete it or rename it to one of {', '.join(known)}"
            structure.append(f"sheet {title!r} is not a section of the record; {fix}")
    if CANDIDATE_SHEET not in wb.sheetnames:
        structure.append(f"no {CANDIDATE_SHEET!r} sheet; use the layout of nmocart template record")
    tables: dict[str, _Table | None] = {}
    for sheet in _LAYOUT:
        if sheet.name in wb.sheetnames:
            ws = wb[sheet.name]
            if not isinstance(ws, Worksheet):
                structure.append(
                    f"sheet {sheet.name!r} is a chart, not a table; replace it by the template's sheet"
                )
                continue
            tables[sheet.name] = _read_table(ws, sheet, epoch, structure)
        else:
            tables[sheet.name] = None
    if structure:
        return [WorkbookCandidate(name, None, None, tuple(structure))]
    candidate_table = tables[CANDIDATE_SHEET]
    assert candidate_table is not None
    return _candidates(name, candidate_table, tables)


def _candidates(
    name: str, candidate_table: _Table, tables: dict[str, _Table | None]
) -> list[WorkbookCandidate]:
    out: list[WorkbookCandidate] = []
    ids: dict[str, list[_Row]] = {}
    for row in candidate_table.rows:
        value = row.values.get(ID_COLUMN)
        if isinstance(value, str):
            ids.setdefault(value, []).append(row)
    rows_of: dict[str, dict[str, list[_Row]]] = {}
    orphans: list[tuple[str, _Row]] = []
    for section, table in tables.items():
        if table is None or section == CANDIDATE_SHEET:
            continue
        grouped: dict[str, list[_Row]] = {}
        for row in table.rows:
            value = row.values.get(ID_COLUMN)
            if isinstance(value, str) and value in ids:
                grouped.setdefault(value, []).append(row)
            else:
                orphans.append((section, row))
        rows_of[section] = grouped
    for row in candidate_table.rows:
        source = f"{name}:{CANDIDATE_SHEET}!A{row.number}"
        value = row.values.get(ID_COLUMN)
        cand = _Candidate(row)
        rid = value if isinstance(value, str) else None
        if rid is not None and len(ids[rid]) > 1:
            others = ", ".join(str(r.number) for r in ids[rid] if r is not row)
            cand.problems.add(
                row.cells[ID_COLUMN],
                f"candidate_id {rid!r} is also on row(s) {others}; one row per candidate",
            )
            out.append(WorkbookCandidate(source, rid, None, tuple(cand.problems.lines)))
            continue
        data = _assemble(cand, tables, rows_of)
        own = list(row.problems)
        for grouped_rows in rows_of.values():
            for section_row in grouped_rows.get(rid, []) if rid is not None else []:
                own.extend(section_row.problems)
        cand.problems.lines[:0] = own
        record = _validate(cand, data)
        out.append(WorkbookCandidate(source, rid, record, tuple(cand.problems.lines)))
    for section, row in orphans:
        value = row.values.get(ID_COLUMN)
        cell = row.cells[ID_COLUMN]
        if value is None and ID_COLUMN in row.failed:  # its own problem already names the fix
            out.append(WorkbookCandidate(f"{name}:{section}!A{row.number}", None, None, tuple(row.problems)))
            continue
        if value is None:
            message = "candidate_id is empty; give the id of the candidate this row belongs to"
        else:
            message = (
                f"candidate_id {value!r} is not on the {CANDIDATE_SHEET} sheet; "
                "add a row for the candidate there or correct the id"
            )
        own = row.problems
        out.append(
            WorkbookCandidate(
                f"{name}:{section}!A{row.number}",
                value if isinstance(value, str) else None,
                None,
                (f"{cell}: {message}", *own),
            )
        )
    return out


def is_workbook(path: str) -> bool:
    """Whether ``path`` names an Excel workbook that ``screen`` and ``import`` read."""
    return path.lower().endswith(WORKBOOK_SUFFIX)


def read_workbook_file(path: str) -> list[WorkbookCandidate]:
    """:func:`read_workbook` of a file; an unreadable file gives one entry saying why."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [
            WorkbookCandidate(path, None, None, (f"{path}: cannot read the file: {exc.strerror or exc}",))
        ]
    return read_workbook(data, path)


def screening_sources(paths: Sequence[str]) -> Iterator[SourceItem]:
    """Like :func:`nmocart.batch.iter_sources`, with each workbook giving one item per candidate.

    A valid candidate's payload is its record as JSON (the same bytes a JSON file would hold
    after validation); a rejected one carries its cell-naming problems as the read error.
    """
    for path in paths:
        if not is_workbook(path):
            yield from iter_sources([path])
            continue
        entries = read_workbook_file(path)
        try:  # the progress bar counts file bytes: share the workbook's size among its candidates
            sizes = _shares(os.stat(path).st_size, len(entries))
        except OSError:
            sizes = [0] * len(entries)
        for entry, size in zip(entries, sizes, strict=True):
            if entry.record is not None:
                payload = orjson.dumps(entry.record.model_dump(mode="json"))
                yield SourceItem(entry.source, payload, size)
            else:
                yield SourceItem(entry.source, b"", size, read_error="; ".join(entry.problems))


def _shares(total: int, count: int) -> list[int]:
    """``count`` whole numbers summing to ``total``."""
    return [total // count + (1 if i < total % count else 0) for i in range(count)]
