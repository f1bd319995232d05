"""IsoDate: the JSON path (checked inside pydantic-core) and the Python path accept the same texts."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from nmocart.kernel.errors import describe_validation_error
from nmocart.kernel.iso_date import IsoDate


class Dated(BaseModel):
    """A strict model with one date, as every record model is."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    date: IsoDate


def _json(text: object) -> dt.date | list[str]:
    try:
        return Dated.model_validate_json(orjson.dumps({"date": text})).date
    except ValidationError as exc:
        return describe_validation_error(exc)


def _python(text: object) -> dt.date | list[str]:
    try:
        return Dated.model_validate({"date": text}).date
    except ValidationError as exc:
        return describe_validation_error(exc)


DATE_LIKE = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.from_regex(r"\A[0-9]{1,10}\Z"),
    st.text(alphabet="0123456789-T:Z+ /٠١٢", max_size=14),
    st.text(max_size=12),
)


@given(DATE_LIKE)
def test_json_and_python_paths_agree_on_every_text(text: str) -> None:
    assert _json(text) == _python(text)


@given(st.dates())
def test_every_calendar_day_is_read_back(day: dt.date) -> None:
    assert _json(day.isoformat()) == day


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("0", "date: '0' is not a calendar date; write YYYY-MM-DD"),
        ("86400", "date: '86400' is not a calendar date; write YYYY-MM-DD"),
        ("2024-01-05T00:00:00", "date: '2024-01-05T00:00:00' is not a calendar date; write YYYY-MM-DD"),
        ("2024-02-30", "date: '2024-02-30' is not a calendar date (no such day); write YYYY-MM-DD"),
        ("0000-01-01", "date: '0000-01-01' is not a calendar date (no such day); write YYYY-MM-DD"),
        (0, "date: Input should be a valid date (got 0); write the date as a string YYYY-MM-DD"),
        (None, "date: Input should be a valid date (got None); write the date as a string YYYY-MM-DD"),
    ],
)
def test_unix_seconds_and_other_spellings_are_refused_by_name(given: object, message: str) -> None:
    assert _json(given) == [message]


def test_the_json_schema_says_string_date() -> None:
    assert Dated.model_json_schema()["properties"]["date"] == {
        "format": "date",
        "title": "Date",
        "type": "string",
    }
