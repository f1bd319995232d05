"""Unit conversions are explicit, exact and refuse anything unlisted."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nmocart.units import ANALYTE_UNITS, UnitError, check_unit, exact, to_canonical


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
