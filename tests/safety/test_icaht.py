from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nmocart.safety.icaht import grade_icaht
from nmocart.safety.record import LabResult

from .helpers import INFUSION, PARAMS, lab

P = PARAMS.icaht
BASE = lab("anc", 3.0, "10^9/L", -7)


def series(values: dict[int, float], unit: str = "10^9/L") -> list[LabResult]:
    return [BASE] + [lab("anc", v, unit, d) for d, v in sorted(values.items())]


def neutropenic_for(days: int, value: float = 0.3, start: int = 0) -> dict[int, float]:
    """Daily ANC: ``value`` on ``days`` days from ``start``, then 3 daily recoveries."""
    out = dict.fromkeys(range(0, start), 2.0)
    out.update({start + i: value for i in range(days)})
    out.update({start + days + i: 2.0 for i in range(3)})
    return out


def early(values: dict[int, float], unit: str = "10^9/L") -> int | None:
    return grade_icaht(series(values, unit), INFUSION, P).early_grade


def late(values: dict[int, float]) -> int | None:
    return grade_icaht(series(values), INFUSION, P).late_grade


def test_no_neutropenic_day_is_grade_0() -> None:
    assert early(dict.fromkeys(range(0, 31), 0.51)) == 0


def test_early_grade_by_period_length_at_every_edge() -> None:
    expected = {1: 1, 6: 1, 7: 2, 13: 2, 14: 3, 27: 3}
    for days, want in expected.items():
        assert early(neutropenic_for(days, start=1)) == want, days


def test_thirty_and_thirty_one_days() -> None:
    # days 0..29 neutropenic: 30 days -> 3; every day 0..30 (never recovering): 31 -> 4
    assert early({**dict.fromkeys(range(0, 30), 0.3), 30: 0.9}) == 3
    assert early(dict.fromkeys(range(0, 31), 0.3)) == 4


def test_neutropenic_threshold_inclusive_and_units() -> None:
    assert early(neutropenic_for(1, value=0.5, start=2)) == 1
    assert early(neutropenic_for(1, value=0.51, start=2)) == 0
    assert early({0: 2000, 2: 500, 3: 2000, 4: 2000, 5: 2000}, unit="/uL") == 1
    assert early({0: 2000, 2: 501, 3: 2000, 4: 2000, 5: 2000}, unit="/uL") == 0


def test_profound_days_drive_grade_3_and_4() -> None:
    # a 10-day period (grade 2 by length) with 6, 7, 13 and 14 profound days
    def profound(n: int, length: int) -> dict[int, float]:
        values = neutropenic_for(length, value=0.3, start=1)
        values.update({1 + i: 0.1 for i in range(n)})
        return values

    assert early(profound(6, 10)) == 2
    assert early(profound(7, 10)) == 3
    assert early(profound(13, 20)) == 3
    assert early(profound(14, 20)) == 4
    assert early(neutropenic_for(3, value=0.11, start=1)) == 1


def test_unstable_recovery_does_not_end_the_period() -> None:
    # neutropenic 0-4, ANC > 0.5 on two dates (5, 6), neutropenic 7-9, stable recovery
    values = {
        **dict.fromkeys(range(0, 5), 0.3),
        5: 0.8,
        6: 0.9,
        7: 0.4,
        8: 0.4,
        9: 0.4,
        10: 1.0,
        11: 1.1,
        12: 1.2,
    }
    result = grade_icaht(series(values), INFUSION, P)
    assert result.longest_period is not None
    assert (result.longest_period.first_day, result.longest_period.last_day) == (0, 9)
    assert result.early_grade == 2  # 10 days


def test_stable_recovery_splits_periods() -> None:
    values = {
        **dict.fromkeys(range(0, 5), 0.3),
        5: 0.8,
        6: 0.9,
        7: 1.0,
        8: 0.4,
        9: 0.4,
        10: 0.4,
        11: 1.0,
        12: 1.1,
        13: 1.2,
    }
    result = grade_icaht(series(values), INFUSION, P)
    assert result.longest_period is not None
    assert (result.longest_period.first_day, result.longest_period.last_day) == (0, 4)
    assert result.early_grade == 1


def test_recovery_counts_measurement_dates_not_calendar_days() -> None:
    # three recovered measurements spread over 6 days are a stable recovery
    values = {0: 0.3, 1: 0.3, 2: 0.9, 4: 0.9, 6: 0.9, 7: 0.2, 8: 0.9, 9: 0.9, 10: 0.9}
    result = grade_icaht(series(values), INFUSION, P)
    assert result.longest_period is not None
    assert result.longest_period.length == 2
    # two recovered measurements spread over 6 days are not
    values = {0: 0.3, 1: 0.3, 2: 0.9, 6: 0.9, 7: 0.2, 8: 0.9, 9: 0.9, 10: 0.9}
    result = grade_icaht(series(values), INFUSION, P)
    assert result.longest_period is not None
    assert result.longest_period.length == 8


def test_latest_anc_is_carried_forward() -> None:
    result = grade_icaht(series({0: 0.3, 10: 0.3}), INFUSION, P)
    assert result.early_grade == 4
    assert any("carried forward" in d for d in result.early_drivers)


def test_no_anc_on_or_before_day_0_is_unknown() -> None:
    labs = [lab("anc", 0.3, "10^9/L", 2)]
    assert grade_icaht(labs, INFUSION, P).early_grade is None
    assert grade_icaht(None, INFUSION, P).early_grade is None


def test_late_icaht_thresholds_need_two_measurements() -> None:
    assert late({0: 2.0, 40: 1.5, 50: 1.5}) == 1
    assert late({0: 2.0, 40: 1.5, 50: 1.51}) == 0
    assert late({0: 2.0, 40: 1.0, 50: 0.9}) == 2
    assert late({0: 2.0, 40: 0.5, 50: 0.5, 60: 2.0}) == 3
    assert late({0: 2.0, 40: 0.1, 50: 0.5}) == 3
    assert late({0: 2.0, 40: 0.1, 50: 0.1}) == 4
    assert late({0: 2.0, 40: 0.1}) == 0  # measured, but no threshold reached by two measurements


def test_late_window_is_days_31_to_100() -> None:
    assert late({0: 2.0, 30: 0.1, 31: 0.1, 100: 0.1, 101: 0.1}) == 4
    assert late({0: 2.0, 30: 0.1, 31: 0.1, 101: 0.1, 102: 2.0}) == 0  # one measurement inside
    assert late({0: 2.0, 30: 0.1, 101: 0.1}) is None  # none inside: unknown, never 0


def test_late_icaht_counts_measurements_not_dates() -> None:
    two_draws_on_day_40 = [lab("anc", 0.05, "10^9/L", 40), lab("anc", 0.05, "10^9/L", 40)]
    labs = [*series({0: 3.0, 60: 3.0}), *two_draws_on_day_40]
    assert grade_icaht(labs, INFUSION, PARAMS.icaht).late_grade == 4


def test_late_icaht_unknown_without_labs() -> None:
    assert grade_icaht(None, INFUSION, PARAMS.icaht).late_grade is None


@given(st.lists(st.integers(0, 30), min_size=1, max_size=31, unique=True))
def test_early_grade_never_decreases_when_more_days_are_neutropenic(days: list[int]) -> None:
    healthy = dict.fromkeys(range(0, 31), 2.0)
    fewer = dict(healthy)
    more = dict(healthy)
    for d in days[: len(days) // 2]:
        fewer[d] = 0.3
    for d in days:
        more[d] = 0.3
    low, high = early(fewer), early(more)
    assert low is not None
    assert high is not None
    assert low <= high
