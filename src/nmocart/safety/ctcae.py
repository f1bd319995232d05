"""CTCAE v5.0 grade of each lab result against its baseline, and hypogammaglobulinaemia.

Safety spec section 4. Values are compared as exact fractions in the analyte's canonical
unit, so a result exactly on a cut (500 /uL against 0.5 x 10^9/L) lands on the side the
table says. A result is ungradable only where its grade depends on a missing limit (spec
version 2): a count or haemoglobin below the grade-2 cut needs no LLN; ALT, AST, bilirubin and
creatinine always need their ULN.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from nmocart.kernel.units import canonical_unit
from nmocart.safety.measure import (
    RELATIVE_MARGIN,
    Measure,
    canonical,
    compare,
    compare_same_unit,
    measure,
    to_approx,
)
from nmocart.safety.parameters import Below, CtcaeParameters, Cut, show
from nmocart.safety.record import LabResult


class Baseline(NamedTuple):
    """The baseline result of a test: its position in ``labs``, value and own CTCAE grade."""

    lab_index: int
    date: dt.date
    value: float
    grade: int | None


class LabGrade(NamedTuple):
    """The CTCAE grade of one post-baseline result, what drove it, or why it is ungradable."""

    lab_index: int
    test: str
    term: str
    date: dt.date
    value: float
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


ONE = Fraction(1)

MEMO_SIZE = 1 << 16
"""Decided grades kept for reuse (see ``CtcaeParameters.memo``); the memo restarts beyond it."""


class Reference(NamedTuple):
    """A test's baseline as the grading of later results needs it (computed once per test)."""

    value: Measure
    upper_limit: float | None
    """The baseline's own ULN in its own unit, which decides a normal or abnormal baseline."""
    abnormal: bool | None
    """Whether it is above its own ULN; None without one (then judged against each result's ULN)."""


def reference_of(baseline: LabResult | None) -> Reference | None:
    """The grading reference of a baseline result (None without a baseline)."""
    if baseline is None:
        return None
    uln = baseline.upper_limit
    abnormal = None if uln is None else compare_same_unit(operator.gt, baseline.value, ONE, 1.0, uln)
    return Reference(measure(baseline.test, baseline.value, baseline.unit), uln, abnormal)


def _highest(
    cuts: Sequence[Cut], lab: LabResult, approx: float, reference: Measure | float, label: str
) -> tuple[int, str]:
    """The highest grade whose cut the result reaches in multiples of ``reference`` (else 0).

    ``reference`` is a baseline measure, or a limit (ULN) written in the result's own unit.
    Cuts rise with the grade, so the first cut not reached ends the search.
    """
    reached: Cut | None = None
    if isinstance(reference, float):
        raw = lab.value
        for cut in cuts:
            if not compare_same_unit(cut.compare, raw, cut.multiple, cut.approx, reference):
                break
            reached = cut
    else:
        value = Measure(lab.test, lab.value, lab.unit, approx)
        for cut in cuts:
            if not compare(cut.compare, value, cut.multiple, cut.approx, reference):
                break
            reached = cut
    if reached is None:
        first = cuts[0]
        return 0, f"{'<=' if first.op == '>' else '<'} {first.text} x {label}"
    return reached.grade, f"{reached.describe()} x {label}"


def _decreased(lab: LabResult, approx: float, params: CtcaeParameters) -> tuple[int | None, str]:
    """Grade of a "count decreased" term: the table's absolute cuts, then below LLN -> 1.

    Safety spec version 2: grades 2 to 4 need no LLN, so a result below the grade-2 cut is
    graded without one; at or above that cut a missing LLN leaves the grade (0 or 1) unknown.
    """
    test, raw, unit = lab.test, lab.value, lab.unit
    reached: Below | None = None
    cuts = params.decreased[test].below
    for cut in cuts:  # limits fall as the grade rises; compare_canonical inlined (hot path)
        limit = cut.approx
        if abs(approx - limit) > RELATIVE_MARGIN * (abs(approx) + abs(limit)):
            if approx >= limit:
                break
        elif not canonical(test, raw, unit) < cut.limit:
            break
        reached = cut
    shown = canonical_unit(test)
    if reached is not None:
        return reached.grade, f"{approx:.6g} {shown} < {reached.text} -> {reached.grade}"
    lln = lab.lower_limit
    if lln is None:
        return None, (
            f"lower_limit (LLN) is missing; {approx:.6g} {shown} >= {cuts[0].text} "
            f"is grade 0 or 1 depending on the LLN, which cannot be decided"
        )
    # the value and its LLN are decimals in the same unit: float order is their exact order
    grade, op = (1, "<") if raw < lln else (0, ">=")
    return grade, f"{approx:.6g} {shown} {op} LLN {to_approx(test, lln, unit):.6g} -> {grade}"


def _uln_label(lab: LabResult, uln: float) -> str:
    if uln == 0:  # 0.0 and -0.0 are equal cache keys but print differently
        return f"ULN {to_approx(lab.test, uln, lab.unit):.6g}"
    return _limit_label(lab.test, uln, lab.unit)


@lru_cache(maxsize=1024)
def _limit_label(test: str, uln: float, unit: str) -> str:
    """``ULN 1.2`` in the canonical unit (memoised: a lab's ULN repeats across its results)."""
    return f"ULN {to_approx(test, uln, unit):.6g}"


def _increased(
    lab: LabResult, approx: float, baseline: Reference | None, params: CtcaeParameters
) -> tuple[int | None, str]:
    """ALT, AST, bilirubin: multiples of ULN, or of the baseline value when it is above ULN."""
    term = params.increased[lab.test]
    uln = lab.upper_limit
    if uln is None:
        return None, "upper_limit (ULN) is missing; the result cannot be graded"
    shown = f"{approx:.6g} {canonical_unit(lab.test)}"
    if baseline is not None:
        base = baseline.value
        abnormal = baseline.abnormal  # against its own ULN, else against this result's ULN
        if abnormal is None:
            abnormal = compare(operator.gt, base, ONE, 1.0, measure(lab.test, uln, lab.unit))
        if abnormal:
            label = f"abnormal baseline {base.approx:.6g}"
            grade, why = _highest(term.abnormal_baseline_x_baseline, lab, approx, base, label)
            return grade, f"{shown} {why} -> {grade}"
    grade, why = _highest(term.normal_baseline_x_uln, lab, approx, uln, _uln_label(lab, uln))
    return grade, f"{shown} {why} -> {grade}"


def _creatinine(
    lab: LabResult, approx: float, baseline: Reference | None, params: CtcaeParameters
) -> tuple[int | None, str]:
    """Creatinine: the higher of the ULN reading and the baseline reading."""
    term = params.creatinine
    uln = lab.upper_limit
    if uln is None:
        return None, "upper_limit (ULN) is missing; the result cannot be graded"
    shown = f"{approx:.6g} {canonical_unit(lab.test)}"
    by_uln, why_uln = _highest(term.x_uln, lab, approx, uln, _uln_label(lab, uln))
    if baseline is None:
        return by_uln, f"{shown} {why_uln} -> {by_uln}"
    base = baseline.value
    by_base, why_base = _highest(term.x_baseline, lab, approx, base, f"baseline {base.approx:.6g}")
    if by_base > by_uln:
        return by_base, f"{shown} {why_base} -> {by_base} (ULN reading {by_uln})"
    return by_uln, f"{shown} {why_uln} -> {by_uln} (baseline reading {by_base})"


def grade_value(
    lab: LabResult, baseline: LabResult | None, params: CtcaeParameters
) -> tuple[int | None, str]:
    """The CTCAE grade of ``lab`` given the test's baseline result, with its driver or reason."""
    return _grade(lab, to_approx(lab.test, lab.value, lab.unit), reference_of(baseline), params)


def _grade(
    lab: LabResult, approx: float, baseline: Reference | None, params: CtcaeParameters
) -> tuple[int | None, str]:
    if lab.test in params.decreased:
        return _decreased(lab, approx, params)
    if lab.test in params.increased:
        return _increased(lab, approx, baseline, params)
    if lab.test == "creatinine":
        return _creatinine(lab, approx, baseline, params)
    raise ValueError(f"{lab.test!r} has no CTCAE grade")


def first_graded_date(lymphodepletion: dt.date | None, infusion: dt.date) -> dt.date:
    """The first date whose results are graded: LD start, else the day after the infusion."""
    return lymphodepletion if lymphodepletion is not None else infusion + dt.timedelta(days=1)


def find_baselines(
    labs: Sequence[LabResult], lymphodepletion: dt.date | None, infusion: dt.date
) -> dict[str, int]:
    """Per test, the index of its baseline: the latest eligible result (ties: the later listed)."""
    chosen: dict[str, int] = {}
    first_graded = first_graded_date(lymphodepletion, infusion)
    for index, lab in enumerate(labs):
        if lab.date >= first_graded:  # baselines are dated before LD (or on/before infusion)
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
) -> tuple[LabGrade, ...] | None:
    """Every post-baseline result of a CTCAE-graded test, graded against its baseline.

    None when the labs section was not collected (unknown), () when it was collected empty.
    """
    if labs is None:
        return None
    if not labs:
        return ()
    baselines = find_baselines(labs, lymphodepletion, infusion)
    baseline_info: dict[str, Baseline] = {}
    references: dict[str, Reference | None] = {}
    for test, index in baselines.items():
        if test == "igg":
            continue
        lab = labs[index]
        grade, _ = grade_value(lab, None, params)
        references[test] = reference_of(lab)
        baseline_info[test] = Baseline(index, lab.date, measure(test, lab.value, lab.unit).approx, grade)
    terms = {test: term_of(test, params) for test in {lab.test for lab in labs} - {"igg"}}
    first_graded = first_graded_date(lymphodepletion, infusion)
    memo = params.memo
    if len(memo) > MEMO_SIZE:
        memo.clear()
    out: list[LabGrade] = []
    for index, lab in enumerate(labs):
        test = lab.test
        if test == "igg" or lab.date < first_graded:
            continue
        approx = to_approx(test, lab.value, lab.unit)
        reference = references.get(test)
        # everything the grade depends on: the result as written, its limits, its baseline
        key = (test, lab.value, lab.unit, lab.lower_limit, lab.upper_limit, reference)
        decided = memo.get(key)
        if decided is None:
            decided = _grade(lab, approx, reference, params)
            if lab.value != 0:  # 0.0 and -0.0 are equal keys but print differently
                memo[key] = decided
        grade, why = decided
        graded = grade is not None
        out.append(
            LabGrade(
                index,
                test,
                terms[test],
                lab.date,
                approx,
                grade,
                (why,) if graded else (),
                None if graded else why,
                baseline_info.get(test),
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
    first_graded = first_graded_date(lymphodepletion, infusion)
    after = [
        (index, lab) for index, lab in enumerate(labs or ()) if lab.test == "igg" and lab.date >= first_graded
    ]
    if not after:
        return None, "no IgG measured after baseline"
    limit = params.igg_below_mg_dl
    lowest_index, lowest = min(after, key=lambda pair: measure("igg", pair[1].value, pair[1].unit).exact())
    value = measure("igg", lowest.value, lowest.unit)
    if compare(operator.lt, value, limit, float(limit)):
        return True, f"labs[{lowest_index}] IgG {value.approx:.6g} mg/dL < {show(limit)}"
    return False, f"lowest IgG after baseline {value.approx:.6g} mg/dL >= {show(limit)}"
