"""Units of measurement: the accepted spellings per analyte and exact conversions.

Every numeric result is converted to its analyte's canonical unit with rational
arithmetic (``fractions.Fraction``), so that a value sitting exactly on a threshold
(221 umol/L creatinine = 2.5 mg/dL) compares exactly, never by float rounding.
Any unit not listed here is an input error, never a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

CREATININE_UMOL_L_PER_MG_DL = Fraction("88.4")
"""1 mg/dL creatinine = 88.4 umol/L (eligibility spec section 1)."""

BILIRUBIN_UMOL_L_PER_MG_DL = Fraction("17.1")
"""1 mg/dL total bilirubin = 17.1 umol/L (eligibility spec section 1)."""


@dataclass(frozen=True)
class AnalyteUnits:
    """The canonical unit of an analyte and the factor that takes each accepted spelling to it."""

    canonical: str
    to_canonical: dict[str, Fraction]

    @property
    def spellings(self) -> tuple[str, ...]:
        """The accepted spellings, in the order they are suggested to users."""
        return tuple(self.to_canonical)


_CELL_COUNT = AnalyteUnits(
    "10^9/L",
    {"10^9/L": Fraction(1), "10^3/uL": Fraction(1), "/uL": Fraction(1, 1000)},
)
_CREATININE = AnalyteUnits(
    "mg/dL",
    {
        "mg/dL": Fraction(1),
        "umol/L": 1 / CREATININE_UMOL_L_PER_MG_DL,
        "µmol/L": 1 / CREATININE_UMOL_L_PER_MG_DL,
    },
)
_BILIRUBIN = AnalyteUnits(
    "mg/dL",
    {
        "mg/dL": Fraction(1),
        "umol/L": 1 / BILIRUBIN_UMOL_L_PER_MG_DL,
        "µmol/L": 1 / BILIRUBIN_UMOL_L_PER_MG_DL,
    },
)
_ENZYME = AnalyteUnits("U/L", {"U/L": Fraction(1), "IU/L": Fraction(1)})

ANALYTE_UNITS: dict[str, AnalyteUnits] = {
    "creatinine": _CREATININE,
    "total_bilirubin": _BILIRUBIN,
    "alt": _ENZYME,
    "ast": _ENZYME,
    "anc": _CELL_COUNT,
    "platelets": _CELL_COUNT,
    "lymphocytes": _CELL_COUNT,
    "wbc": _CELL_COUNT,
    "hemoglobin": AnalyteUnits("g/dL", {"g/dL": Fraction(1), "g/L": Fraction(1, 10)}),
    "igg": AnalyteUnits("mg/dL", {"mg/dL": Fraction(1), "g/L": Fraction(100)}),
}
"""Accepted units per analyte (eligibility spec section 1, safety spec section 1)."""


class UnitError(ValueError):
    """A unit that is not accepted for an analyte; the message names the accepted ones."""


@lru_cache(maxsize=4096)
def exact(value: float) -> Fraction:
    """The decimal number as written (shortest round-trip repr), as an exact fraction.

    Cached: limits of normal and thresholds recur on every record.
    """
    return Fraction(*Decimal(repr(float(value))).as_integer_ratio())


def unit_message(analyte: str, unit: str) -> str:
    """The error text for an unaccepted unit, naming the accepted spellings."""
    accepted = ANALYTE_UNITS[analyte].spellings
    choices = ", ".join(accepted[:-1]) + " or " + accepted[-1] if len(accepted) > 1 else accepted[0]
    return f"{unit!r} is not a unit for {analyte}; use {choices}"


def check_unit(analyte: str, unit: str) -> str:
    """Return ``unit`` if accepted for ``analyte``, else raise :class:`UnitError`."""
    if analyte not in ANALYTE_UNITS:
        raise UnitError(f"{analyte!r} has no numeric unit")
    if unit not in ANALYTE_UNITS[analyte].to_canonical:
        raise UnitError(unit_message(analyte, unit))
    return unit


def to_canonical(analyte: str, value: float | Fraction, unit: str) -> Fraction:
    """``value`` in ``unit`` expressed exactly in the analyte's canonical unit."""
    factor = ANALYTE_UNITS[analyte].to_canonical.get(unit)
    if factor is None:
        raise UnitError(unit_message(analyte, unit))
    number = value if isinstance(value, Fraction) else exact(value)
    return number * factor


def canonical_unit(analyte: str) -> str:
    """The unit every result of ``analyte`` is compared in."""
    return ANALYTE_UNITS[analyte].canonical


def per_canonical(analyte: str, unit: str) -> float:
    """How many ``unit`` make one canonical unit (88.4 umol/L per mg/dL creatinine)."""
    factor = ANALYTE_UNITS[analyte].to_canonical.get(unit)
    if factor is None:
        raise UnitError(unit_message(analyte, unit))
    return _per_canonical(factor)


@lru_cache(maxsize=64)
def _per_canonical(factor: Fraction) -> float:
    return float(1 / factor)


CLOSE = 1e-9
"""Relative gap under which :func:`exceeds` settles a comparison with exact decimals."""


def exceeds(value: float, *factors: float) -> bool:
    """Whether ``value`` > the product of ``factors``, exactly as the decimals are written.

    Doubles decide when the two sides differ by more than ``CLOSE`` relative (their
    rounding is ~1e-15); otherwise the decimals are compared as exact fractions, so
    221 umol/L is not above 2.5 mg/dL x 88.4 and 120 U/L is not above 3 x 40 U/L.
    """
    approx = math.prod(factors)
    if abs(value - approx) > CLOSE * abs(approx):
        return value > approx
    product = Fraction(1)
    for factor in factors:
        product *= exact(factor)
    return exact(value) > product
