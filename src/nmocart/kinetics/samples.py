"""Reading the long sample CSV (kinetics spec section 1) into typed, validated arrays.

Every problem names the row (the line number in the file, the header being row 1), the
column and the fix, e.g. ``row 14: conc 'abc' is not a number; write a number or mark the
row blq=1``. All problems are collected, not only the first. Parsing is vectorised with numpy
and falls back to a row-by-row pass only to name the rows of a failing column.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

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


def read_samples(text: str) -> SampleTable:
    """Parse and validate the CSV text; raise ``SampleInputError`` naming every bad row."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SampleInputError(
            ["row 1: the file is empty; write a header row: subject,time,conc,blq"]
        ) from None
    except csv.Error as exc:
        raise SampleInputError([f"row 1: not valid CSV ({exc}); fix the quoting"]) from None
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
    index = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
    width = len(names)
    rows: list[list[str]] = []
    row_no: list[int] = []
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != width:
                problems.append(
                    f"row {reader.line_num}: has {len(fields)} fields but the header has "
                    f"{width}; make every row match the header"
                )
                continue
            rows.append(fields)
            row_no.append(reader.line_num)
    except csv.Error as exc:
        problems.append(f"row {reader.line_num}: not valid CSV ({exc}); fix the quoting")
    if not rows and not problems:
        problems.append("row 2: the file has no samples; add one row per sample")
    if problems:
        raise SampleInputError(problems)

    def column(name: str) -> list[str]:
        """The stripped cells of one column."""
        j = index[name]
        return [r[j].strip() for r in rows]

    subject = column("subject")
    for i, s in enumerate(subject):
        if not s:
            problems.append(f"row {row_no[i]}: subject is empty; write the subject identifier")
    analyte = column("analyte") if "analyte" in index else [DEFAULT_ANALYTE] * len(rows)
    analyte = [a or DEFAULT_ANALYTE for a in analyte]
    blq_text = column("blq")
    blq_arr = np.array(blq_text, dtype=object)
    blq = blq_arr == "1"
    bad_blq = ~(blq | (blq_arr == "0"))
    for i in np.flatnonzero(bad_blq).tolist():
        problems.append(
            f"row {row_no[i]}: blq {blq_text[i]!r} must be 0 or 1; write 1 when the sample "
            "is below the limit of quantification, else 0"
        )
    time = _numbers(column("time"), row_no, "time", "write the days since infusion as a number", problems)
    conc_text = column("conc")
    # A BLQ row's conc is ignored (spec section 1), so it is not parsed.
    conc_for_parse = [("0" if b else c) for c, b in zip(conc_text, blq.tolist(), strict=True)]
    conc = _numbers(conc_for_parse, row_no, "conc", "write a number or mark the row blq=1", problems)
    for i in np.flatnonzero(conc < 0).tolist():
        problems.append(
            f"row {row_no[i]}: conc {conc_text[i]} is negative; write the measured value "
            "(>= 0) or mark the row blq=1"
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
                problems.append(
                    f"row {row_no[i]}: lloq {text!r} is not a positive number; write the "
                    "lower limit of quantification or leave the cell empty"
                )
    unit = column("unit") if "unit" in index else [""] * len(rows)
    first_unit: dict[str, tuple[str, int]] = {}
    for i, (a, u) in enumerate(zip(analyte, unit, strict=True)):
        if not u:
            continue
        seen = first_unit.setdefault(a, (u, row_no[i]))
        if seen[0] != u:
            problems.append(
                f"row {row_no[i]}: unit {u!r} differs from {seen[0]!r} (row {seen[1]}) for "
                f"analyte {a}; use one unit per analyte"
            )

    # Profiles in order of first appearance, samples sorted by time within each.
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
            f"row {row_no[later]}: duplicate sample: subject {subject[later]}, analyte "
            f"{analyte[later]}, time {column_value(time[later])} is already at row "
            f"{row_no[earlier]}; remove or correct one of them"
        )
    if problems:
        problems.sort(key=_row_of)
        raise SampleInputError(problems)

    n = len(uniq)
    starts = np.sort(first_idx)
    subj_out = tuple(subject[i] for i in starts.tolist())
    analyte_out = tuple(analyte[i] for i in starts.tolist())
    unit_out = tuple(first_unit.get(a, ("", 0))[0] for a in analyte_out)
    lloq_out = np.full(n, np.nan)
    have = np.isfinite(lloq)
    if np.any(have):
        np.fmax.at(lloq_out, profile[have], lloq[have])
    profiles = Profiles(
        n=n,
        profile=np.asarray(p_sorted, dtype=np.intp),
        time=np.asarray(t_sorted, dtype=np.float64),
        conc=np.asarray(conc[order], dtype=np.float64),
        measurable=np.asarray(~blq[order] & (conc[order] > 0), dtype=np.bool_),
    )
    rows_sorted = np.asarray(np.array(row_no, dtype=np.intp)[order], dtype=np.intp)
    return SampleTable(profiles, subj_out, analyte_out, unit_out, lloq_out, rows_sorted)


def column_value(x: float) -> str:
    """A number as it would be written back into the CSV."""
    return format(float(x), ".12g")


def _row_of(problem: str) -> int:
    """Sort key: the row number a problem line starts with."""
    head = problem.split(":", 1)[0].split()
    return int(head[1]) if len(head) >= 2 and head[1].isdigit() else 0
