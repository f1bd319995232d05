"""Unit conversions are explicit, exact and refuse anything unlisted."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmocart.kernel.units import ANALYTE_UNITS, UnitError, check_unit, exact, exceeds, to_canonical


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("creatinine", 88.4, "umol/L", Fraction(1)),
        ("creatinine", 221, "µmol/L", Fraction(5, 2)),
        ("total_bilirubin", 34.2, "umol/L", Fraction(2)),
        ("alt", 40, "IU/L", Fraction(40)),
        ("anc", 500, "/uL", Fraction(1, 2)),
        ("anc", 0.5, "10^3/uL", Fraction(1, 2)),
        ("hemoglobin", 80, "g/L", Fraction(8)),
        ("igg", 4, "g/L", Fraction(400)),
    ],
)
def test_conversions(analyte: str, value: float, unit: str, expected: Fraction) -> None:
    assert to_canonical(analyte, value, unit) == expected


@pytest.mark.parametrize(("analyte", "unit"), [("creatinine", "mmol/L"), ("alt", "ukat/L"), ("anc", "%")])
def test_unlisted_units_are_errors(analyte: str, unit: str) -> None:
    with pytest.raises(UnitError, match=f"'{unit}' is not a unit for {analyte}; use "):
        check_unit(analyte, unit)
    with pytest.raises(UnitError):
        to_canonical(analyte, 1.0, unit)


def test_exact_reads_the_decimal_as_written() -> None:
    assert exact(0.1) == Fraction(1, 10)
    assert exact(2.51) == Fraction(251, 100)
    assert exact(1e-7) == Fraction(1, 10_000_000)


@given(st.sampled_from(sorted(ANALYTE_UNITS)), st.decimals(0, 10_000, places=3, allow_nan=False))
def test_every_spelling_agrees_with_the_canonical_unit(analyte: str, amount: object) -> None:
    units = ANALYTE_UNITS[analyte]
    canonical = Fraction(str(amount))
    for spelling, factor in units.to_canonical.items():
        written = canonical / factor
        assert to_canonical(analyte, written, spelling) == canonical


@pytest.mark.parametrize(
    ("value", "factors", "expected"),
    [
        (221.0, (2.5, 88.4), False),  # 2.5 mg/dL creatinine written in umol/L
        (221.00000000001, (2.5, 88.4), True),
        (34.2, (2.0, 17.1), False),
        (120.0, (3.0, 40.0), False),
        (120.1, (3.0, 40.0), True),
        (0.3, (3.0, 0.1), False),  # 3 x 0.1 is 0.30000000000000004 in doubles
        (0.0, (3.0, 0.0), False),
    ],
)
def test_exceeds_is_exact_at_the_boundary(value: float, factors: tuple[float, ...], expected: bool) -> None:
    assert exceeds(value, *factors) is expected


decimals = st.decimals(0, 100_000, places=4, allow_nan=False, allow_infinity=False)


@given(decimals, decimals, decimals, st.sampled_from([-1, 0, 1]))
def test_exceeds_agrees_with_exact_arithmetic(a: Decimal, b: Decimal, c: Decimal, nudge: int) -> None:
    product = Fraction(str(b)) * Fraction(str(c))
    # values on, just below and just above the boundary, and arbitrary ones
    value = float(product) if nudge == 0 else float(a)
    if nudge and float(product) > 0:
        value = math.nextafter(float(product), math.inf if nudge > 0 else -math.inf)
    assert exceeds(value, float(b), float(c)) == (exact(value) > exact(float(b)) * exact(float(c)))
