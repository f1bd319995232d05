"""The 19 eligibility criteria of eligibility spec section 4, as three-valued rules.

Pure domain core: ``screen(record, protocol, as_of)`` returns a :class:`ScreeningResult`
whose every verdict carries a one-line reason, its evidence as JSON Pointers into the
record, and, when unknown, the data that would settle it. No I/O happens here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Generic, Literal, NamedTuple, TypeVar

from nmocart.kernel import logic
from nmocart.kernel.dates import completed_years, days_after, days_before, months_before, within
from nmocart.kernel.logic import Fact, all_of, any_of
from nmocart.kernel.units import canonical_unit, exceeds, per_canonical, to_canonical
from nmocart.screening.protocol import CRITERION_ORDER, Parameters, Protocol
from nmocart.screening.record import (
    Attack,
    Condition,
    Lab,
    Medication,
    PregnancyTest,
    ScreeningRecord,
)

InclusionVerdict = Literal["met", "not_met", "unknown", "not_applicable"]
ExclusionVerdict = Literal["present", "absent", "unknown"]
Verdict = Literal["met", "not_met", "unknown", "not_applicable", "present", "absent"]
Decision = Literal["eligible", "ineligible", "incomplete"]

T = TypeVar("T")

CORE_KEY_SYNDROMES = ("optic_neuritis", "acute_myelitis", "area_postrema")
"""At least one supported syndrome must be one of these for IPND pathway B (IN2)."""

IMMUNOSUPPRESSANTS = ("azathioprine", "mycophenolate")
"""Course-based immunosuppressants of IN4 (rituximab is counted by infusion coverage)."""

SEVERE_CARDIAC = ("arrhythmia", "heart_failure", "other_cardiac")
"""Condition categories that count for EX2 when severe."""


class Item(NamedTuple, Generic[T]):
    """A record item together with its JSON Pointer (``/labs/3``)."""

    pointer: str
    value: T


@dataclass(frozen=True)
class NotApplicable:
    """An inclusion criterion that does not apply to this candidate (IN7 for men)."""

    reason: str
    evidence: tuple[str, ...]


Assessment = Fact | NotApplicable


class CriterionResult(NamedTuple):
    """One criterion's verdict with its reason, evidence pointers and missing data."""

    id: str
    kind: Literal["inclusion", "exclusion"]
    text: str
    verdict: Verdict
    reason: str
    evidence: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class ScreeningResult:
    """The screening of one candidate as of a reference date under one protocol."""

    candidate_id: str
    protocol: dict[str, str]
    as_of: dt.date
    decision: Decision
    criteria: tuple[CriterionResult, ...]
    missing: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """The result in the published JSON shape (keys in the documented order).

        Evidence and missing stay tuples: the JSON encoder writes them as arrays.
        """
        return {
            "candidate_id": self.candidate_id,
            "protocol": self.protocol,
            "as_of": self.as_of.isoformat(),
            "decision": self.decision,
            "criteria": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "text": c.text,
                    "verdict": c.verdict,
                    "reason": c.reason,
                    "evidence": c.evidence,
                    "missing": c.missing,
                }
                for c in self.criteria
            ],
            "missing": self.missing,
        }


def _fmt(number: float | Fraction) -> str:
    """A number as a clinician writes it: no trailing zeros, at most 3 decimals."""
    value = float(number)
    if value.is_integer():
        return str(int(value))
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


class Chart:
    """The record as of the reference date: items dated after it are left out, pointers kept."""

    def __init__(self, record: ScreeningRecord, ref: dt.date, params: Parameters) -> None:
        self.record = record
        self.ref = ref
        self.params = params
        self.window_start = days_before(ref, params.screening_window_days)

        def keep(
            name: str, items: Sequence[T] | None, date_of: Callable[[T], dt.date | None]
        ) -> tuple[Item[T], ...] | None:
            if items is None:
                return None
            prefix = f"/{name}/"
            out = []
            for index, item in enumerate(items):
                day = date_of(item)
                if day is None or day <= ref:  # tuple.__new__: the cheap way to build many Items
                    out.append(tuple.__new__(Item, (prefix + str(index), item)))
            return tuple(out)

        self.attacks = keep("attacks", record.attacks, lambda a: a.onset_date)
        self.antibody_tests = keep("antibody_tests", record.antibody_tests, lambda a: a.date)
        self.medications = keep("medications", record.medications, lambda m: m.start_date)
        self.conditions = keep("conditions", record.conditions, lambda c: c.onset_date)
        self.labs = keep("labs", record.labs, lambda lab: lab.date)
        self.pregnancy_tests = keep("pregnancy_tests", record.pregnancy_tests, lambda p: p.date)
        self.ecgs = keep("ecgs", record.ecgs, lambda e: e.date)
        self.tcell = keep("tcell_proliferation", record.tcell_proliferation, lambda t: t.date)
        self._latest_labs: dict[str, list[Item[Lab]]] | None = None
        onset = record.disease_onset_date
        self.disease_onset_date = onset if onset is not None and onset <= ref else None

    @cached_property
    def syndrome_support(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Syndrome types with MRI support (pointers), and types listed only with MRI unknown."""
        supported: dict[str, list[str]] = {}
        unsettled: dict[str, list[str]] = {}
        for attack in self.attacks or ():
            for j, syndrome in enumerate(attack.value.syndromes):
                if syndrome.mri_requirements_met is True:
                    supported.setdefault(syndrome.type, []).append(f"{attack.pointer}/syndromes/{j}")
                elif syndrome.mri_requirements_met is None:
                    unsettled.setdefault(syndrome.type, []).append(f"{attack.pointer}/syndromes/{j}")
        for kind in supported:
            unsettled.pop(kind, None)
        return supported, unsettled

    @cached_property
    def core_syndrome(self) -> Fact:
        """Whether any attack lists a core syndrome (shared by IN2 and IN3)."""
        return _core_syndrome(self)

    @cached_property
    def alternatives_excluded(self) -> Fact:
        """The investigator's attestation that alternative diagnoses were excluded (IN2, IN3)."""
        return _alt_excluded(self)

    @cached_property
    def window_text(self) -> str:
        """The screening window as ``YYYY-MM-DD..YYYY-MM-DD``."""
        return f"{self.window_start.isoformat()}..{self.ref.isoformat()}"

    def in_window(self, items: tuple[Item[T], ...], date_of: Callable[[T], dt.date]) -> list[Item[T]]:
        """The items dated inside [ref - screening_window_days, ref]."""
        return [i for i in items if within(date_of(i.value), self.window_start, self.ref)]

    @cached_property
    def latest_pregnancy_tests(self) -> list[Item[PregnancyTest]] | None:
        """The latest pregnancy tests in the window (all on a tie); None if not collected (IN7, EX3)."""
        if self.pregnancy_tests is None:
            return None
        return latest(self.in_window(self.pregnancy_tests, lambda t: t.date), lambda t: t.date)

    def latest_labs(self, test: str) -> list[Item[Lab]] | None:
        """The latest results of ``test`` in the window (all of them on a tie); None if not collected."""
        if self.labs is None:
            return None
        if self._latest_labs is None:
            latest_by_test: dict[str, list[Item[Lab]]] = {}
            for item in self.in_window(self.labs, lambda lab: lab.date):
                group = latest_by_test.setdefault(item.value.test, [])
                if not group or item.value.date > group[0].value.date:
                    group[:] = [item]
                elif item.value.date == group[0].value.date:
                    group.append(item)
            self._latest_labs = latest_by_test
        return self._latest_labs.get(test, [])


def latest(items: Iterable[Item[T]], date_of: Callable[[T], dt.date]) -> list[Item[T]]:
    """The items sharing the most recent date (empty when there are none)."""
    items = list(items)
    if not items:
        return []
    last = max(date_of(i.value) for i in items)
    return [i for i in items if date_of(i.value) == last]


def _pointers(items: Iterable[Item[T]]) -> tuple[str, ...]:
    return tuple(i.pointer for i in items)


def _flag(value: bool | None, pointer: str, yes: str, no: str, need: str) -> Fact:
    """A fact read straight from a boolean field of the record."""
    if value is None:
        return logic.unknown(f"{need} not recorded", [f"{pointer}: {need}"], [pointer])
    return logic.true(yes, [pointer]) if value else logic.false(no, [pointer])


def _investigator_flag(chart: Chart, field: str, yes: str, no: str, need: str) -> Fact:
    inv = chart.record.investigator
    pointer = f"/investigator/{field}"
    if inv is None:
        return logic.unknown(
            "investigator's assessment not collected", [f"{pointer}: {need}"], ["/investigator"]
        )
    value: bool | None = getattr(inv, field)
    return _flag(value, pointer, yes, no, need)


def _positive_test(
    group: list[Item[T]] | None,
    result_of: Callable[[T], str],
    label: str,
    missing: str,
) -> Fact:
    """Whether the latest result (least favourable on a tie) is positive; unknown when none."""
    if group is None:
        return logic.unknown(f"{label}: not collected", [missing])
    if not group:
        return logic.unknown(f"no {label} in the window", [missing])
    positives = [i for i in group if result_of(i.value) == "positive"]
    if positives:
        return logic.true(f"latest {label} positive", _pointers(positives))
    return logic.false(f"latest {label} negative", _pointers(group))


# --- IN1 ---------------------------------------------------------------------------------


def in1_age(chart: Chart) -> Assessment:
    """IN1: age_min <= completed years at the reference date <= age_max."""
    p = chart.params
    born = chart.record.birth_date
    if born is None:
        return logic.unknown(
            "date of birth not recorded",
            ["/birth_date: the candidate's date of birth"],
            ["/birth_date"],
        )
    age = completed_years(born, chart.ref)
    span = f"{p.age_min}-{p.age_max}"
    if p.age_min <= age <= p.age_max:
        return logic.true(f"age {age} on {chart.ref.isoformat()} is within {span}", ["/birth_date"])
    return logic.false(f"age {age} on {chart.ref.isoformat()} is outside {span}", ["/birth_date"])


# --- IN2 and IN3 -------------------------------------------------------------------------


def _alt_excluded(chart: Chart) -> Fact:
    return _flag(
        chart.record.alternative_diagnoses_excluded,
        "/alternative_diagnoses_excluded",
        "alternative diagnoses excluded",
        "alternative diagnoses not excluded",
        "investigator's attestation that alternative diagnoses were excluded",
    )


def _core_syndrome(chart: Chart) -> Fact:
    if chart.attacks is None:
        return logic.unknown(
            "attack history not collected",
            ["/attacks: the candidate's clinical attacks with their core syndromes"],
            ["/attacks"],
        )
    if not chart.attacks:
        return logic.false("no attack with a core syndrome recorded", ["/attacks"])
    return logic.true(
        f"{len(chart.attacks)} attack(s) with a core clinical syndrome", _pointers(chart.attacks)
    )


def _aqp4_positive(chart: Chart) -> Fact:
    """AQP4-IgG status by any method: positive, negative, or unknown when untested."""
    tests = [i for i in chart.antibody_tests or () if i.value.antibody == "aqp4_igg"]
    positives = [i for i in tests if i.value.result == "positive"]
    if positives:
        first = positives[0].value
        return logic.true(
            f"AQP4-IgG positive ({first.method}, {first.date.isoformat()})", _pointers(positives)
        )
    if tests:
        return logic.false("AQP4-IgG tested, never positive", _pointers(tests))
    return logic.unknown(
        "AQP4-IgG status unknown (no test)",
        ["/antibody_tests: an AQP4-IgG result"],
        ["/antibody_tests"],
    )


def _supported_types(chart: Chart, wanted: Sequence[str] | None, at_least: int, label: str) -> Fact:
    """Whether at least ``at_least`` distinct syndrome types (among ``wanted``) are MRI-supported."""
    if chart.attacks is None:
        return logic.unknown(
            f"{label}: attack history not collected",
            ["/attacks: the candidate's clinical attacks with MRI support per syndrome"],
            ["/attacks"],
        )
    all_supported, all_unsettled = chart.syndrome_support
    supported = {k: v for k, v in all_supported.items() if wanted is None or k in wanted}
    unsettled = {k: v for k, v in all_unsettled.items() if wanted is None or k in wanted}
    sure = sorted(supported)
    if len(sure) >= at_least:
        return logic.true(f"{label}: supported {', '.join(sure)}", [p for k in sure for p in supported[k]])
    if len(sure) + len(unsettled) < at_least:
        shown = ", ".join(sure) if sure else "none"
        return logic.false(f"{label}: supported {shown}", [p for k in sure for p in supported[k]])
    open_pointers = [p for k in sorted(unsettled) for p in unsettled[k]]
    return logic.unknown(
        f"{label}: MRI support not recorded for {', '.join(sorted(unsettled))}",
        [f"{p}/mri_requirements_met: whether MRI met the 2015 IPND requirement" for p in open_pointers],
        open_pointers,
    )


def in2_nmosd_ipnd(chart: Chart) -> Assessment:
    """IN2: 2015 IPND NMOSD, pathway A (AQP4-positive) or B (negative/unknown serostatus)."""
    alt = chart.alternatives_excluded
    aqp4 = _aqp4_positive(chart)
    pathway_a = all_of(aqp4, chart.core_syndrome, alt)
    gate = (
        logic.false("pathway B needs AQP4-IgG negative or unknown", aqp4.evidence)
        if aqp4.value is True
        else logic.true("AQP4-IgG negative or unknown", aqp4.evidence)
    )
    pathway_b = all_of(
        gate,
        _supported_types(chart, None, 2, "two distinct MRI-supported syndromes"),
        _supported_types(chart, CORE_KEY_SYNDROMES, 1, "optic neuritis, myelitis or area postrema"),
        alt,
    )
    verdict = any_of(pathway_a, pathway_b)
    prefix = {True: "IPND criteria met", False: "IPND criteria not met", None: "IPND undecided"}
    return logic.with_reason(verdict, f"{prefix[verdict.value]}: {verdict.reason}")


def in3_aqp4_cba(chart: Chart) -> Assessment:
    """IN3: CBA-confirmed AQP4-IgG AND a core syndrome AND alternative diagnoses excluded."""
    tests = [
        i for i in chart.antibody_tests or () if i.value.antibody == "aqp4_igg" and i.value.method == "cba"
    ]
    positives = [i for i in tests if i.value.result == "positive"]
    if positives:
        cba = logic.true(
            f"AQP4-IgG positive by CBA ({positives[0].value.date.isoformat()})",
            _pointers(positives),
        )
    elif tests:
        cba = logic.false("AQP4-IgG by CBA never positive", _pointers(tests))
    else:
        others = [
            i
            for i in chart.antibody_tests or ()
            if i.value.antibody == "aqp4_igg" and i.value.result == "positive"
        ]
        reason = (
            "AQP4-IgG positive only by a non-CBA method; needs CBA confirmation"
            if others
            else "no AQP4-IgG test by CBA"
        )
        cba = logic.unknown(
            reason,
            ["/antibody_tests: an AQP4-IgG result by cell-based assay (cba)"],
            _pointers(others) or ["/antibody_tests"],
        )
    return all_of(cba, chart.core_syndrome, chart.alternatives_excluded)


# --- IN4 ---------------------------------------------------------------------------------


def _course_covers(med: Medication, day: dt.date) -> bool:
    return med.start_date <= day and (med.end_date is None or day <= med.end_date)


def in4_relapse_on_treatment(chart: Chart) -> Assessment:
    """IN4: an attack during a systemic corticosteroid AND an immunosuppressant course."""
    p = chart.params
    if chart.attacks is not None and chart.medications is not None:
        for attack in sorted(chart.attacks, key=lambda a: (a.value.onset_date, a.pointer)):
            day = attack.value.onset_date
            steroids = [
                m
                for m in chart.medications
                if m.value.drug_class == "systemic_corticosteroid" and _course_covers(m.value, day)
            ]
            suppressants = [
                m
                for m in chart.medications
                if (m.value.drug_class in IMMUNOSUPPRESSANTS and _course_covers(m.value, day))
                or (
                    m.value.drug_class == "rituximab"
                    and within(
                        day,
                        m.value.start_date,
                        days_after(m.value.start_date, p.rituximab_coverage_days),
                    )
                )
            ]
            if steroids and suppressants:
                return logic.true(
                    f"attack of {day.isoformat()} occurred on {steroids[0].value.name} and "
                    f"{suppressants[0].value.name}",
                    [attack.pointer, *_pointers(steroids), *_pointers(suppressants)],
                )
        return logic.false(
            f"none of {len(chart.attacks)} attack(s) occurred on a systemic corticosteroid "
            "plus azathioprine, mycophenolate or rituximab",
            [*_pointers(chart.attacks), *_pointers(chart.medications)],
        )
    missing = []
    if chart.attacks is None:
        missing.append("/attacks: the candidate's clinical attacks with onset dates")
    if chart.medications is None:
        missing.append("/medications: corticosteroid and immunosuppressant courses")
    return logic.unknown("attacks or medication history not collected", missing)


# --- IN5 ---------------------------------------------------------------------------------


def counted_attacks(attacks: Sequence[Item[Attack]], merge_days: int) -> list[list[Item[Attack]]]:
    """Attacks merged by onset: one within ``merge_days`` of the previous counted one joins it."""
    groups: list[list[Item[Attack]]] = []
    for attack in sorted(attacks, key=lambda a: (a.value.onset_date, a.pointer)):
        if groups and (attack.value.onset_date - groups[-1][0].value.onset_date).days <= merge_days:
            groups[-1].append(attack)
        else:
            groups.append([attack])
    return groups


def _relapse_rule(
    relapses: list[list[Item[Attack]]], chart: Chart, reading: str
) -> tuple[bool, str, tuple[str, ...]]:
    p = chart.params
    short_from = months_before(chart.ref, p.relapse_short_window_months)
    long_from = months_before(chart.ref, p.relapse_long_window_months)
    short = [g for g in relapses if within(g[0].value.onset_date, short_from, chart.ref)]
    long = [g for g in relapses if within(g[0].value.onset_date, long_from, chart.ref)]
    met = (len(short) >= p.relapses_short_min or len(long) >= p.relapses_long_min) and len(
        short
    ) >= p.relapses_short_required
    reason = (
        f"{len(short)} relapse(s) since {short_from.isoformat()} and {len(long)} since "
        f"{long_from.isoformat()}{reading}; needs (>= {p.relapses_short_min} in "
        f"{p.relapse_short_window_months} months or >= {p.relapses_long_min} in "
        f"{p.relapse_long_window_months} months) and >= {p.relapses_short_required} in "
        f"{p.relapse_short_window_months} months"
    )
    return met, reason, tuple(g[0].pointer for g in long)


def in5_relapse_frequency(chart: Chart) -> Assessment:
    """IN5: relapse counts in the 12 and 24 calendar months before the reference date."""
    p = chart.params
    if chart.attacks is None:
        return logic.unknown(
            "attack history not collected",
            ["/attacks: the candidate's clinical attacks with onset dates"],
            ["/attacks"],
        )
    groups = counted_attacks(chart.attacks, p.relapse_merge_days)
    onset = chart.disease_onset_date
    if onset is not None:
        first = next(
            (g for g in groups if abs((g[0].value.onset_date - onset).days) <= p.first_attack_window_days),
            None,
        )
        relapses = [g for g in groups if g is not first]
        met, reason, evidence = _relapse_rule(relapses, chart, "")
        evidence = ("/disease_onset_date", *evidence)
        return logic.true(reason, evidence) if met else logic.false(reason, evidence)
    as_first, reason_first, evidence_first = _relapse_rule(
        groups[1:], chart, " if the earliest attack is the first attack"
    )
    as_relapse, reason_relapse, evidence_relapse = _relapse_rule(groups, chart, " if it is a relapse")
    evidence = tuple(dict.fromkeys(evidence_first + evidence_relapse))
    if as_first == as_relapse:
        reason = f"{reason_first} (same verdict if the earliest attack is a relapse)"
        return logic.true(reason, evidence) if as_first else logic.false(reason, evidence)
    return logic.unknown(
        f"disease onset date unknown and the verdict depends on it: {reason_first}; "
        f"{reason_relapse.split(';')[0]}",
        ["/disease_onset_date: the onset date of the first NMOSD attack"],
        evidence,
    )


# --- IN6 and IN7 -------------------------------------------------------------------------


def in6_survival(chart: Chart) -> Assessment:
    """IN6: the investigator estimates survival over 12 weeks."""
    return _investigator_flag(
        chart,
        "survival_over_12_weeks",
        "investigator estimates survival over 12 weeks",
        "investigator does not estimate survival over 12 weeks",
        "investigator's estimate whether survival exceeds 12 weeks",
    )


def _pregnancy_missing(chart: Chart) -> str:
    return f"/pregnancy_tests: a pregnancy test dated {chart.window_text}"


def in7_pregnancy_contraception(chart: Chart) -> Assessment:
    """IN7: women of childbearing potential need a negative latest test and agreed contraception."""
    rec = chart.record
    if rec.sex == "male":
        return NotApplicable("not applicable: male candidate", ("/sex",))
    if rec.childbearing_potential is False:
        return NotApplicable(
            "not applicable: woman without childbearing potential", ("/childbearing_potential",)
        )
    if rec.childbearing_potential is None:
        return logic.unknown(
            "childbearing potential not recorded",
            ["/childbearing_potential: whether the candidate can become pregnant"],
            ["/childbearing_potential"],
        )
    negative_test = logic.negate(
        _positive_test(
            chart.latest_pregnancy_tests, lambda t: t.result, "pregnancy test", _pregnancy_missing(chart)
        )
    )
    contraception = _flag(
        rec.contraception_agreed,
        "/contraception_agreed",
        "contraception agreed",
        "contraception not agreed",
        "agreement to effective contraception until the last follow-up",
    )
    return all_of(negative_test, contraception)


# --- EX1 to EX4 --------------------------------------------------------------------------


def _conditions_unknown(need: str) -> Fact:
    return logic.unknown("medical history not collected", [f"/conditions: {need}"], ["/conditions"])


def _conditions_of(chart: Chart, categories: Sequence[str]) -> list[Item[Condition]]:
    return [i for i in chart.conditions or () if i.value.category in categories]


def ex1_cns_disease(chart: Chart) -> Assessment:
    """EX1: any epilepsy or other CNS disease, at any time."""
    if chart.conditions is None:
        return _conditions_unknown("history of epilepsy or other CNS disease")
    found = _conditions_of(chart, ("epilepsy", "cns_disease"))
    if found:
        names = ", ".join(i.value.name for i in found)
        return logic.true(f"history of {names}", _pointers(found))
    return logic.false(
        f"no epilepsy or other CNS disease among {len(chart.conditions)} recorded condition(s)",
        ["/conditions"],
    )


def ex2_qt_or_heart(chart: Chart) -> Assessment:
    """EX2: latest QTc above the sex-specific limit, long QT, or severe heart disease."""
    limit = getattr(chart.params.qtc_limit_ms, chart.record.sex)
    missing_ecg = f"/ecgs: an ECG dated {chart.window_text}"
    if chart.ecgs is None:
        qtc = logic.unknown("ECG not collected", [missing_ecg], ["/ecgs"])
    else:
        group = latest(chart.in_window(chart.ecgs, lambda e: e.date), lambda e: e.date)
        if not group:
            qtc = logic.unknown(f"no ECG dated {chart.window_text}", [missing_ecg], ["/ecgs"])
        else:
            worst = max(group, key=lambda e: e.value.qtc_ms)
            shown = f"latest QTc {_fmt(worst.value.qtc_ms)} ms ({worst.value.date.isoformat()})"
            qtc = (
                logic.true(f"{shown} > {limit} ms", [worst.pointer])
                if worst.value.qtc_ms > limit
                else logic.false(f"{shown} <= {limit} ms", _pointers(group))
            )
    if chart.conditions is None:
        long_qt = _conditions_unknown("history of long QT syndrome")
        heart = _conditions_unknown("severe heart disease (arrhythmia, heart failure, other)")
    else:
        found = _conditions_of(chart, ("long_qt",))
        long_qt = (
            logic.true("long QT syndrome: " + ", ".join(i.value.name for i in found), _pointers(found))
            if found
            else logic.false("no long QT syndrome recorded")
        )
        cardiac = _conditions_of(chart, SEVERE_CARDIAC)
        heart = any_of(
            *(
                _flag(
                    i.value.severe,
                    f"{i.pointer}/severe",
                    f"severe {i.value.name}",
                    f"{i.value.name} not severe",
                    f"whether {i.value.name} is severe",
                )
                for i in cardiac
            )
        )
        if not cardiac:
            heart = logic.false("no heart disease recorded")
    return any_of(qtc, long_qt, heart)


def ex3_pregnant_or_lactating(chart: Chart) -> Assessment:
    """EX3: a woman who is pregnant, lactating, or whose latest pregnancy test is positive."""
    rec = chart.record
    if rec.sex == "male":
        return logic.false("male candidate", ["/sex"])
    pregnant = _flag(rec.pregnant, "/pregnant", "pregnant", "not pregnant", "whether pregnant")
    lactating = _flag(rec.lactating, "/lactating", "lactating", "not lactating", "whether lactating")
    group = chart.latest_pregnancy_tests
    if group is None:
        test = logic.unknown(
            "pregnancy tests not collected", [_pregnancy_missing(chart)], ["/pregnancy_tests"]
        )
    else:
        test = (
            _positive_test(group, lambda t: t.result, "pregnancy test", _pregnancy_missing(chart))
            if group
            else logic.false(f"no pregnancy test dated {chart.window_text}")
        )
    return any_of(pregnant, lactating, test)


def ex4_severe_infection(chart: Chart) -> Assessment:
    """EX4: an infection that is both active and severe."""
    if chart.conditions is None:
        return _conditions_unknown("current infections with activity and severity")
    infections = _conditions_of(chart, ("infection",))
    if not infections:
        return logic.false("no infection recorded", ["/conditions"])
    return any_of(
        *(
            all_of(
                _flag(
                    i.value.active,
                    f"{i.pointer}/active",
                    f"{i.value.name} active",
                    f"{i.value.name} not active",
                    f"whether {i.value.name} is active",
                ),
                _flag(
                    i.value.severe,
                    f"{i.pointer}/severe",
                    f"{i.value.name} severe",
                    f"{i.value.name} not severe",
                    f"whether {i.value.name} is severe",
                ),
            )
            for i in infections
        )
    )


# --- EX5 and EX11 (labs decide; true rules take precedence) ---------------------------


def _lab_missing(chart: Chart, test: str) -> str:
    return f"/labs: a {test} result dated {chart.window_text}"


def _qualitative(chart: Chart, test: str) -> tuple[str | None, list[Item[Lab]]]:
    """The latest result of a qualitative test ('positive' wins a tie), or None."""
    group = chart.latest_labs(test) or []
    if not group:
        return None, []
    positives = [i for i in group if i.value.result == "positive"]
    return ("positive", positives) if positives else ("negative", group)


def _active_condition(chart: Chart, category: str) -> list[Item[Condition]]:
    return [i for i in _conditions_of(chart, (category,)) if i.value.active is True]


def _hbv_active(chart: Chart) -> Fact:
    hbsag, hbsag_items = _qualitative(chart, "hbsag")
    dna, dna_items = _qualitative(chart, "hbv_dna")
    core, core_items = _qualitative(chart, "anti_hbc")
    if hbsag == "positive" or dna == "positive":
        items = (hbsag_items if hbsag == "positive" else []) + (dna_items if dna == "positive" else [])
        return logic.true("HBV active: latest HBsAg or HBV DNA positive", _pointers(items))
    active = _active_condition(chart, "hepatitis_b")
    if active:
        return logic.true("HBV active: active hepatitis B recorded", _pointers(active))
    if hbsag == "negative" and (core == "negative" or dna == "negative"):
        second = core_items if core == "negative" else dna_items
        which = "anti-HBc" if core == "negative" else "HBV DNA"
        return logic.false(
            f"HBV not active: latest HBsAg and {which} negative", _pointers(hbsag_items + second)
        )
    missing = []
    if hbsag is None:
        missing.append(_lab_missing(chart, "hbsag"))
    if core is None and dna is None:
        missing.append(_lab_missing(chart, "anti_hbc or hbv_dna"))
    elif dna is None:  # anti-HBc positive: only HBV DNA can settle it
        missing.append(_lab_missing(chart, "hbv_dna"))
    return logic.unknown("HBV status undecided", missing, _pointers(hbsag_items + core_items + dna_items))


def _hcv_active(chart: Chart) -> Fact:
    rna, rna_items = _qualitative(chart, "hcv_rna")
    antibody, antibody_items = _qualitative(chart, "hcv_ab")
    if rna == "positive":
        return logic.true("HCV active: latest HCV RNA positive", _pointers(rna_items))
    active = _active_condition(chart, "hepatitis_c")
    if active:
        return logic.true("HCV active: active hepatitis C recorded", _pointers(active))
    if antibody == "negative":
        return logic.false("HCV not active: latest anti-HCV negative", _pointers(antibody_items))
    if rna == "negative":
        return logic.false("HCV not active: latest HCV RNA negative", _pointers(rna_items))
    need = "hcv_rna" if antibody == "positive" else "hcv_ab or hcv_rna"
    return logic.unknown("HCV status undecided", [_lab_missing(chart, need)], _pointers(antibody_items))


def ex5_hepatitis(chart: Chart) -> Assessment:
    """EX5: active hepatitis B or C, decided by the labs (conditions can only add)."""
    return any_of(_hbv_active(chart), _hcv_active(chart))


def ex11_hiv(chart: Chart) -> Assessment:
    """EX11: HIV, by the latest HIV Ag/Ab test or a recorded HIV condition."""
    result, items = _qualitative(chart, "hiv_ag_ab")
    recorded = _conditions_of(chart, ("hiv",))
    if result == "positive":
        return logic.true("latest HIV Ag/Ab positive", _pointers(items))
    if recorded:
        return logic.true("HIV infection recorded", _pointers(recorded))
    if result == "negative":
        return logic.false("latest HIV Ag/Ab negative, no HIV recorded", _pointers(items))
    return logic.unknown("no HIV test", [_lab_missing(chart, "hiv_ag_ab")], ["/labs"])


# --- EX6 to EX8 --------------------------------------------------------------------------


def ex6_recent_steroids(chart: Chart) -> Assessment:
    """EX6: a systemic corticosteroid course overlapping [T - washout, T]."""
    p = chart.params
    treatment = chart.record.planned_treatment_date or chart.ref
    start = days_before(treatment, p.steroid_washout_days)
    span = f"{start.isoformat()}..{treatment.isoformat()}"
    if chart.medications is None:
        return logic.unknown(
            "medication history not collected",
            [f"/medications: systemic corticosteroid courses overlapping {span}"],
            ["/medications"],
        )
    overlapping = [
        m
        for m in chart.medications
        if m.value.drug_class == "systemic_corticosteroid"
        and m.value.start_date <= treatment
        and (m.value.end_date is None or m.value.end_date >= start)
    ]
    if overlapping:
        m = overlapping[0].value
        until = "ongoing" if m.end_date is None else f"to {m.end_date.isoformat()}"
        return logic.true(
            f"systemic corticosteroid {m.name} (from {m.start_date.isoformat()}, {until}) overlaps {span}",
            _pointers(overlapping),
        )
    return logic.false(f"no systemic corticosteroid overlaps {span}", ["/medications"])


def ex7_gene_therapy(chart: Chart) -> Assessment:
    """EX7: any prior gene therapy product."""
    if chart.medications is None:
        return logic.unknown(
            "medication history not collected",
            ["/medications: any prior gene therapy product"],
            ["/medications"],
        )
    found = [m for m in chart.medications if m.value.drug_class == "gene_therapy"]
    if found:
        return logic.true(f"prior gene therapy: {found[0].value.name}", _pointers(found))
    return logic.false("no gene therapy product recorded", ["/medications"])


def ex8_tcell_proliferation(chart: Chart) -> Assessment:
    """EX8: latest T-cell fold expansion below the minimum."""
    minimum = chart.params.tcell_min_fold
    need = "/tcell_proliferation: a CD3/CD28 T-cell proliferation result"
    if chart.tcell is None:
        return logic.unknown("T-cell proliferation not collected", [need], ["/tcell_proliferation"])
    group = latest(chart.tcell, lambda t: t.date)
    if not group:
        return logic.unknown("no T-cell proliferation result", [need], ["/tcell_proliferation"])
    worst = min(group, key=lambda t: t.value.fold_expansion)
    shown = f"latest fold expansion {_fmt(worst.value.fold_expansion)} ({worst.value.date.isoformat()})"
    if worst.value.fold_expansion < minimum:
        return logic.true(f"{shown} < {_fmt(minimum)}", [worst.pointer])
    return logic.false(f"{shown} >= {_fmt(minimum)}", _pointers(group))


# --- EX9 ---------------------------------------------------------------------------------


def _numeric(lab: Lab) -> tuple[float, str]:
    """Value and unit of a numeric result (validation guarantees both for numeric tests)."""
    if lab.value is None or lab.unit is None:
        raise ValueError(f"{lab.test} result without value or unit reached the engine")
    return lab.value, lab.unit


def _above_limit(chart: Chart, test: str, limit: float, label: str) -> Fact:
    """Latest result strictly above ``limit`` (canonical unit), compared exactly in its own unit."""
    group = chart.latest_labs(test)
    if not group:
        return logic.unknown(f"no {label} result", [_lab_missing(chart, test)], ["/labs"])
    unit = canonical_unit(test)
    worst = group[0]
    if len(group) > 1:  # same-day results: the least favourable (highest) counts
        worst = max(group, key=lambda i: to_canonical(test, *_numeric(i.value)))
    value, own_unit = _numeric(worst.value)
    per_unit = per_canonical(test, own_unit)
    shown = f"latest {label} {_fmt(value / per_unit)} {unit} ({worst.value.date.isoformat()})"
    if exceeds(value, limit, per_unit):
        return logic.true(f"{shown} > {_fmt(limit)} {unit}", [worst.pointer])
    return logic.false(f"{shown} <= {_fmt(limit)} {unit}", _pointers(group))


def _above_uln(chart: Chart, test: str, times: float, label: str) -> Fact:
    """Latest result strictly above ``times`` x its own upper limit of normal (exactly)."""
    group = chart.latest_labs(test)
    if not group:
        return logic.unknown(f"no {label} result", [_lab_missing(chart, test)], ["/labs"])
    facts = []
    for i in group:
        lab = i.value
        if lab.upper_limit is None or lab.value is None:
            facts.append(
                logic.unknown(
                    f"{label} upper limit of normal not recorded",
                    [f"{i.pointer}/upper_limit: the laboratory's upper limit of normal"],
                    [i.pointer],
                )
            )
            continue
        ratio = lab.value / lab.upper_limit  # for display only; the test below is exact
        shown = f"latest {label} {_fmt(lab.value)} {lab.unit} = {_fmt(ratio)} x ULN ({lab.date.isoformat()})"
        facts.append(
            logic.true(f"{shown} > {_fmt(times)} x ULN", (i.pointer,))
            if exceeds(lab.value, times, lab.upper_limit)
            else logic.false(f"{shown} <= {_fmt(times)} x ULN", (i.pointer,))
        )
    return any_of(*facts)


def ex9_organ_function(chart: Chart) -> Assessment:
    """EX9: creatinine, total bilirubin, ALT or AST above its limit."""
    p = chart.params
    return any_of(
        _above_limit(chart, "creatinine", p.creatinine_max_mg_dl, "creatinine"),
        _above_limit(chart, "total_bilirubin", p.bilirubin_max_mg_dl, "total bilirubin"),
        _above_uln(chart, "alt", p.transaminase_max_x_uln, "ALT"),
        _above_uln(chart, "ast", p.transaminase_max_x_uln, "AST"),
    )


# --- EX10 and EX12 -----------------------------------------------------------------------


def ex10_uncontrolled_disease(chart: Chart) -> Assessment:
    """EX10: the investigator reports another uncontrolled disease."""
    return _investigator_flag(
        chart,
        "uncontrolled_disease",
        "investigator reports another uncontrolled disease",
        "investigator reports no other uncontrolled disease",
        "investigator's judgement of other uncontrolled disease",
    )


def ex12_investigator_judgement(chart: Chart) -> Assessment:
    """EX12: the investigator judges that another situation increases the risk."""
    return _investigator_flag(
        chart,
        "other_risk",
        "investigator judges another situation increases the risk",
        "investigator reports no other risk",
        "investigator's judgement of any other risk",
    )


RULES: dict[str, Callable[[Chart], Assessment]] = {
    "IN1": in1_age,
    "IN2": in2_nmosd_ipnd,
    "IN3": in3_aqp4_cba,
    "IN4": in4_relapse_on_treatment,
    "IN5": in5_relapse_frequency,
    "IN6": in6_survival,
    "IN7": in7_pregnancy_contraception,
    "EX1": ex1_cns_disease,
    "EX2": ex2_qt_or_heart,
    "EX3": ex3_pregnant_or_lactating,
    "EX4": ex4_severe_infection,
    "EX5": ex5_hepatitis,
    "EX6": ex6_recent_steroids,
    "EX7": ex7_gene_therapy,
    "EX8": ex8_tcell_proliferation,
    "EX9": ex9_organ_function,
    "EX10": ex10_uncontrolled_disease,
    "EX11": ex11_hiv,
    "EX12": ex12_investigator_judgement,
}
"""The one definition of each criterion, in protocol order."""

assert tuple(RULES) == CRITERION_ORDER


def verdict_of(kind: str, assessment: Assessment) -> Verdict:
    """Map a fact to the verdict words of spec section 2."""
    if isinstance(assessment, NotApplicable):
        return "not_applicable"
    return (_INCLUSION_WORDS if kind == "inclusion" else _EXCLUSION_WORDS)[assessment.value]


_INCLUSION_WORDS: dict[bool | None, Verdict] = {True: "met", False: "not_met", None: "unknown"}
_EXCLUSION_WORDS: dict[bool | None, Verdict] = {True: "present", False: "absent", None: "unknown"}


def decide(criteria: Sequence[CriterionResult]) -> Decision:
    """Spec section 2: ineligible on any not_met/present, else incomplete on any unknown."""
    if any(c.verdict in ("not_met", "present") for c in criteria):
        return "ineligible"
    if any(c.verdict == "unknown" for c in criteria):
        return "incomplete"
    return "eligible"


def screen(record: ScreeningRecord, protocol: Protocol, as_of: dt.date | None = None) -> ScreeningResult:
    """Evaluate all 19 criteria for ``record`` as of ``as_of`` (default: its screening date)."""
    ref = as_of if as_of is not None else record.screening_date
    chart = Chart(record, ref, protocol.parameters)
    results = []
    for criterion in protocol.criteria:
        assessment = RULES[criterion.id](chart)
        verdict = verdict_of(criterion.kind, assessment)
        missing: tuple[str, ...]
        if isinstance(assessment, NotApplicable):
            reason, evidence, missing = assessment.reason, assessment.evidence, ()
        else:
            reason, evidence = assessment.reason, assessment.evidence
            missing = assessment.missing if assessment.value is None else ()
        results.append(
            tuple.__new__(
                CriterionResult,
                (criterion.id, criterion.kind, criterion.text, verdict, reason, evidence, missing),
            )
        )
    missing_all = tuple(dict.fromkeys(m for c in results for m in c.missing))
    return ScreeningResult(
        record.candidate_id, protocol.stamp, ref, decide(results), tuple(results), missing_all
    )
