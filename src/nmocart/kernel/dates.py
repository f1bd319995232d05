"""Calendar arithmetic: completed years, calendar-month offsets and closed date windows.

Months are calendar months, never 30 days: "12 months before 2024-02-29" is 2023-02-28
(the same day of the month, or the month's last day when that day does not exist).

Offsets saturate at the calendar's ends (``0001-01-01`` and ``9999-12-31``) instead of
raising ``OverflowError``. That is exact, not an approximation, for what the offsets are
used for: the ends of closed windows ``[start, end]`` over representable dates. A window
reaching before 0001-01-01 holds the same dates as one starting on 0001-01-01.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache

FIRST_DAY = dt.date.min
"""0001-01-01, the first representable date."""

LAST_DAY = dt.date.max
"""9999-12-31, the last representable date."""


@lru_cache(maxsize=1024)
def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, clamped to the target month's last day.

    Saturates at 0001-01-01 / 9999-12-31. Cached: a batch evaluates the same few
    reference dates over and over.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    if year < FIRST_DAY.year:
        return FIRST_DAY
    if year > LAST_DAY.year:
        return LAST_DAY
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def days_before(day: dt.date, days: int) -> dt.date:
    """``day`` minus ``days`` calendar days, saturating at 0001-01-01 / 9999-12-31."""
    return days_after(day, -days)


def days_after(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days`` calendar days, saturating at 0001-01-01 / 9999-12-31."""
    ordinal = day.toordinal() + days
    if ordinal < FIRST_DAY.toordinal():
        return FIRST_DAY
    if ordinal > LAST_DAY.toordinal():
        return LAST_DAY
    return dt.date.fromordinal(ordinal)


def completed_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years on ``on``; someone born on 29 February turns a year older on 1 March."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


def within(day: dt.date, start: dt.date, end: dt.date) -> bool:
    """Whether ``day`` lies in the closed interval [start, end]."""
    return start <= day <= end
