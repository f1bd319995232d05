"""Reading the long sample CSV (kinetics spec section 1) into typed, validated arrays.

Every problem names the row (the line number in the file, the header being row 1), the
column and the fix, e.g. ``row 14: conc 'abc' is not a number; write a number or mark the
row blq=1``. All problems are collected, not only the first. Parsing is vectorised with numpy
and falls back to a row-by-row pass only to name the rows of a failing column.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from nmocart.kinetics.nca import Profiles

REQUIRED = ("subject", "time", "conc", "blq")
OPTIONAL = ("analyte", "unit", "lloq")
DEFAULT_ANALYTE = "CAR transgene"
"""Analyte name used when the file has no ``analyte`` column (spec: default one analyte)."""

MAX_PROBLEMS = 50
"""At most this many problems are listed; the rest are counted."""


class SampleInputError(ValueError):
    """The CSV cannot be analysed; ``problems`` has one actionable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problem lines; the message lists them (truncated past ``MAX_PROBLEMS``)."""
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown = [*shown, f"... and {len(problems) - MAX_PROBLEMS} more problems"]
        super().__init__("\n".join(shown))
        self.problems = problems


@dataclass(frozen=True)
class SampleTable:
    """Validated samples grouped into profiles (one per subject and analyte).

    ``profiles`` feeds the NCA engine; per profile it has ``subject``, ``analyte``, the
    concentration ``unit`` ("" when the file gives none) and ``lloq`` (NaN when not given;
    the largest one stated in the profile otherwise). Profiles keep the order in which each
    (subject, analyte) first appears in the file; ``row`` holds each sample's file row.
    """

    profiles: Profiles
    subject: tuple[str, ...]
    analyte: tuple[str, ...]
    unit: tuple[str, ...]
    lloq: NDArray[np.float64]
    row: NDArray[np.intp]


def _is_number(text: str) -> bool:
    """True for text that parses as a finite float."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _numbers(
    values: list[str], rows: list[int], column: str, fix: str, problems: list[str]
) -> NDArray[np.float64]:
    """Parse a column to floats; non-numeric, NaN or infinite cells become problems (and NaN)."""
    arr = np.array(values, dtype=object)
    try:
        out = np.asarray(arr.astype(np.float64), dtype=np.float64)
        if bool(np.all(np.isfinite(out))):
            return out
    except ValueError:
        pass
    out = np.full(len(values), np.nan)
    for i, text in enumerate(values):
        if _is_number(text):
            out[i] = float(text)
        else:
            problems.append(
                f"row {rows[i]}: {column} {text!r} is not a number; {fix}"
                if text
                else f"row {rows[i]}: {column} is empty; {fix}"
            )
    return out


class Problem(NamedTuple):
    """One input problem: its file row, the subject it belongs to (when readable), the text."""

    row: int
    subject: str | None
    text: str


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_header(header: list[str]) -> tuple[dict[str, int], int]:
    """The column index of each known column and the row width; bad headers raise."""
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        problems.append(
            f"row 1 (header): missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; add {'them' if len(missing) > 1 else 'it'} "
            f"(required: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})"
        )
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"row 1 (header): column {name} appears twice; keep one")
    if problems:
        raise SampleInputError(problems)
    return {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}, len(names)


def first_row(reader: Iterator[list[str]]) -> list[str]:
    """The header row; an empty file or broken CSV raises."""
    try:
        return next(reader)
    except StopIteration:
        raise SampleInputError(
            ["row 1: the file is empty; write a header row: subject,time,conc,blq"]
        ) from None
    except csv.Error as exc:
        raise SampleInputError([f"row 1: not valid CSV ({exc}); fix the quoting"]) from None


def quotes_closed(
    lines: Iterable[str], problems: list[Problem], subject_column: int | None = None
) -> Iterator[str]:
    """The lines of a CSV with every quote closed on its own row.

    A row with an odd number of ``"`` would make the CSV reader swallow the following rows
    into one field; such a row is replaced by a blank line (row numbers stay aligned) and
    becomes a problem of its own subject, so one stray quote loses only its own row.
    """
    for number, line in enumerate(lines, start=1):
        if line.count('"') % 2 == 0:
            yield line
            continue
        subject = None
        if subject_column is not None:
            cells = line.split(",")
            if subject_column < len(cells) and '"' not in cells[subject_column]:
                subject = cells[subject_column].strip() or None
        problems.append(
            Problem(
                number,
                subject,
                f'row {number}: a quote (") is opened but not closed on this row; close it or remove it',
            )
        )
        yield "\n"


def row_shape_problem(fields: list[str], width: int, line: int, index: dict[str, int]) -> Problem | None:
    """A row whose field count differs from the header's (blamed on its subject when readable)."""
    if len(fields) == width:
        return None
    j = index["subject"]
    subject = fields[j].strip() if j < len(fields) and fields[j].strip() else None
    return Problem(
        line,
        subject,
        f"row {line}: has {len(fields)} fields but the header has {width}; make every row match the header",
    )


@dataclass
class SampleColumns:
    """The validated cells of a run of rows (rows with problems still included)."""

    subject: list[str]
    analyte: list[str]
    unit: list[str]
    blq: NDArray[np.bool_]
    time: NDArray[np.float64]
    conc: NDArray[np.float64]
    lloq: NDArray[np.float64]
    row_no: list[int]


def check_rows(
    index: dict[str, int],
    rows: list[list[str]],
    row_no: list[int],
    first_unit: dict[str, tuple[str, int]],
    problems: list[Problem],
) -> SampleColumns:
    """Validate every cell of ``rows`` (vectorised); append one problem per bad cell.

    ``first_unit`` (analyte -> the first unit and its row) carries across calls, so a file
    read in chunks is checked exactly as a whole.
    """

    def column(name: str) -> list[str]:
        """The stripped cells of one column."""
        j = index[name]
        return [r[j].strip() for r in rows]

    subject = column("subject")
    found: list[tuple[int, str]] = []
    for i, s in enumerate(subject):
        if not s:
            found.append((i, f"row {row_no[i]}: subject is empty; write the subject identifier"))
    analyte = column("analyte") if "analyte" in index else [DEFAULT_ANALYTE] * len(rows)
    analyte = [a or DEFAULT_ANALYTE for a in analyte]
    unit = column("unit") if "unit" in index else [""] * len(rows)
    for name, cells in (("subject", subject), ("analyte", analyte), ("unit", unit)):
        if _CONTROL.search("".join(cells)) is None:
            continue
        for i, cell in enumerate(cells):
            bad = _CONTROL.search(cell)
            if bad is not None:
                found.append(
                    (
                        i,
                        f"row {row_no[i]}: {name} contains the control character "
                        f"U+{ord(bad.group()):04X}; remove it",
                    )
                )
    blq_text = column("blq")
    blq_arr = np.array(blq_text, dtype=object)
    blq = np.asarray(blq_arr == "1", dtype=np.bool_)
    bad_blq = ~(blq | (blq_arr == "0"))
    for i in np.flatnonzero(bad_blq).tolist():
        found.append(
            (
                i,
                f"row {row_no[i]}: blq {blq_text[i]!r} must be 0 or 1; write 1 when the sample "
                "is below the limit of quantification, else 0",
            )
        )
    strings: list[str] = []
    time = _numbers(column("time"), row_no, "time", "write the days since infusion as a number", strings)
    found.extend(_with_index(strings, row_no))
    conc_text = column("conc")
    # A BLQ row's conc is ignored (spec section 1), so it is not parsed.
    conc_for_parse = [("0" if b else c) for c, b in zip(conc_text, blq.tolist(), strict=True)]
    strings = []
    conc = _numbers(conc_for_parse, row_no, "conc", "write a number or mark the row blq=1", strings)
    found.extend(_with_index(strings, row_no))
    for i in np.flatnonzero(conc < 0).tolist():
        found.append(
            (
                i,
                f"row {row_no[i]}: conc {conc_text[i]} is negative; write the measured value "
                "(>= 0) or mark the row blq=1",
            )
        )
    conc = np.where(blq | ~np.isfinite(conc) | (conc < 0), 0.0, conc)
    lloq = np.full(len(rows), np.nan)
    if "lloq" in index:
        lloq_text = column("lloq")
        for i, text in enumerate(lloq_text):
            if not text:
                continue
            if _is_number(text) and float(text) > 0:
                lloq[i] = float(text)
            else:
                found.append(
                    (
                        i,
                        f"row {row_no[i]}: lloq {text!r} is not a positive number; write the "
                        "lower limit of quantification or leave the cell empty",
                    )
                )
    for i, (a, u) in enumerate(zip(analyte, unit, strict=True)):
        if not u:
            continue
        seen = first_unit.setdefault(a, (u, row_no[i]))
        if seen[0] != u:
            found.append(
                (
                    i,
                    f"row {row_no[i]}: unit {u!r} differs from {seen[0]!r} (row {seen[1]}) for "
                    f"analyte {a}; use one unit per analyte",
                )
            )
    problems.extend(Problem(row_no[i], subject[i] or None, text) for i, text in found)
    return SampleColumns(subject, analyte, unit, blq, time, np.asarray(conc, dtype=np.float64), lloq, row_no)


def _with_index(lines: list[str], row_no: list[int]) -> list[tuple[int, str]]:
    """Problem lines of ``_numbers`` with the index of their row."""
    where = {row: i for i, row in enumerate(row_no)} if lines else {}
    return [(where[_row_of(line)], line) for line in lines]


def tabulate(
    cols: SampleColumns, first_unit: dict[str, tuple[str, int]], problems: list[Problem]
) -> SampleTable | None:
    """Group validated cells into profiles; duplicate samples become problems (and None).

    Profiles keep the order in which each (subject, analyte) first appears; samples are
    sorted by time within each. Call it only on cells without problems (apart from
    duplicates, which it finds).
    """
    subject, analyte, time, row_no = cols.subject, cols.analyte, cols.time, cols.row_no
    keys = np.array([f"{s}\x1f{a}" for s, a in zip(subject, analyte, strict=True)], dtype=object)
    uniq, first_idx, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.intp)
    rank[np.argsort(first_idx, kind="stable")] = np.arange(len(uniq))
    profile = rank[inverse.reshape(-1)]
    order = np.lexsort((time, profile))
    p_sorted, t_sorted = profile[order], time[order]
    dup = (p_sorted[1:] == p_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1])
    for j in np.flatnonzero(dup).tolist():
        ia, ib = int(order[j]), int(order[j + 1])
        earlier, later = min(ia, ib), max(ia, ib)
        problems.append(
            Problem(
                row_no[later],
                subject[later],
                f"row {row_no[later]}: duplicate sample: subject {subject[later]}, analyte "
                f"{analyte[later]}, time {column_value(time[later])} is already at row "
                f"{row_no[earlier]}; remove or correct one of them",
            )
        )
    if np.any(dup):
        return None
    n = len(uniq)
    starts = np.sort(first_idx)
    subj_out = tuple(subject[i] for i in starts.tolist())
    analyte_out = tuple(analyte[i] for i in starts.tolist())
    unit_out = tuple(first_unit.get(a, ("", 0))[0] for a in analyte_out)
    lloq_out = np.full(n, np.nan)
    have = np.isfinite(cols.lloq)
    if np.any(have):
        np.fmax.at(lloq_out, profile[have], cols.lloq[have])
    blq, conc = cols.blq, cols.conc
    profiles = Profiles(
        n=n,
        profile=np.asarray(p_sorted, dtype=np.intp),
        time=np.asarray(t_sorted, dtype=np.float64),
        conc=np.asarray(conc[order], dtype=np.float64),
        measurable=np.asarray(~blq[order] & (conc[order] > 0), dtype=np.bool_),
    )
    rows_sorted = np.asarray(np.array(row_no, dtype=np.intp)[order], dtype=np.intp)
    return SampleTable(profiles, subj_out, analyte_out, unit_out, lloq_out, rows_sorted)


def select_rows(cols: SampleColumns, keep: list[bool]) -> SampleColumns:
    """The cells of the rows where ``keep`` is True."""
    mask = np.array(keep, dtype=np.bool_)

    def pick(values: list[str]) -> list[str]:
        return [v for v, k in zip(values, keep, strict=True) if k]

    return SampleColumns(
        pick(cols.subject),
        pick(cols.analyte),
        pick(cols.unit),
        np.asarray(cols.blq[mask], dtype=np.bool_),
        np.asarray(cols.time[mask], dtype=np.float64),
        np.asarray(cols.conc[mask], dtype=np.float64),
        np.asarray(cols.lloq[mask], dtype=np.float64),
        [r for r, k in zip(cols.row_no, keep, strict=True) if k],
    )


def usable_table(
    cols: SampleColumns, first_unit: dict[str, tuple[str, int]], problems: list[Problem]
) -> SampleTable:
    """The profiles of every subject without a problem (rows without a subject dropped too).

    ``problems`` holds the problems found so far and receives the duplicates found here.
    """
    bad = {p.subject for p in problems}
    keep = [s not in bad and bool(s) for s in cols.subject]
    cols = select_rows(cols, keep) if not all(keep) else cols
    found: list[Problem] = []
    table = tabulate(cols, first_unit, found)
    if table is not None:
        return table
    problems.extend(found)
    duplicated = {p.subject for p in found}
    again = tabulate(select_rows(cols, [s not in duplicated for s in cols.subject]), first_unit, [])
    if again is None:  # pragma: no cover - every duplicate's subject was just removed
        raise AssertionError("duplicate samples remain after removing their subjects")
    return again


def _read_all(text: str) -> tuple[SampleColumns, dict[str, tuple[str, int]], list[Problem]]:
    """Every row of the CSV text checked; file-level problems (header, quoting) raise."""
    header_problems: list[Problem] = []
    lines = quotes_closed(io.StringIO(text, newline=""), header_problems)
    index, width = parse_header(first_row(csv.reader(itertools.islice(lines, 1))))
    if header_problems:
        raise SampleInputError([header_problems[0].text])
    problems: list[Problem] = []
    reader = csv.reader(quotes_closed(io.StringIO(text, newline=""), problems, index["subject"]))
    next(reader)
    rows: list[list[str]] = []
    row_no: list[int] = []
    try:
        for fields in reader:
            if not fields or (not fields[0].strip() and not "".join(fields).strip()):
                continue
            shape = row_shape_problem(fields, width, reader.line_num, index)
            if shape is not None:
                problems.append(shape)
                continue
            rows.append(fields)
            row_no.append(reader.line_num)
    except csv.Error as exc:
        raise SampleInputError([f"row {reader.line_num}: not valid CSV ({exc}); fix the quoting"]) from None
    if not rows and not problems:
        raise SampleInputError(["row 2: the file has no samples; add one row per sample"])
    first_unit: dict[str, tuple[str, int]] = {}
    cols = check_rows(index, rows, row_no, first_unit, problems)
    return cols, first_unit, problems


def read_samples(text: str) -> SampleTable:
    """Parse and validate the CSV text; raise ``SampleInputError`` naming every bad row."""
    cols, first_unit, problems = _read_all(text)
    table = tabulate(cols, first_unit, problems) if not problems else None
    if table is None:
        problems.sort(key=lambda p: p.row)
        raise SampleInputError([p.text for p in problems])
    return table


def read_usable_samples(text: str) -> tuple[SampleTable, list[Problem]]:
    """The profiles of every subject whose rows are all valid, and the problems of the others.

    A subject with any problem is left out entirely (never analysed on part of its data);
    a row without a readable subject is left out alone. File-level problems still raise.
    """
    cols, first_unit, problems = _read_all(text)
    table = usable_table(cols, first_unit, problems)
    problems.sort(key=lambda p: p.row)
    return table, problems


def column_value(x: float) -> str:
    """A number as it would be written back into the CSV."""
    return format(float(x), ".12g")


def _row_of(problem: str) -> int:
    """Sort key: the row number a problem line starts with."""
    head = problem.split(":", 1)[0].split()
    return int(head[1]) if len(head) >= 2 and head[1].isdigit() else 0
