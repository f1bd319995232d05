"""Exact threshold comparisons that are fast: floats when far from the cut, fractions near it.

A value and its limits arrive as decimals written in JSON. Comparing ``value <op> k x ref``
in floating point is wrong only when both sides agree to about 15 significant digits; then
(and only then) the comparison is redone with exact fractions (``nmocart.kernel.units``). The margin
below is a thousand times the worst rounding error of the float path, so the result always
equals the exact comparison, and a value exactly on a cut (500 /uL against 0.5 x 10^9/L)
is decided exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from nmocart.kernel.units import ANALYTE_UNITS, exact, to_canonical

RELATIVE_MARGIN = 1e-12
"""Float differences smaller than this (relative) are re-decided exactly."""

_FLOAT_FACTORS = {
    test: {unit: float(factor) for unit, factor in units.to_canonical.items()}
    for test, units in ANALYTE_UNITS.items()
}


@lru_cache(maxsize=1 << 16)
def canonical(test: str, value: float, unit: str) -> Fraction:
    """``value`` in ``unit`` as an exact fraction in the test's canonical unit (memoised, pure)."""
    return to_canonical(test, value, unit)


class Measure(NamedTuple):
    """A result in its test's canonical unit: a float for speed, the exact fraction on demand."""

    test: str
    raw: float
    unit: str
    approx: float

    def exact(self) -> Fraction:
        """The exact canonical value of the decimal as written."""
        return canonical(self.test, self.raw, self.unit)


def measure(test: str, raw: float, unit: str) -> Measure:
    """``raw`` in ``unit`` as a :class:`Measure` of ``test``."""
    return Measure(test, raw, unit, to_approx(test, raw, unit))


def compare(
    op: Callable[[Fraction | float, Fraction | float], bool],
    value: Measure,
    multiple: Fraction,
    multiple_approx: float,
    reference: Measure | None = None,
) -> bool:
    """Whether ``value <op> multiple x reference`` (or ``value <op> multiple``), exactly.

    ``multiple_approx`` is ``float(multiple)``, precomputed by the caller.
    """
    if reference is not None and reference.unit == value.unit:
        return compare_same_unit(op, value.raw, multiple, multiple_approx, reference.raw)
    x = value.approx
    y = multiple_approx * reference.approx if reference is not None else multiple_approx
    if abs(x - y) > RELATIVE_MARGIN * (abs(x) + abs(y)):
        return op(x, y)
    exact_y = multiple * reference.exact() if reference is not None else multiple
    return op(value.exact(), exact_y)


def compare_same_unit(
    op: Callable[[Fraction | float, Fraction | float], bool],
    value: float,
    multiple: Fraction,
    multiple_approx: float,
    reference: float,
) -> bool:
    """Whether ``value <op> multiple x reference`` for two decimals written in the same unit."""
    y = multiple_approx * reference
    if abs(value - y) > RELATIVE_MARGIN * (abs(value) + abs(y)):
        return op(value, y)
    return op(exact(value), multiple * exact(reference))


def to_approx(test: str, raw: float, unit: str) -> float:
    """``raw`` in ``unit`` as a float in the test's canonical unit (for the fast path)."""
    return raw * _FLOAT_FACTORS[test][unit]
