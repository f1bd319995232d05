from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nmocart.safety.icans import grade_assessment, grade_icans, ice_term

from .helpers import INFUSION, PARAMS, day, icans, ice

P = PARAMS.icans


def grade(**over: object) -> int:
    return grade_assessment(icans(**over), INFUSION, P).grade


def test_ice_score_bands_at_every_edge() -> None:
    expected = {10: 0, 9: 1, 8: 1, 7: 1, 6: 2, 5: 2, 4: 2, 3: 2, 2: 3, 1: 3, 0: 3}
    for score, want in expected.items():
        assert ice_term(score, P) == want, score
        assert grade(ice=ice(score)) == want, score


def test_ice_score_is_the_sum_and_reported() -> None:
    items = {"orientation": 3, "naming": 2, "commands": 1, "writing": 0, "attention": 1}
    result = grade_assessment(icans(ice=items), INFUSION, P)
    assert result.ice_score == 7
    assert result.grade == 1
    assert result.drivers == ("ICE: 7/10 -> 1",)


def test_ice_not_done_is_not_a_finding_but_reported() -> None:
    result = grade_assessment(icans(ice=None), INFUSION, P)
    assert result.grade == 0
    assert result.ice_score is None
    assert "ICE not done (not a finding)" in result.drivers
    ep = grade_icans([icans(ice=None, date=day(2))], INFUSION, P)
    assert ep.max_grade == 0


def test_consciousness_terms() -> None:
    expected = {
        "alert": 0,
        "awakens_spontaneously": 1,
        "awakens_to_voice": 2,
        "awakens_to_touch": 3,
        "unarousable": 4,
    }
    for level, want in expected.items():
        assert grade(consciousness=level) == want


def test_seizure_motor_edema_terms() -> None:
    assert grade(seizure="resolved_rapidly") == 3
    assert grade(seizure="nonconvulsive_resolved_with_intervention") == 3
    assert grade(seizure="prolonged_or_repetitive") == 4
    assert grade(motor="deep_focal_weakness") == 4
    assert grade(cerebral_edema="focal") == 3
    assert grade(cerebral_edema="diffuse") == 4


def test_grade_is_largest_term_with_its_drivers() -> None:
    result = grade_assessment(
        icans(ice=ice(5), consciousness="awakens_to_touch", cerebral_edema="focal"), INFUSION, P
    )
    assert result.grade == 3
    assert set(result.drivers) == {"consciousness: awakens_to_touch -> 3", "cerebral edema: focal -> 3"}


def test_episode_summary() -> None:
    items = [
        icans(date=day(3), ice=ice(10)),
        icans(date=day(5), ice=ice(6)),
        icans(date=day(6), ice=ice(8)),
        icans(date=day(7), ice=ice(10)),
    ]
    ep = grade_icans(items, INFUSION, P)
    assert (ep.max_grade, ep.onset_day, ep.duration_days) == (2, 5, 2)
    assert grade_icans(None, INFUSION, P).max_grade is None


@given(a=st.integers(0, 10), b=st.integers(0, 10))
def test_ice_term_monotone_decreasing_in_score(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert ice_term(lo, P) >= ice_term(hi, P)
