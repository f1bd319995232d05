"""Invariants of the value renderings (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nmocart.cdisc.domains import criterion_text, decimal_text, study_day
from nmocart.cdisc.xpt import text_problem


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_decimal_text_reads_back_to_the_same_number_without_an_exponent(x: float) -> None:
    text = decimal_text(x)
    assert float(text) == x
    assert "e" not in text.lower()


@given(st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=1e12)))
def test_decimal_text_of_a_lab_sized_number_is_a_v5_value(x: float) -> None:
    # 5e-324 written out needs 326 characters: such a value is refused (XPT v5), never truncated
    assert text_problem(decimal_text(x)) is None


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=600))
def test_criterion_text_is_always_a_v5_value_and_a_prefix_of_the_collapsed_text(text: str) -> None:
    shown, shortened = criterion_text(text)
    full = " ".join(text.split())
    assert len(shown) <= 200
    assert shortened == (len(full) > 200)
    if shortened:
        assert shown.endswith(" ...")
        assert full.startswith(shown[: -len(" ...")])
    else:
        assert shown == full
    assert shown == "" or text_problem(shown) is None


@given(st.dates(), st.dates())
def test_study_day_is_never_zero_and_counts_calendar_days(day: object, reference: object) -> None:
    import datetime as dt

    assert isinstance(day, dt.date)
    assert isinstance(reference, dt.date)
    n = study_day(day, reference)
    assert n is not None
    assert n != 0
    assert (n - 1 if n > 0 else n) == (day - reference).days
