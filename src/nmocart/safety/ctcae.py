"""CTCAE v5.0 grade of each lab result against its baseline, and hypogammaglobulinaemia.

Safety spec section 4. Values are compared as exact fractions in the analyte's canonical
unit, so a result exactly on a cut (500 /uL against 0.5 x 10^9/L) lands on the side the
table says. A result whose needed limit (LLN or ULN) is missing is reported ungradable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from nmocart.safety.parameters import CtcaeParameters, Cut, show
from nmocart.safety.record import LabResult
from nmocart.units import canonical_unit, to_canonical


@lru_cache(maxsize=1 << 16)
def canonical(test: str, value: float, unit: str) -> Fraction:
    """``value`` in ``unit`` as an exact fraction in the test's canonical unit (memoised, pure)."""
    return to_canonical(test, value, unit)


@dataclass(frozen=True)
class Baseline:
    """The baseline result of a test: its position in ``labs``, value and own CTCAE grade."""

    index: int
    date: dt.date
    value: Fraction
    grade: int | None


@dataclass(frozen=True)
class LabGrade:
    """The CTCAE grade of one post-baseline result, what drove it, or why it is ungradable."""

    index: int
    test: str
    term: str
    date: dt.date
    value: Fraction
    grade: int | None
    drivers: tuple[str, ...]
    reason: str | None
    baseline: Baseline | None


def term_of(test: str, params: CtcaeParameters) -> str:
    """The CTCAE term a test is graded under."""
    if test in params.decreased:
        return params.decreased[test].term
    if test in params.increased:
        return params.increased[test].term
    if test == "creatinine":
        return params.creatinine.term
    raise ValueError(f"{test!r} has no CTCAE term")


def _limit(lab: LabResult, limit: float | None) -> Fraction | None:
    return None if limit is None else canonical(lab.test, limit, lab.unit)


def _highest(cuts: Sequence[Cut], value: Fraction, reference: Fraction, label: str) -> tuple[int, str]:
    """The highest grade whose cut ``value`` reaches in multiples of ``reference`` (else 0)."""
    for cut in reversed(cuts):
        if cut.reached(value, reference):
            return cut.grade, f"{cut.describe()} x {label}"
    first = cuts[0]
    return 0, f"{'<=' if first.op == '>' else '<'} {show(first.multiple)} x {label}"


def _decreased(lab: LabResult, value: Fraction, params: CtcaeParameters) -> tuple[int | None, str]:
    """Grade of a "count decreased" term: below LLN -> 1, then the table's strict cuts."""
    term = params.decreased[lab.test]
    lln = _limit(lab, lab.lower_limit)
    if lln is None:
        return None, "lower_limit (LLN) is missing; the result cannot be graded"
    unit = canonical_unit(lab.test)
    grade, why = 0, f"{show(value)} {unit} >= LLN {show(lln)}"
    if value < lln:
        grade, why = 1, f"{show(value)} {unit} < LLN {show(lln)}"
    for cut in term.below:
        if value < cut.limit:
            grade, why = cut.grade, f"{show(value)} {unit} < {show(cut.limit)}"
    return grade, f"{why} -> {grade}"


def _increased(
    lab: LabResult,
    value: Fraction,
    baseline: LabResult | None,
    params: CtcaeParameters,
) -> tuple[int | None, str]:
    """ALT, AST, bilirubin: multiples of ULN, or of the baseline value when it is above ULN."""
    term = params.increased[lab.test]
    uln = _limit(lab, lab.upper_limit)
    if uln is None:
        return None, "upper_limit (ULN) is missing; the result cannot be graded"
    unit = canonical_unit(lab.test)
    ratio_text = f"{show(value)} {unit}"
    if baseline is not None:
        base = canonical(baseline.test, baseline.value, baseline.unit)
        base_uln = _limit(baseline, baseline.upper_limit)
        reference_uln = base_uln if base_uln is not None else uln
        if base > reference_uln:
            grade, why = _highest(
                term.abnormal_baseline_x_baseline, value, base, f"abnormal baseline {show(base)}"
            )
            return grade, f"{ratio_text} {why} -> {grade}"
    grade, why = _highest(term.normal_baseline_x_uln, value, uln, f"ULN {show(uln)}")
    return grade, f"{ratio_text} {why} -> {grade}"


def _creatinine(
    lab: LabResult,
    value: Fraction,
    baseline: LabResult | None,
    params: CtcaeParameters,
) -> tuple[int | None, str]:
    """Creatinine: the higher of the ULN reading and the baseline reading."""
    term = params.creatinine
    uln = _limit(lab, lab.upper_limit)
    if uln is None:
        return None, "upper_limit (ULN) is missing; the result cannot be graded"
    unit = canonical_unit(lab.test)
    by_uln, why_uln = _highest(term.x_uln, value, uln, f"ULN {show(uln)}")
    text = f"{show(value)} {unit} {why_uln} -> {by_uln}"
    if baseline is None:
        return by_uln, text
    base = canonical(baseline.test, baseline.value, baseline.unit)
    by_base, why_base = _highest(term.x_baseline, value, base, f"baseline {show(base)}")
    if by_base > by_uln:
        return by_base, f"{show(value)} {unit} {why_base} -> {by_base} (ULN reading {by_uln})"
    return by_uln, f"{text} (baseline reading {by_base})"


def grade_value(
    lab: LabResult, baseline: LabResult | None, params: CtcaeParameters
) -> tuple[int | None, str]:
    """The CTCAE grade of ``lab`` given the test's baseline result, with its driver or reason."""
    value = canonical(lab.test, lab.value, lab.unit)
    if lab.test in params.decreased:
        return _decreased(lab, value, params)
    if lab.test in params.increased:
        return _increased(lab, value, baseline, params)
    if lab.test == "creatinine":
        return _creatinine(lab, value, baseline, params)
    raise ValueError(f"{lab.test!r} has no CTCAE grade")


def baseline_cutoff_passes(date: dt.date, lymphodepletion: dt.date | None, infusion: dt.date) -> bool:
    """Whether a result dated ``date`` may be a baseline (before LD, else on/before infusion)."""
    return date < lymphodepletion if lymphodepletion is not None else date <= infusion


def find_baselines(
    labs: Sequence[LabResult], lymphodepletion: dt.date | None, infusion: dt.date
) -> dict[str, int]:
    """Per test, the index of its baseline: the latest eligible result (ties: the later listed)."""
    chosen: dict[str, int] = {}
    for index, lab in enumerate(labs):
        if not baseline_cutoff_passes(lab.date, lymphodepletion, infusion):
            continue
        best = chosen.get(lab.test)
        if best is None or lab.date >= labs[best].date:
            chosen[lab.test] = index
    return chosen


def grade_labs(
    labs: Sequence[LabResult] | None,
    lymphodepletion: dt.date | None,
    infusion: dt.date,
    params: CtcaeParameters,
) -> tuple[LabGrade, ...]:
    """Every post-baseline result of a CTCAE-graded test, graded against its baseline."""
    if not labs:
        return ()
    baselines = find_baselines(labs, lymphodepletion, infusion)
    baseline_info: dict[str, Baseline] = {}
    for test, index in baselines.items():
        if test == "igg":
            continue
        lab = labs[index]
        grade, _ = grade_value(lab, None, params)
        value = canonical(lab.test, lab.value, lab.unit)
        baseline_info[test] = Baseline(index, lab.date, value, grade)
    out: list[LabGrade] = []
    for index, lab in enumerate(labs):
        if lab.test == "igg" or baseline_cutoff_passes(lab.date, lymphodepletion, infusion):
            continue
        base_index = baselines.get(lab.test)
        base_lab = labs[base_index] if base_index is not None else None
        grade, why = grade_value(lab, base_lab, params)
        out.append(
            LabGrade(
                index=index,
                test=lab.test,
                term=term_of(lab.test, params),
                date=lab.date,
                value=canonical(lab.test, lab.value, lab.unit),
                grade=grade,
                drivers=(why,) if grade is not None else (),
                reason=None if grade is not None else why,
                baseline=baseline_info.get(lab.test),
            )
        )
    return tuple(out)


def worst_grades(grades: Sequence[LabGrade]) -> dict[str, int | None]:
    """Per CTCAE term, the worst post-baseline grade (None when every result was ungradable)."""
    worst: dict[str, int | None] = {}
    for item in grades:
        if item.grade is None:
            worst.setdefault(item.term, None)
            continue
        current = worst.get(item.term)
        if current is None or item.grade > current:
            worst[item.term] = item.grade
    return dict(sorted(worst.items()))


def hypogammaglobulinemia(
    labs: Sequence[LabResult] | None,
    lymphodepletion: dt.date | None,
    infusion: dt.date,
    params: CtcaeParameters,
) -> tuple[bool | None, str]:
    """IgG < 400 mg/dL after baseline (protocol-defined); None when no IgG was measured then."""
    after = [
        (index, lab)
        for index, lab in enumerate(labs or ())
        if lab.test == "igg" and not baseline_cutoff_passes(lab.date, lymphodepletion, infusion)
    ]
    if not after:
        return None, "no IgG measured after baseline"
    limit = params.igg_below_mg_dl
    lowest_index, lowest = min(after, key=lambda pair: canonical("igg", pair[1].value, pair[1].unit))
    value = canonical("igg", lowest.value, lowest.unit)
    if value < limit:
        return True, f"labs[{lowest_index}] IgG {show(value)} mg/dL < {show(limit)}"
    return False, f"lowest IgG after baseline {show(value)} mg/dL >= {show(limit)}"
