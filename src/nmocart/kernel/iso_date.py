"""The one accepted spelling of a calendar date in a record: ``YYYY-MM-DD``.

pydantic also reads a string of digits as Unix seconds (``"19850312"`` would become
1970-08-19, ``"0"`` 1970-01-01), which would silently change an age or a window; this type
refuses every other spelling with a message that names the fix. From JSON text the check runs
inside pydantic-core (a string, then the pattern, then the calendar), with no Python call per
date: records carry hundreds of dates, and this is the hot path of every batch.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, WithJsonSchema
from pydantic_core import core_schema

ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
"""Four, two and two ASCII digits: the only spelling accepted (no time, no sign, no other digits)."""

_ISO_DATE = re.compile(ISO_DATE_PATTERN)

NOT_A_DATE = "iso_date_spelling"
"""Error type of a string that is not spelt ``YYYY-MM-DD``; the message follows the input."""

NO_SUCH_DAY = "iso_date_no_such_day"
"""Error type of a ``YYYY-MM-DD`` string that names no calendar day (2026-02-30, 0000-01-01)."""

_NOT_A_DATE_MESSAGE = "is not a calendar date; write YYYY-MM-DD"
_NO_SUCH_DAY_MESSAGE = "is not a calendar date (no such day); write YYYY-MM-DD"


def _iso_date_only(value: Any) -> Any:
    """Python input: a date object passes; text is held to the one spelling."""
    if not isinstance(value, str):
        return value  # a date object from Python code, or a wrong type that the date check names
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} {_NOT_A_DATE_MESSAGE}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} {_NO_SUCH_DAY_MESSAGE}") from None


class _IsoDateRule:
    """The core schema of :data:`IsoDate`: native steps from JSON, the Python check otherwise."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        date = core_schema.date_schema()
        from_json = core_schema.chain_schema(
            [
                # a number, bool or null is "not a date" as pydantic says it (date_type)
                core_schema.custom_error_schema(core_schema.str_schema(strict=True), "date_type"),
                core_schema.custom_error_schema(
                    core_schema.str_schema(pattern=ISO_DATE_PATTERN),
                    NOT_A_DATE,
                    custom_error_message=_NOT_A_DATE_MESSAGE,
                ),
                # lax: the text already has the one spelling, so only the calendar is checked here
                core_schema.custom_error_schema(
                    core_schema.date_schema(strict=False),
                    NO_SUCH_DAY,
                    custom_error_message=_NO_SUCH_DAY_MESSAGE,
                ),
            ]
        )
        from_python = core_schema.no_info_before_validator_function(_iso_date_only, date)
        return core_schema.json_or_python_schema(
            json_schema=from_json,
            python_schema=from_python,
            serialization=core_schema.plain_serializer_function_ser_schema(
                dt.date.isoformat, when_used="json-unless-none"
            ),
        )


IsoDate = Annotated[dt.date, _IsoDateRule, WithJsonSchema({"type": "string", "format": "date"})]
"""A date field that accepts only ``YYYY-MM-DD`` text (or a date object from Python code)."""
