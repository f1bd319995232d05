"""The one accepted spelling of a calendar date in a record: ``YYYY-MM-DD``.

pydantic also reads a string of digits as Unix seconds (``"19850312"`` would become
1970-08-19, ``"0"`` 1970-01-01), which would silently change an age or a window; this type
refuses every other spelling with a message that names the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # a date object from Python code, or a wrong type that the date check names
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a calendar date; write YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date (no such day); write YYYY-MM-DD") from None


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]
"""A date field that accepts only ``YYYY-MM-DD`` text (or a date object from Python code)."""
