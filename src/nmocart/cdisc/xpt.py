"""SAS XPORT version 5 files through pyreadstat, with the v5 rules enforced before writing.

pyreadstat 1.3.7 writes version 8 unless told otherwise, truncates labels silently and lets
over-long and non-ASCII values through; :func:`v5_problems` checks spec section 3 (names <= 8,
labels <= 40, values <= 200 bytes of printable ASCII) and :func:`write_xpt` refuses to write a
dataset that breaks any of them, naming the dataset, variable and source row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyreadstat

from nmocart.cdisc.domains import Dataset
from nmocart.cdisc.metadata import DatasetMeta, Value

NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
"""A v5 variable (and dataset) name: a letter, then letters, digits or underscores, 8 at most."""

PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")
MAX_LABEL = 40
MAX_VALUE_BYTES = 200


class XptFormatError(ValueError):
    """A dataset that XPT v5 cannot hold exactly; ``problems`` names each offending value."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problem lines."""
        super().__init__("\n".join(problems))
        self.problems = problems


@lru_cache(maxsize=1 << 16)
def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a v5 character value (None when it can); memoised, values repeat."""
    if not (text.isascii() and text.isprintable()):
        bad = next(ch for ch in text if not 0x20 <= ord(ch) <= 0x7E)
        return (
            f"holds {bad!r} (U+{ord(bad):04X}); XPT v5 values are printable ASCII only, write it "
            "in plain ASCII at the source"
        )
    if text != text.rstrip(" "):
        return "ends with a space, which XPT v5 blank padding loses; trim it at the source"
    if len(text) > MAX_VALUE_BYTES:
        return f"is {len(text)} bytes; XPT v5 values hold at most {MAX_VALUE_BYTES}, shorten it at the source"
    return None


def metadata_problems(meta: DatasetMeta) -> list[str]:
    """Names and labels of a dataset that break the v5 limits (a programming error if any)."""
    problems = []
    if not NAME.match(meta.name):
        problems.append(f"dataset name {meta.name!r} is not a v5 name (letter, then letters/digits, <= 8)")
    if len(meta.label) > MAX_LABEL or not PRINTABLE_ASCII.match(meta.label):
        problems.append(f"{meta.name}: dataset label {meta.label!r} is over 40 characters or not ASCII")
    for v in meta.variables:
        if not NAME.match(v.name):
            problems.append(
                f"{meta.name}.{v.name}: not a v5 variable name (letter, then letters/digits, <= 8)"
            )
        if len(v.label) > MAX_LABEL or not PRINTABLE_ASCII.match(v.label):
            problems.append(f"{meta.name}.{v.name}: label {v.label!r} is over 40 characters or not ASCII")
    return problems


def v5_problems(dataset: Dataset) -> list[str]:
    """Every value of ``dataset`` that XPT v5 cannot hold, with the row's source and the fix."""
    problems = metadata_problems(dataset.meta)
    texts = [(j, v.name) for j, v in enumerate(dataset.meta.variables) if not v.numeric]
    for row, source in zip(dataset.rows, dataset.sources, strict=True):
        found: dict[tuple[str, str], list[str]] = {}  # one line per source value, naming every variable
        for j, name in texts:
            value = row[j]
            if isinstance(value, str):
                why = text_problem(value)
                if why is not None:
                    found.setdefault((value, why), []).append(f"{dataset.meta.name}.{name}")
        for (value, why), names in found.items():
            problems.append(f"{source}: {', '.join(names)} {value[:60]!r} {why}")
    return problems


def frame(meta: DatasetMeta, rows: Sequence[tuple[Value, ...]]) -> pd.DataFrame:
    """The rows as a DataFrame: text columns as str ('' for missing), numbers as float64 (NaN)."""
    columns: dict[str, pd.Series] = {}
    for j, var in enumerate(meta.variables):
        cells = [row[j] for row in rows]
        if var.numeric:
            columns[var.name] = pd.Series(
                [float("nan") if c is None else float(c) for c in cells], dtype="float64"
            )
        else:
            columns[var.name] = pd.Series(["" if c is None else str(c) for c in cells], dtype=object)
    return pd.DataFrame(columns, columns=list(meta.names))


def write_xpt(dataset: Dataset, path: Path) -> None:
    """Write one dataset as an XPT v5 file (member name = dataset name); refuse an invalid one."""
    problems = v5_problems(dataset)
    if problems:
        raise XptFormatError(problems)
    meta = dataset.meta
    pyreadstat.write_xport(
        frame(meta, dataset.rows),
        str(path),
        file_label=meta.label,
        column_labels=[v.label for v in meta.variables],
        table_name=meta.name,
        file_format_version=5,
    )


def read_rows(path: Path, meta: DatasetMeta) -> tuple[list[tuple[Value, ...]], list[tuple[Value, ...]]]:
    """An XPT file read back by pyreadstat and by pandas, as rows of JSON-comparable values.

    Missing reads back as '' (text) or NaN (numbers); both become None; integers become int.
    """

    def number(cell: float, integer: bool) -> Value:
        if cell != cell:  # NaN: SAS missing
            return None
        return int(cell) if integer and float(cell).is_integer() else float(cell)

    def text(cell: object) -> Value:
        value = cell.decode("ascii") if isinstance(cell, bytes) else str(cell)
        return value if value != "" else None

    def normal(df: pd.DataFrame) -> list[tuple[Value, ...]]:
        columns: list[list[Value]] = []
        for var, name in zip(meta.variables, df.columns, strict=True):
            cells = df[name].tolist()
            if var.numeric:
                integer = var.data_type == "integer"
                columns.append([number(c, integer) for c in cells])
            else:
                columns.append([text(c) for c in cells])
        return list(zip(*columns, strict=True)) if columns else []

    by_readstat, _ = pyreadstat.read_xport(str(path))
    by_pandas = pd.read_sas(str(path), format="xport", encoding="ascii")
    return normal(by_readstat), normal(by_pandas)


def read_meta(path: Path) -> tuple[str, str, list[str], list[str], list[int]]:
    """Member name, dataset label, variable names, labels and storage widths of an XPT file."""
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    names = list(meta.column_names)
    return (
        str(meta.table_name),
        str(meta.file_label),
        names,
        [str(x) for x in meta.column_labels],
        [int(meta.variable_storage_width[n]) for n in names],
    )
