"""Reused grades (``CtcaeParameters.memo``) are exactly the grades decided afresh."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.safety.ctcae import MEMO_SIZE, grade_labs, grade_value
from nmocart.safety.parameters import load_parameters

from .helpers import INFUSION, LD_START, lab

TESTS = {
    "anc": ("10^9/L", "/uL"),
    "hemoglobin": ("g/dL", "g/L"),
    "alt": ("U/L",),
    "creatinine": ("mg/dL", "umol/L"),
    "total_bilirubin": ("mg/dL", "umol/L"),
}
values = st.sampled_from([0.0, -0.0, 0.3, 0.5, 1.0, 1.5, 40.0, 120.0, 500.0, 1500.0])
lower_limits = st.none() | st.sampled_from([0.5, 1.0, 1.8, 12.0])
upper_limits = st.none() | st.sampled_from([40.0, 1800.0, 2500.0])  # always above any LLN


@st.composite
def results(draw: st.DrawFn) -> tuple[str, float, str, float | None, float | None, int]:
    test = draw(st.sampled_from(sorted(TESTS)))
    return (
        test,
        draw(values),
        draw(st.sampled_from(TESTS[test])),
        draw(lower_limits),
        draw(upper_limits),
        draw(st.integers(1, 20)),
    )


@settings(max_examples=60)
@given(st.lists(results(), min_size=1, max_size=25), st.booleans())
def test_memoised_grades_equal_fresh_grades_in_any_order(
    items: list[tuple[str, float, str, float | None, float | None, int]], with_baseline: bool
) -> None:
    shared = load_parameters().ctcae  # its memo is warm from earlier subjects and tests
    labs = [lab(t, v, u, n, lower_limit=lo, upper_limit=hi) for t, v, u, lo, hi, n in items]
    if with_baseline:
        labs += [lab(t, 1.0, TESTS[t][0], -10, lower_limit=1.0, upper_limit=2.0) for t in sorted(TESTS)]
    cold = dataclasses.replace(shared, memo={})
    for order in (labs, list(reversed(labs))):
        warm = grade_labs(order, LD_START, INFUSION, shared)
        fresh = grade_labs(order, LD_START, INFUSION, dataclasses.replace(shared, memo={}))
        assert warm == fresh
    for item in grade_labs(labs, LD_START, INFUSION, cold) or ():
        baseline = None if item.baseline is None else labs[item.baseline.lab_index]
        grade, why = grade_value(labs[item.lab_index], baseline, cold)  # the unmemoised path
        assert item.grade == grade
        assert (item.drivers, item.reason) == (((why,), None) if grade is not None else ((), why))
    assert len(shared.memo) <= MEMO_SIZE + len(labs)


def test_negative_zero_prints_as_written_even_after_zero() -> None:
    params = dataclasses.replace(load_parameters().ctcae, memo={})
    first = grade_labs([lab("anc", 0.0, "10^9/L", 2)], LD_START, INFUSION, params)
    second = grade_labs([lab("anc", -0.0, "10^9/L", 2)], LD_START, INFUSION, params)
    assert first is not None
    assert second is not None
    assert first[0].drivers == ("0 10^9/L < 0.5 -> 4",)
    assert second[0].drivers == ("-0 10^9/L < 0.5 -> 4",)
