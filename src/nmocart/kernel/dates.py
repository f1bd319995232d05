"""Calendar arithmetic: completed years, calendar-month offsets and closed date windows.

Months are calendar months, never 30 days: "12 months before 2024-02-29" is 2023-02-28
(the same day of the month, or the month's last day when that day does not exist).
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache


@lru_cache(maxsize=1024)
def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, clamped to the target month's last day.

    Cached: a batch evaluates the same few reference dates over and over.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def days_before(day: dt.date, days: int) -> dt.date:
    """``day`` minus ``days`` calendar days."""
    return day - dt.timedelta(days=days)


def days_after(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days`` calendar days."""
    return day + dt.timedelta(days=days)


def completed_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years on ``on``; someone born on 29 February turns a year older on 1 March."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def within(day: dt.date, start: dt.date, end: dt.date) -> bool:
    """Whether ``day`` lies in the closed interval [start, end]."""
    return start <= day <= end
