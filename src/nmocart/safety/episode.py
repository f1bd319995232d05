"""A graded day and the episode summary shared by CRS and ICANS (onset, maximum, duration)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class DayGrade(NamedTuple):
    """The grade of one assessment and the terms that drove it."""

    date: dt.date
    study_day: int
    grade: int
    drivers: tuple[str, ...]
    ice_score: int | None = None


@dataclass(frozen=True)
class Episode:
    """Onset day, maximum grade and duration of an episode; ``None`` days when no episode.

    ``max_grade`` is ``None`` only when the assessments were not collected (null section).
    """

    assessments: tuple[DayGrade, ...] | None
    max_grade: int | None
    onset_day: int | None
    duration_days: int | None


def study_day(date: dt.date, infusion: dt.date) -> int:
    """Calendar days from the infusion (day 0); negative before it."""
    return (date - infusion).days


def summarise(days: Sequence[DayGrade] | None) -> Episode:
    """Episode summary: first and last day with grade >= 1 (inclusive) and the maximum grade."""
    if days is None:
        return Episode(None, None, None, None)
    ordered = tuple(sorted(days, key=lambda d: d.date))
    graded = [d.study_day for d in ordered if d.grade >= 1]
    if not graded:
        return Episode(ordered, 0, None, None)
    return Episode(
        ordered,
        max(d.grade for d in ordered),
        graded[0],
        graded[-1] - graded[0] + 1,
    )
