"""Early and late ICAHT from the ANC series (EHA/EBMT; safety spec section 5).

For early ICAHT the series has one value per measurement date (the lowest when a date has
several draws), study days counted from the infusion; a day takes the latest ANC measured
on or before it. Late ICAHT counts every measurement of its window.
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from nmocart.safety.measure import Measure, compare, measure
from nmocart.safety.parameters import IcahtParameters, show
from nmocart.safety.record import LabResult

ONE = Fraction(1)


@dataclass(frozen=True)
class Period:
    """A neutropenic period: first and last neutropenic day (inclusive), profound days inside."""

    first_day: int
    last_day: int
    profound_days: int

    @property
    def length(self) -> int:
        """Days from the first to the last neutropenic day, inclusive."""
        return self.last_day - self.first_day + 1


@dataclass(frozen=True)
class Icaht:
    """Early and late ICAHT grades (None when the ANC series cannot decide), with drivers."""

    early_grade: int | None
    late_grade: int | None
    early_drivers: tuple[str, ...]
    late_drivers: tuple[str, ...]
    longest_period: Period | None


class AncDay(NamedTuple):
    """One ANC measurement date: study day, lowest value that day, and its classification."""

    day: int
    value: Measure
    neutropenic: bool
    profound: bool


def anc_series(labs: Sequence[LabResult] | None, infusion: dt.date, params: IcahtParameters) -> list[AncDay]:
    """The ANC series, one entry per measurement date (the lowest draw of a date), ascending."""
    lowest: dict[int, Measure] = {}
    for lab in labs or ():
        if lab.test != "anc":
            continue
        day = (lab.date - infusion).days
        value = measure("anc", lab.value, lab.unit)
        if day not in lowest or compare(operator.lt, value, ONE, 1.0, lowest[day]):
            lowest[day] = value
    neutropenic, profound = params.neutropenic_max, params.profound_max
    neutropenic_f, profound_f = float(neutropenic), float(profound)
    return [
        AncDay(
            day,
            value,
            compare(operator.le, value, neutropenic, neutropenic_f),
            compare(operator.le, value, profound, profound_f),
        )
        for day, value in sorted(lowest.items())
    ]


def neutropenic_periods(series: Sequence[AncDay], params: IcahtParameters) -> list[Period] | None:
    """Neutropenic periods on the early window; None when a day of it has no ANC on or before it.

    Two neutropenic days belong to one period unless ANC > 0.5 on at least
    ``stable_recovery_dates`` consecutive measurement dates between them (stable recovery).
    """
    days = [item.day for item in series]
    first, last = params.early_first_day, params.early_last_day
    if not series or days[0] > first:
        return None
    periods: list[Period] = []
    start = end = None
    profound = 0
    for day in range(first, last + 1):
        latest = series[bisect.bisect_right(days, day) - 1]
        if not latest.neutropenic:
            continue
        if start is not None and end is not None:
            recoveries = bisect.bisect_left(days, day) - bisect.bisect_right(days, end)
            if recoveries >= params.stable_recovery_dates:
                periods.append(Period(start, end, profound))
                start, profound = None, 0
        if start is None:
            start = day
        end = day
        profound += latest.profound
    if start is not None and end is not None:
        periods.append(Period(start, end, profound))
    return periods


def _band(value: int, bands: Sequence[tuple[int, int]]) -> int:
    """The grade of the first ``(minimum, grade)`` band that ``value`` reaches, else 0."""
    for minimum, grade in bands:
        if value >= minimum:
            return grade
    return 0


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def early_grade(period: Period, params: IcahtParameters) -> int:
    """Grade of a period: by its length, or by its profound days when that is higher."""
    return max(
        _band(period.length, params.early_grade_by_min_days),
        _band(period.profound_days, params.early_grade_by_min_profound_days),
    )


def late_grade(
    labs: Sequence[LabResult] | None, infusion: dt.date, params: IcahtParameters
) -> tuple[int | None, tuple[str, ...]]:
    """Late ICAHT: the highest grade whose ANC threshold at least two measurements reach.

    Every ANC measurement of the late window counts (two draws on one date are two
    measurements, as the spec words it). With no measurement in the window the grade is
    unknown (None), never 0; with one or more the spec's rule decides, 0 included.
    """
    window = f"days {params.late_first_day}-{params.late_last_day}"
    values = [
        measure("anc", lab.value, lab.unit)
        for lab in labs or ()
        if lab.test == "anc" and params.late_first_day <= (lab.date - infusion).days <= params.late_last_day
    ]
    if not values:
        return None, (f"no ANC measured on {window}",)
    for grade, limit in params.late_grade_by_max_anc:
        reached = sum(compare(operator.le, v, limit, float(limit)) for v in values)
        if reached >= params.late_min_measurements:
            return grade, (
                f"{reached} of {len(values)} ANC measurements <= {show(limit)} on {window} -> {grade}",
            )
    loosest = show(params.late_grade_by_max_anc[-1][1])
    return 0, (
        f"fewer than {params.late_min_measurements} of {len(values)} ANC measurements <= {loosest} "
        f"on {window} -> 0",
    )


def grade_icaht(labs: Sequence[LabResult] | None, infusion: dt.date, params: IcahtParameters) -> Icaht:
    """Early ICAHT from the longest neutropenic period of days 0-30; late from days 31-100."""
    series = anc_series(labs, infusion, params)
    periods = neutropenic_periods(series, params)
    first, last = params.early_first_day, params.early_last_day
    longest: Period | None = None
    early: int | None
    if periods is None:
        early = None
        early_why: tuple[str, ...] = (f"no ANC measured on or before day {first}",)
    elif not periods:
        early = 0
        early_why = (f"no neutropenic day (ANC <= {show(params.neutropenic_max)}) on days {first}-{last}",)
    else:
        longest = max(periods, key=lambda p: (p.length, early_grade(p, params)))
        early = early_grade(longest, params)
        early_why = (
            f"longest neutropenic period day {longest.first_day} to {longest.last_day}: "
            f"{_days(longest.length)}, {longest.profound_days} profound "
            f"(ANC <= {show(params.profound_max)}) -> {early}",
        )
        last_measured = max(item.day for item in series if item.day <= last)
        if longest.last_day > last_measured:
            early_why += (f"ANC of day {last_measured} carried forward to day {longest.last_day}",)
    late, late_why = late_grade(labs, infusion, params)
    return Icaht(early, late, early_why, late_why, longest)
