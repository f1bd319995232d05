"""Every safety threshold as a named, versioned parameter, loaded from ``data/safety_v2.json``.

The grading core takes a :class:`SafetyParameters` argument instead of literals, so a change
of threshold is a change of data with a new version and checksum, recorded in every output.
Numbers are written as decimal strings in the JSON and held as exact fractions.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

import orjson

Comparison = Callable[[Fraction | float, Fraction | float], bool]

_OPERATORS: dict[str, Comparison] = {">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Cut:
    """Grade ``grade`` applies when ``value <op> multiple x reference`` (e.g. ``> 3.0 x ULN``)."""

    grade: int
    op: str
    multiple: Fraction
    approx: float
    compare: Comparison
    text: str
    """The multiple as written in the parameter file, e.g. ``3.0``."""

    def describe(self) -> str:
        """The cut as written in the spec, e.g. ``> 3.0``."""
        return f"{self.op} {self.text}"


@dataclass(frozen=True)
class Below:
    """Grade ``grade`` applies when the value is strictly below ``limit`` (canonical unit)."""

    grade: int
    limit: Fraction
    approx: float
    text: str


@dataclass(frozen=True)
class CrsParameters:
    """ASTCT CRS thresholds (safety spec section 2)."""

    fever_min_c: float
    hypotension_grade_by_vasopressors: tuple[int, ...]
    nasal_cannula_low_flow_max_l_min: float
    nasal_cannula_low_flow_grade: int
    nasal_cannula_high_flow_grade: int
    oxygen_grade: Mapping[str, int]


@dataclass(frozen=True)
class IcansParameters:
    """ASTCT ICANS thresholds (safety spec section 3)."""

    ice_grade_by_min_score: tuple[tuple[int, int], ...]
    consciousness_grade: Mapping[str, int]
    seizure_grade: Mapping[str, int]
    motor_grade: Mapping[str, int]
    cerebral_edema_grade: Mapping[str, int]


@dataclass(frozen=True)
class DecreasedTerm:
    """A CTCAE "count decreased" term: grade 1 below LLN, then fixed cuts (canonical unit)."""

    term: str
    below: tuple[Below, ...]


@dataclass(frozen=True)
class IncreasedTerm:
    """A CTCAE "increased" term graded in multiples of ULN or of an abnormal baseline."""

    term: str
    normal_baseline_x_uln: tuple[Cut, ...]
    abnormal_baseline_x_baseline: tuple[Cut, ...]


@dataclass(frozen=True)
class CreatinineTerm:
    """Creatinine increased: the higher of the ULN reading and the baseline reading."""

    term: str
    x_uln: tuple[Cut, ...]
    x_baseline: tuple[Cut, ...]


@dataclass(frozen=True)
class CtcaeParameters:
    """CTCAE v5.0 lab-grading thresholds (safety spec section 4)."""

    decreased: Mapping[str, DecreasedTerm]
    increased: Mapping[str, IncreasedTerm]
    creatinine: CreatinineTerm
    igg_below_mg_dl: Fraction
    memo: dict[Hashable, tuple[int | None, str]] = field(default_factory=dict, compare=False, repr=False)
    """Grades already decided under these thresholds, by everything a grade depends on (the
    grading is pure; lab values are written to a fixed precision and repeat a great deal)."""


@dataclass(frozen=True)
class IcahtParameters:
    """EHA/EBMT ICAHT thresholds (safety spec section 5)."""

    neutropenic_max: Fraction
    profound_max: Fraction
    stable_recovery_dates: int
    early_first_day: int
    early_last_day: int
    early_grade_by_min_days: tuple[tuple[int, int], ...]
    early_grade_by_min_profound_days: tuple[tuple[int, int], ...]
    late_first_day: int
    late_last_day: int
    late_min_measurements: int
    late_grade_by_max_anc: tuple[tuple[int, Fraction], ...]


@dataclass(frozen=True)
class SafetyParameters:
    """The whole parameter set with its identity: id, version and checksum of its content."""

    id: str
    version: str
    sha256: str
    crs: CrsParameters
    icans: IcansParameters
    ctcae: CtcaeParameters
    icaht: IcahtParameters

    def identity(self) -> dict[str, str]:
        """What every output records about the parameters it was graded with."""
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


def show(number: Fraction) -> str:
    """A fraction as a short decimal for drivers and reasons (``3/2`` as ``1.5``)."""
    return f"{float(number):g}"


def _cuts(rows: Sequence[Sequence[Any]]) -> tuple[Cut, ...]:
    return tuple(
        Cut(int(g), str(op), Fraction(str(m)), float(Fraction(str(m))), _OPERATORS[str(op)], str(m))
        for g, op, m in rows
    )


def _pairs(rows: Sequence[Sequence[Any]]) -> tuple[tuple[int, int], ...]:
    return tuple((int(a), int(b)) for a, b in rows)


def canonical_json(data: Any) -> bytes:
    """Sorted-key compact JSON: the bytes the checksum is taken over."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def parse_parameters(data: Mapping[str, Any]) -> SafetyParameters:
    """Build the typed parameter set from its JSON form (as in ``data/safety_v2.json``)."""
    crs, icans, ctcae, icaht = data["crs"], data["icans"], data["ctcae"], data["icaht"]
    increased = {
        test: IncreasedTerm(
            ctcae["transaminase"][test]["term"],
            _cuts(ctcae["transaminase"]["normal_baseline_x_uln"]),
            _cuts(ctcae["transaminase"]["abnormal_baseline_x_baseline"]),
        )
        for test in ("alt", "ast")
    }
    increased["total_bilirubin"] = IncreasedTerm(
        ctcae["bilirubin"]["term"],
        _cuts(ctcae["bilirubin"]["normal_baseline_x_uln"]),
        _cuts(ctcae["bilirubin"]["abnormal_baseline_x_baseline"]),
    )
    return SafetyParameters(
        id=str(data["id"]),
        version=str(data["version"]),
        sha256=hashlib.sha256(canonical_json(data)).hexdigest(),
        crs=CrsParameters(
            fever_min_c=float(crs["fever_min_c"]),
            hypotension_grade_by_vasopressors=tuple(crs["hypotension_grade_by_vasopressors"]),
            nasal_cannula_low_flow_max_l_min=float(crs["nasal_cannula_low_flow_max_l_min"]),
            nasal_cannula_low_flow_grade=int(crs["nasal_cannula_low_flow_grade"]),
            nasal_cannula_high_flow_grade=int(crs["nasal_cannula_high_flow_grade"]),
            oxygen_grade=dict(crs["oxygen_grade"]),
        ),
        icans=IcansParameters(
            ice_grade_by_min_score=_pairs(icans["ice_grade_by_min_score"]),
            consciousness_grade=dict(icans["consciousness_grade"]),
            seizure_grade=dict(icans["seizure_grade"]),
            motor_grade=dict(icans["motor_grade"]),
            cerebral_edema_grade=dict(icans["cerebral_edema_grade"]),
        ),
        ctcae=CtcaeParameters(
            decreased={
                test: DecreasedTerm(
                    row["term"],
                    tuple(
                        Below(int(g), Fraction(str(v)), float(Fraction(str(v))), str(v))
                        for g, v in row["below"]
                    ),
                )
                for test, row in ctcae["decreased"].items()
            },
            increased=increased,
            creatinine=CreatinineTerm(
                ctcae["creatinine"]["term"],
                _cuts(ctcae["creatinine"]["x_uln"]),
                _cuts(ctcae["creatinine"]["x_baseline"]),
            ),
            igg_below_mg_dl=Fraction(str(data["hypogammaglobulinemia"]["igg_below_mg_dl"])),
        ),
        icaht=IcahtParameters(
            neutropenic_max=Fraction(str(icaht["neutropenic_max"])),
            profound_max=Fraction(str(icaht["profound_max"])),
            stable_recovery_dates=int(icaht["stable_recovery_dates"]),
            early_first_day=int(icaht["early_first_day"]),
            early_last_day=int(icaht["early_last_day"]),
            early_grade_by_min_days=_pairs(icaht["early_grade_by_min_days"]),
            early_grade_by_min_profound_days=_pairs(icaht["early_grade_by_min_profound_days"]),
            late_first_day=int(icaht["late_first_day"]),
            late_last_day=int(icaht["late_last_day"]),
            late_min_measurements=int(icaht["late_min_measurements"]),
            late_grade_by_max_anc=tuple(
                (int(g), Fraction(str(v))) for g, v in icaht["late_grade_by_max_anc"]
            ),
        ),
    )


@cache
def load_parameters() -> SafetyParameters:
    """The study's parameter set, version 2 (read once from the package data)."""
    raw = resources.files("nmocart").joinpath("data/safety_v2.json").read_bytes()
    return parse_parameters(orjson.loads(raw))
