"""Kleene three-valued logic and how explanations combine."""

from __future__ import annotations

import itertools

import pytest

from nmocart.kernel import logic

T = logic.true("t", ["/t"])
F = logic.false("f", ["/f"])
U = logic.unknown("u", ["/u: needed"], ["/u"])


@pytest.mark.parametrize(("a", "b"), list(itertools.product([T, F, U], repeat=2)))
def test_truth_tables(a: logic.Fact, b: logic.Fact) -> None:
    order = {False: 0, None: 1, True: 2}
    assert logic.any_of(a, b).value == max(a.value, b.value, key=lambda v: order[v])
    assert logic.all_of(a, b).value == min(a.value, b.value, key=lambda v: order[v])


def test_or_keeps_the_deciding_explanation() -> None:
    result = logic.any_of(F, U, T)
    assert result.evidence == ("/t",)
    assert result.reason == "t"
    assert result.missing == ()


def test_unknown_keeps_what_would_settle_it() -> None:
    assert logic.any_of(F, U).missing == ("/u: needed",)
    assert logic.all_of(T, U).missing == ("/u: needed",)
    assert logic.all_of(F, U).missing == ()


def test_negate() -> None:
    assert logic.negate(T).value is False
    assert logic.negate(F).value is True
    assert logic.negate(U).value is None
