"""CSV cells that are safe to open in a spreadsheet (OWASP CSV injection).

Every CSV nmocart writes goes through :func:`csv_text` or :func:`csv_row`. A text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read as a formula
by Excel or LibreOffice, so it gets a leading apostrophe (``'=HYPERLINK(...)``). A cell that is
a plain decimal number (``-1.5``, ``+2``, ``3e-05``) is a number, not text, and stays as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters a spreadsheet may treat as the start of a formula (OWASP)."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

Cell = str | int | float


def safe_cell(cell: Cell) -> str:
    """The text of one cell, neutralised with a leading ``'`` when it could run as a formula."""
    if isinstance(cell, bool):
        raise TypeError("write a boolean cell as text (e.g. 'yes'/'no'), not as True/False")
    text = cell if isinstance(cell, str) else repr(cell) if isinstance(cell, float) else str(cell)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_row(cells: Iterable[Cell]) -> list[str]:
    """A row of neutralised cells, ready for ``csv.writer.writerow``."""
    return [safe_cell(cell) for cell in cells]


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Cell]]) -> str:
    """A whole CSV document (newline line ends, minimal quoting) with every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_row(header))
    writer.writerows(csv_row(row) for row in rows)
    return buffer.getvalue()
