from __future__ import annotations

from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from nmocart.safety.crs import grade_assessment, grade_crs
from nmocart.safety.episode import summarise
from nmocart.safety.record import Oxygen

from .helpers import INFUSION, PARAMS, crs, day

P = PARAMS.crs
OXYGEN = [device for device in get_args(Oxygen) if device != "nasal_cannula"]  # graded without a flow


def grade(**over: object) -> int:
    return grade_assessment(crs(**over), INFUSION, P).grade


def test_fever_boundary_38_0_is_fever() -> None:
    assert grade(temperature_c=38.0) == 1
    assert grade(temperature_c=37.99) == 0
    assert grade(temperature_c=37.9) == 0


def test_no_fever_no_crs_even_with_hypotension_and_hypoxia() -> None:
    assert grade(temperature_c=37.5, hypotension=True, vasopressors=2, oxygen="bipap") == 0


def test_hypotension_vasopressor_counts() -> None:
    assert grade(temperature_c=38.5, hypotension=True, vasopressors=0) == 2
    assert grade(temperature_c=38.5, hypotension=True, vasopressors=1) == 3
    assert grade(temperature_c=38.5, hypotension=True, vasopressors=2) == 4
    assert grade(temperature_c=38.5, hypotension=True, vasopressors=3) == 4


def test_nasal_cannula_flow_boundary_6_l_min() -> None:
    assert grade(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=6) == 2
    assert grade(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=6.0) == 2
    assert grade(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=6.01) == 3
    assert grade(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=0.5) == 2


def test_oxygen_devices() -> None:
    expected = {
        "none": 1,
        "blow_by": 2,
        "facemask": 3,
        "non_rebreather": 3,
        "venturi": 3,
        "cpap": 4,
        "bipap": 4,
        "mechanical_ventilation": 4,
    }
    for device, want in expected.items():
        assert grade(temperature_c=38.2, oxygen=device) == want, device


def test_anticytokine_removes_fever_requirement_only_with_organ_term() -> None:
    assert grade(temperature_c=37.0, anticytokine_given=True, hypotension=True) == 2
    assert grade(temperature_c=37.0, anticytokine_given=True, oxygen="facemask") == 3
    assert grade(temperature_c=37.0, anticytokine_given=True) == 0
    assert grade(temperature_c=37.0, anticytokine_given=False, oxygen="facemask") == 0


def test_drivers_name_the_terms() -> None:
    result = grade_assessment(
        crs(temperature_c=38.4, hypotension=True, vasopressors=2, oxygen="facemask"), INFUSION, P
    )
    assert result.grade == 4
    assert "hypotension: 2 vasopressors -> 4" in result.drivers
    assert "hypoxia: facemask -> 3" in result.drivers
    assert any(d.startswith("fever") for d in result.drivers)


def test_episode_onset_max_duration() -> None:
    items = [
        crs(date=day(0), temperature_c=37.0),
        crs(date=day(2), temperature_c=38.1),
        crs(date=day(1), temperature_c=37.2),
        crs(date=day(3), temperature_c=38.5, hypotension=True, vasopressors=1),
        crs(date=day(4), temperature_c=37.0),
        crs(date=day(5), temperature_c=38.0),
        crs(date=day(6), temperature_c=36.8),
    ]
    ep = grade_crs(items, INFUSION, P)
    assert ep.max_grade == 3
    assert ep.onset_day == 2
    assert ep.duration_days == 4  # days 2..5 inclusive
    assert ep.assessments is not None
    assert [a.study_day for a in ep.assessments] == [0, 1, 2, 3, 4, 5, 6]


def test_no_episode_and_not_collected() -> None:
    ep = grade_crs([crs(temperature_c=37.0)], INFUSION, P)
    assert (ep.max_grade, ep.onset_day, ep.duration_days) == (0, None, None)
    empty = grade_crs([], INFUSION, P)
    assert (empty.max_grade, empty.onset_day, empty.duration_days) == (0, None, None)
    missing = grade_crs(None, INFUSION, P)
    assert missing.max_grade is None
    assert missing.assessments is None


def test_single_day_episode_lasts_one_day() -> None:
    ep = grade_crs([crs(date=day(7), temperature_c=39.0)], INFUSION, P)
    assert (ep.onset_day, ep.duration_days) == (7, 1)


temps = st.floats(min_value=35.0, max_value=41.0, allow_nan=False).map(lambda t: round(t, 1))


@given(
    t1=temps,
    t2=temps,
    v1=st.integers(0, 4),
    v2=st.integers(0, 4),
    hypo=st.booleans(),
    cyt=st.booleans(),
    o=st.integers(0, len(OXYGEN) - 1),
)
def test_grade_monotone_in_temperature_and_vasopressors(
    t1: float, t2: float, v1: int, v2: int, hypo: bool, cyt: bool, o: int
) -> None:
    lo_t, hi_t = sorted((t1, t2))
    lo_v, hi_v = sorted((v1, v2)) if hypo else (0, 0)
    low = grade(
        temperature_c=lo_t, hypotension=hypo, vasopressors=lo_v, oxygen=OXYGEN[o], anticytokine_given=cyt
    )
    high = grade(
        temperature_c=hi_t, hypotension=hypo, vasopressors=hi_v, oxygen=OXYGEN[o], anticytokine_given=cyt
    )
    assert low <= high


@given(f1=st.floats(0, 15, allow_nan=False), f2=st.floats(0, 15, allow_nan=False), t=temps)
def test_grade_monotone_in_nasal_cannula_flow(f1: float, f2: float, t: float) -> None:
    lo, hi = sorted((f1, f2))
    assert grade(temperature_c=t, oxygen="nasal_cannula", oxygen_flow_l_min=lo) <= grade(
        temperature_c=t, oxygen="nasal_cannula", oxygen_flow_l_min=hi
    )


@given(st.lists(st.tuples(temps, st.integers(0, 3), st.sampled_from(OXYGEN)), min_size=1, max_size=12))
def test_episode_max_is_max_of_daily_grades(rows: list[tuple[float, int, str]]) -> None:
    items = [
        crs(date=day(i), temperature_c=t, hypotension=v > 0, vasopressors=v, oxygen=o)
        for i, (t, v, o) in enumerate(rows)
    ]
    daily = [grade_assessment(item, INFUSION, P) for item in items]
    ep = summarise(daily)
    assert ep.max_grade == max(d.grade for d in daily)
    positive = [d.study_day for d in daily if d.grade >= 1]
    if positive:
        assert ep.onset_day == min(positive)
        assert ep.duration_days == max(positive) - min(positive) + 1
    else:
        assert ep.onset_day is None
        assert ep.duration_days is None
