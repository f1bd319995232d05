"""Calendar arithmetic: months are calendar months, ages are completed years."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmocart.kernel.dates import completed_years, months_before


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2024-02-29", 12, "2023-02-28"),
        ("2024-02-29", 24, "2022-02-28"),
        ("2024-02-29", 48, "2020-02-29"),
        ("2025-03-31", 1, "2025-02-28"),
        ("2024-03-31", 1, "2024-02-29"),
        ("2026-01-15", 1, "2025-12-15"),
        ("2026-03-02", 12, "2025-03-02"),
    ],
)
def test_months_before(day: str, months: int, expected: str) -> None:
    assert months_before(dt.date.fromisoformat(day), months) == dt.date.fromisoformat(expected)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), st.integers(0, 600))
def test_months_before_lands_in_the_right_month(day: dt.date, months: int) -> None:
    result = months_before(day, months)
    assert (day.year * 12 + day.month) - (result.year * 12 + result.month) == months
    assert result.day == day.day or (result.day < day.day and (result + dt.timedelta(days=1)).day == 1)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2050, 12, 31)), st.integers(0, 100))
def test_completed_years_on_birthdays(birth: dt.date, years: int) -> None:
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:  # 29 February in a common year: the birthday is taken on 1 March
        birthday = dt.date(birth.year + years, 3, 1)
    assert completed_years(birth, birthday) == years
    assert completed_years(birth, birthday - dt.timedelta(days=1)) == years - 1
