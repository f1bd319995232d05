"""The SDTM rows (CDISC spec sections 2 and 5), built from nmocart's engines, never re-deriving a rule.

Eligibility comes from :func:`nmocart.screening.eligibility.screen`, grades and baselines from
:func:`nmocart.safety.grade.grade_subject`, NCA parameters from
:func:`nmocart.kinetics.nca.compute_nca`; this module only links people, maps vocabulary, converts
units through :mod:`nmocart.kernel.units` and orders rows. Every row keeps the source it came from,
so a value that breaks a format rule can be traced to its file, record and field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from nmocart.cdisc.inputs import Enrolment, ExportInputError, SampleCells, Sourced, StudyInput
from nmocart.cdisc.metadata import AE, CRS_TERM, DM, ICANS_TERM, IE, LB, PC, PP, TI, DatasetMeta, Value
from nmocart.kernel.dates import completed_years
from nmocart.kernel.units import canonical_unit, to_canonical
from nmocart.kinetics.nca import NcaOptions, NcaResult, compute_nca
from nmocart.kinetics.table import format_number
from nmocart.safety.ctcae import find_baselines
from nmocart.safety.grade import SubjectSafety, grade_subject
from nmocart.safety.parameters import load_parameters
from nmocart.safety.record import AdverseEvent, SafetyRecord
from nmocart.screening.eligibility import ScreeningResult, screen
from nmocart.screening.protocol import Protocol, load_protocol
from nmocart.screening.record import ScreeningRecord

SITEID = "01"
COUNTRY = "CHN"
ARMCD = "CD19CART"
ARM = "CD19 CAR-T"
TPTREF = "CAR-T INFUSION"
SPECIMEN = "BLOOD"

IN3_SHORT = (
    "AQP4-IgG-positive NMOSD by the 2015 IPND criteria: at least 1 core clinical feature, AQP4-IgG "
    "positive by cell-based assay (CBA), alternative diagnoses excluded"
)
"""The meaningful text of the version-1 IN3 (559 characters in full) (spec section 5.1 decision)."""

MAX_TEXT = 200


@dataclass
class Dataset:
    """One SDTM dataset: its metadata, rows in column order and each row's source."""

    meta: DatasetMeta
    rows: list[tuple[Value, ...]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, row: tuple[Value, ...], source: str) -> None:
        """Append one row (all variables, in column order) and its source."""
        if len(row) != len(self.meta.variables):
            raise ValueError(f"{self.meta.name}: {len(row)} values for {len(self.meta.variables)} variables")
        self.rows.append(row)
        self.sources.append(source)

    def column(self, name: str) -> list[Value]:
        """Every value of one variable, in row order."""
        j = self.meta.names.index(name)
        return [row[j] for row in self.rows]


@dataclass(frozen=True)
class Person:
    """One DM subject (spec section 2): a screened candidate, a treated subject, or both."""

    subjid: str
    usubjid: str
    screening: Sourced[ScreeningRecord] | None
    result: ScreeningResult | None
    enrolment: Enrolment | None
    enrolled: bool
    safety: Sourced[SafetyRecord] | None
    graded: SubjectSafety | None

    @property
    def infusion(self) -> dt.date | None:
        """The infusion date (RFSTDTC), None when never treated."""
        return self.safety.record.infusion_date if self.safety is not None else None


@dataclass(frozen=True)
class Study:
    """The linked people, the NCA result and the texts of shortened criteria."""

    studyid: str
    people: tuple[Person, ...]
    nca: NcaResult
    datasets: tuple[Dataset, ...]
    shortened: dict[str, str]
    warnings: tuple[str, ...]


def study_day(day: dt.date | None, reference: dt.date | None) -> int | None:
    """SDTM --DY: ``day - reference + 1`` on or after the reference, ``day - reference`` before (no 0)."""
    if day is None or reference is None:
        return None
    delta = (day - reference).days
    return delta + 1 if delta >= 0 else delta


def iso(day: dt.date | None) -> str | None:
    """A date as ``YYYY-MM-DD`` (None stays None)."""
    return None if day is None else day.isoformat()


def decimal_text(x: float) -> str:
    """The shortest positional decimal that reads back to ``x`` (``4``, ``0.5``, ``0.00001``)."""
    return str(np.format_float_positional(x, unique=True, trim="-"))


# ---------------------------------------------------------------------------------------- TI
def ietestcd(criterion_id: str) -> str:
    """IETESTCD: ``IN``/``EX`` + two digits (``IN1`` -> ``IN01``, ``EX12`` -> ``EX12``)."""
    return f"{criterion_id[:2]}{int(criterion_id[2:]):02d}"


def collapse(text: str) -> str:
    """Whitespace runs (newlines included) as one space, trimmed."""
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _known_short_texts() -> dict[str, str]:
    """Full text -> meaningful text for criteria the study team shortened by hand (IN3 of v1)."""
    return {collapse(load_protocol().criterion("IN3").text): IN3_SHORT}


def criterion_text(text: str) -> tuple[str, bool]:
    """IETEST of a criterion and whether it was shortened (spec section 5.1)."""
    full = collapse(text)
    if len(full) <= MAX_TEXT:
        return full, False
    known = _known_short_texts().get(full)
    if known is not None:
        return known, True
    head = full[:196]
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else head) + " ...", True


def _category(kind: str) -> str:
    return "INCLUSION" if kind == "inclusion" else "EXCLUSION"


def build_ti(protocol: Protocol) -> tuple[Dataset, dict[str, str]]:
    """TI: the 19 criteria in protocol order; also the full texts of shortened ones by IETESTCD."""
    ds = Dataset(TI)
    shortened: dict[str, str] = {}
    for c in protocol.criteria:
        text, short = criterion_text(c.text)
        if short:
            shortened[ietestcd(c.id)] = collapse(c.text)
        ds.add(
            (protocol.id, "TI", ietestcd(c.id), text, _category(c.kind), protocol.version),
            f"protocol {protocol.id} v{protocol.version} criterion {c.id}",
        )
    return ds, shortened


# ---------------------------------------------------------------------------------------- linking
def _safety_grades(
    study: StudyInput, problems: list[str]
) -> dict[str, tuple[Sourced[SafetyRecord], SubjectSafety]]:
    params = load_parameters()
    out: dict[str, tuple[Sourced[SafetyRecord], SubjectSafety]] = {}
    for item in study.safety:
        sid = item.record.subject_id
        if sid in out:
            problems.append(
                f"{item.source}: subject_id {sid!r} is already at {out[sid][0].source}; give each "
                "subject one safety record"
            )
            continue
        out[sid] = (item, grade_subject(item.record, params))
    return out


def link_people(
    study: StudyInput, problems: list[str], warnings: list[str]
) -> tuple[list[Person], dict[str, Person]]:
    """The people of DM (spec section 2) and, by safety subject_id, the treated ones."""
    studyid = study.protocol.id
    graded = _safety_grades(study, problems)
    screened: dict[str, tuple[Sourced[ScreeningRecord], ScreeningResult]] = {}
    for item in study.screening:
        cid = item.record.candidate_id
        if cid in screened:
            problems.append(
                f"{item.source}: candidate_id {cid!r} is already at {screened[cid][0].source}; "
                "give each candidate one screening record"
            )
            continue
        screened[cid] = (item, screen(item.record, study.protocol))
    # candidate -> (enrolment row, subject id)
    links: dict[str, tuple[Enrolment | None, str]] = {}
    consented: dict[str, Enrolment] = {}
    if study.enrolment is not None:
        src = study.enrolment_source
        seen_subject: dict[str, int] = {}
        for row in study.enrolment:
            where = f"{src} row {row.row}"
            if row.candidate_id not in screened:
                problems.append(
                    f"{where}: candidate_id {row.candidate_id!r} is not in the screening file; "
                    "add its screening record or correct the id"
                )
                continue
            if row.candidate_id in consented:
                problems.append(
                    f"{where}: candidate_id {row.candidate_id!r} is already at row "
                    f"{consented[row.candidate_id].row}; give each candidate one row"
                )
                continue
            if row.subject_id is not None and row.subject_id in seen_subject:
                problems.append(
                    f"{where}: subject_id {row.subject_id!r} is already at row "
                    f"{seen_subject[row.subject_id]}; give each subject one candidate"
                )
                continue
            consented[row.candidate_id] = row
            if row.subject_id is not None:
                seen_subject[row.subject_id] = row.row
                links[row.candidate_id] = (row, row.subject_id)
        for sid, (record_item, _) in graded.items():
            if sid not in seen_subject:
                problems.append(
                    f"{record_item.source}: safety subject {sid!r} is not enrolled in {src}; add its "
                    "enrolment row (candidate_id, subject_id, dates) or correct the subject_id"
                )
    else:
        for cid in screened:
            if cid in graded:
                links[cid] = (None, cid)
    people: list[Person] = []
    treated: dict[str, Person] = {}
    linked_subjects: set[str] = set()
    for cid, (item, result) in screened.items():
        enrol_row, subject = links.get(cid, (consented.get(cid), None))
        safety = graded.get(subject) if subject is not None else None
        if safety is not None and safety[0].record.sex != item.record.sex:
            problems.append(
                f"{safety[0].source}: sex {safety[0].record.sex!r} differs from {item.record.sex!r} "
                f"in the screening record of candidate {cid} ({item.source}); correct either record"
            )
        if subject is not None:
            linked_subjects.add(subject)
            if result.decision != "eligible":
                warnings.append(
                    f"candidate {cid} is enrolled as {subject} but its screening decision is "
                    f"{result.decision} (as of {result.as_of})"
                )
        subjid = subject if subject is not None else cid
        person = Person(
            subjid,
            f"{studyid}-{subjid}",
            item,
            result,
            enrol_row,
            subject is not None,
            safety[0] if safety else None,
            safety[1] if safety else None,
        )
        people.append(person)
        if safety is not None:
            treated[safety[0].record.subject_id] = person
    for sid, (safety_item, grades) in graded.items():
        if sid in linked_subjects:
            continue
        person = Person(sid, f"{studyid}-{sid}", None, None, None, True, safety_item, grades)
        people.append(person)
        treated[sid] = person
    by_subjid: dict[str, Person] = {}
    for person in people:
        other = by_subjid.get(person.subjid)
        if other is not None:
            problems.append(
                f"two subjects have SUBJID {person.subjid!r} ({_origin(other)} and {_origin(person)}); "
                "give the enrolled subject an id no candidate uses"
            )
        by_subjid[person.subjid] = person
    people.sort(key=lambda p: p.usubjid)
    return people, treated


def _origin(person: Person) -> str:
    if person.screening is not None:
        return f"candidate {person.screening.record.candidate_id} of {person.screening.source}"
    assert person.safety is not None
    return f"safety subject of {person.safety.source}"


# ---------------------------------------------------------------------------------------- IE
def build_ie(protocol: Protocol, people: Sequence[Person]) -> Dataset:
    """IE: the criteria each screened person did not meet (inclusion ``not_met``, exclusion ``present``)."""
    ds = Dataset(IE)
    for person in people:
        if person.result is None or person.screening is None:
            continue
        seq = 0
        for c in person.result.criteria:
            if c.verdict not in ("not_met", "present"):
                continue
            seq += 1
            result = "N" if c.verdict == "not_met" else "Y"
            text, _ = criterion_text(c.text)
            as_of = person.result.as_of
            ds.add(
                (
                    protocol.id,
                    "IE",
                    person.usubjid,
                    seq,
                    c.id,
                    ietestcd(c.id),
                    text,
                    _category(c.kind),
                    result,
                    result,
                    as_of.isoformat(),
                    study_day(as_of, person.infusion),
                ),
                f"{person.screening.source} criterion {c.id}",
            )
    return ds


# ---------------------------------------------------------------------------------------- PC
PK_UNITS = ("copies/ug", "DNA copies/ug", "copies/uL", "cells/uL")
"""Sample units PC accepts (PKUNIT submission values; ``cells/uL`` as a declared extension)."""


def pc_testcd(analyte: str) -> str:
    """PCTESTCD: the analyte's letters and digits, upper case, first 8 (``CAR transgene`` -> ``CARTRANS``)."""
    return re.sub(r"[^A-Za-z0-9]", "", analyte).upper()[:8]


def _analyte_codes(cells: Sequence[SampleCells], source: str, problems: list[str]) -> dict[str, str]:
    codes: dict[str, str] = {}
    owner: dict[str, str] = {}
    for c in cells:
        if c.analyte in codes:
            continue
        code = pc_testcd(c.analyte)
        where = f"{source}: row {c.row}"
        if not code or not code[0].isalpha():
            problems.append(
                f"{where}: analyte {c.analyte!r} gives PCTESTCD {code!r}, which must start with a letter; "
                "start the analyte name with a letter"
            )
        elif code in owner:
            problems.append(
                f"{where}: analyte {c.analyte!r} gives PCTESTCD {code}, as {owner[code]!r} does; name the "
                "analytes so their first 8 letters and digits differ"
            )
        if len(c.analyte) > 40:
            problems.append(
                f"{where}: analyte {c.analyte!r} is {len(c.analyte)} characters; PCTEST holds at most 40, "
                "shorten the analyte name"
            )
        codes[c.analyte] = code
        owner.setdefault(code, c.analyte)
    return codes


def _pk_unit(c: SampleCells, source: str, problems: list[str], reported: set[str]) -> str | None:
    """The PKUNIT of a sample's unit cell; an unknown unit is one problem (at its first row)."""
    if not c.unit:
        return None
    if c.unit not in PK_UNITS:
        if c.unit not in reported:
            reported.add(c.unit)
            problems.append(
                f"{source}: row {c.row}: unit {c.unit!r} is not a PK unit the export knows; use "
                f"{', '.join(PK_UNITS)} or leave the cell empty"
            )
        return None
    return c.unit


def build_pc(study: StudyInput, treated: dict[str, Person], problems: list[str]) -> Dataset:
    """PC: one row per sample row of the kinetics CSV; BLQ as ``BLQ``/null, never 0."""
    kin = study.kinetics
    codes = _analyte_codes(kin.cells, kin.source, problems)
    keyed: list[tuple[str, str, float, int, tuple[Value, ...], str]] = []
    missing: set[str] = set()
    bad_units: set[str] = set()
    for c in kin.cells:
        person = treated.get(c.subject)
        if person is None:
            if c.subject not in missing:
                missing.add(c.subject)
                problems.append(
                    f"{kin.source}: row {c.row}: subject {c.subject!r} has no safety record; add its "
                    "safety record (the subject column holds safety subject_ids) or correct the id"
                )
            continue
        unit = _pk_unit(c, kin.source, problems, bad_units)
        infusion = person.infusion
        if infusion is None:
            raise ValueError(f"{person.usubjid} is treated but has no infusion date")
        taken = infusion + dt.timedelta(days=math.floor(c.time))
        code = codes[c.analyte]
        if c.blq:
            orres: str = f"<{c.lloq}" if c.lloq else "BLQ"
            stresc, stresn = "BLQ", None
        else:
            orres, stresc, stresn = c.conc, c.conc, float(c.conc)
        values: tuple[Value, ...] = (
            code,
            str(c.row),
            code,
            c.analyte,
            orres,
            unit,
            stresc,
            stresn,
            unit,
            None,
            SPECIMEN,
            float(c.lloq) if c.lloq else None,
            None,
            taken.isoformat(),
            study_day(taken, infusion),
            TPTREF,
            infusion.isoformat(),
        )
        keyed.append((person.usubjid, code, c.time, c.row, values, f"{kin.source}: row {c.row}"))
    keyed.sort(key=lambda k: (k[0], k[1], k[2], k[3]))
    ds = Dataset(PC)
    seq: dict[str, int] = {}
    for usubjid, _, _, _, values, source in keyed:
        seq[usubjid] = seq.get(usubjid, 0) + 1
        ds.add((study.protocol.id, "PC", usubjid, seq[usubjid], *values), source)
    return ds


# ---------------------------------------------------------------------------------------- PP
PP_PARAMETERS: tuple[tuple[str, str, str, str], ...] = (
    ("cmax", "CMAX", "Max Conc", "conc"),
    ("tmax", "TMAX", "Time of CMAX Observation", "day"),
    ("tlast", "TLST", "Time of Last Nonzero Conc", "day"),
    ("clast_obs", "CLST", "Last Nonzero Conc", "conc"),
    ("auc_0_28", "AUCINT", "AUC from T1 to T2", "day*conc"),
    ("auclast", "AUCLST", "AUC to Last Nonzero Conc", "day*conc"),
    ("lambda_z", "LAMZ", "Lambda z", "/day"),
    ("half_life", "LAMZHL", "Half-Life Lambda z", "day"),
    ("r_squared", "R2", "R Squared", ""),
    ("adj_r_squared", "R2ADJ", "R Squared Adjusted", ""),
    ("lambda_z_n_points", "LAMZNPT", "Number of Points for Lambda z", ""),
    ("lambda_z_time_first", "LAMZLL", "Lambda z Lower Limit", "day"),
    ("lambda_z_time_last", "LAMZUL", "Lambda z Upper Limit", "day"),
    ("span_ratio", "LAMZSPN", "Lambda z Span", ""),
    ("aucinf_obs", "AUCIFO", "AUC Infinity Obs", "day*conc"),
)
"""nmocart column, PPTESTCD, PPTEST, unit pattern (spec section 5.7); ``clast_pred`` is not exported."""


def pp_unit(pattern: str, conc_unit: str | None) -> str | None:
    """A parameter's unit from its pattern and the profile's concentration unit (null without one)."""
    if not pattern:
        return None
    if "conc" in pattern:
        return None if conc_unit is None else pattern.replace("conc", conc_unit)
    return pattern


def pp_result(name: str, value: float) -> str | None:
    """PPORRES: nmocart's 12-significant-digit rendering (``kinetics nca``), None when not estimable."""
    if not math.isfinite(value):
        return None
    return str(int(value)) if name == "lambda_z_n_points" else format_number(value)


def _reason(nca: NcaResult, i: int, name: str) -> str:
    for names, reason in nca.notes[i]:
        if name in names:
            return reason
    return "not estimable"


def build_pp(study: StudyInput, treated: dict[str, Person], nca: NcaResult) -> Dataset:
    """PP: the 15 exported NCA parameters of every profile; not estimable -> ``NOT DONE`` with the reason."""
    table = study.kinetics.table
    codes = {c.analyte: pc_testcd(c.analyte) for c in study.kinetics.cells}
    keyed: list[tuple[str, str, int, tuple[Value, ...], str]] = []
    for i in range(nca.n):
        person = treated.get(table.subject[i])
        if person is None:
            continue  # reported by PC
        infusion = person.infusion
        assert infusion is not None
        analyte = table.analyte[i]
        conc_unit = table.unit[i] or None
        for order, (name, code, test, pattern) in enumerate(PP_PARAMETERS):
            value = float(nca.values[name][i])
            result = pp_result(name, value)
            unit = pp_unit(pattern, conc_unit) if result is not None else None
            values: tuple[Value, ...] = (
                codes[analyte],
                code,
                test,
                analyte,
                "NON-COMPARTMENTAL",
                result,
                unit,
                result,
                None if result is None else float(result),
                unit,
                None if result is not None else "NOT DONE",
                None if result is not None else _reason(nca, i, name),
                SPECIMEN,
                TPTREF,
                infusion.isoformat(),
                "P0D" if code == "AUCINT" else None,
                "P28D" if code == "AUCINT" else None,
            )
            where = f"{study.kinetics.source}: NCA of subject {table.subject[i]}, {analyte}: {name}"
            keyed.append((person.usubjid, analyte, order, values, where))
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    ds = Dataset(PP)
    seq: dict[str, int] = {}
    for usubjid, _, _, values, source in keyed:
        seq[usubjid] = seq.get(usubjid, 0) + 1
        ds.add((study.protocol.id, "PP", usubjid, seq[usubjid], *values), source)
    return ds


# ---------------------------------------------------------------------------------------- AE
AEREL_TERMS = {
    "not_related": "NOT RELATED",
    "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED",
    "probable": "PROBABLY RELATED",
    "definite": "DEFINITELY RELATED",
}
AEOUT_TERMS = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}


def standard_term(term: str) -> str | None:
    """The ASTCT syndrome a reported term names (case-insensitive, trimmed), else None."""
    key = term.strip().lower()
    for standard in (CRS_TERM, ICANS_TERM):
        if key == standard.lower():
            return standard
    return None


def _yn(flag: bool | None) -> str | None:
    return None if flag is None else ("Y" if flag else "N")


def build_ae(studyid: str, people: Sequence[Person], problems: list[str], warnings: list[str]) -> Dataset:
    """AE: graded CRS/ICANS episodes (ASTCT maximum grade) and every other reported AE."""
    keyed: list[tuple[str, tuple[str, int, int], tuple[Value, ...], str]] = []
    for person in people:
        if person.safety is None or person.graded is None:
            continue
        record, graded, source = person.safety.record, person.graded, person.safety.source
        infusion = record.infusion_date
        reported = list(enumerate(record.adverse_events or ()))
        merged: set[int] = set()
        episodes = (
            (CRS_TERM, graded.crs, record.crs_assessments, "/crs_assessments", 0),
            (ICANS_TERM, graded.icans, record.icans_assessments, "/icans_assessments", 1),
        )
        for term, episode, assessments, pointer, kind in episodes:
            if episode.max_grade is None or episode.max_grade < 1:
                continue
            if episode.onset_day is None or episode.duration_days is None:
                raise ValueError(f"{term}: a graded episode without onset or duration")
            start = infusion + dt.timedelta(days=episode.onset_day)
            last = start + dt.timedelta(days=episode.duration_days - 1)
            later = any(a.date > last for a in assessments or ())
            end = last if later else None
            matches = [(i, ae) for i, ae in reported if standard_term(ae.term) == term]
            if len(matches) > 1:
                places = ", ".join(f"adverse_events[{i}]" for i, _ in matches)
                problems.append(
                    f"{source} (subject {record.subject_id}): {places} all report {term}; the graded "
                    "episode takes one reported AE, merge them into one"
                )
                continue
            match: AdverseEvent | None = None
            if matches:
                index, match = matches[0]
                merged.add(index)
                if match.grade != episode.max_grade:
                    warnings.append(
                        f"{source} (subject {record.subject_id}): adverse_events[{index}] reports "
                        f"{term} grade {match.grade}; the graded ASTCT maximum {episode.max_grade} "
                        "is exported"
                    )
            values: tuple[Value, ...] = (
                pointer,
                match.term if match else term,
                term,
                None,
                _yn(match.serious) if match else None,
                None,
                AEREL_TERMS[match.related_to_cart] if match else None,
                AEOUT_TERMS[match.outcome] if match else None,
                str(episode.max_grade),
                start.isoformat(),
                iso(end),
                study_day(start, infusion),
                study_day(end, infusion),
            )
            keyed.append((person.usubjid, (start.isoformat(), kind, 0), values, f"{source} {pointer}"))
        for i, ae in reported:
            if i in merged:
                continue
            values = (
                f"/adverse_events/{i}",
                ae.term,
                standard_term(ae.term) or ae.term,
                None,
                _yn(ae.serious),
                None,
                AEREL_TERMS[ae.related_to_cart],
                AEOUT_TERMS[ae.outcome],
                str(ae.grade),
                ae.start_date.isoformat(),
                iso(ae.end_date),
                study_day(ae.start_date, infusion),
                study_day(ae.end_date, infusion),
            )
            keyed.append(
                (person.usubjid, (ae.start_date.isoformat(), 2, i), values, f"{source} /adverse_events/{i}")
            )
    keyed.sort(key=lambda k: (k[0], k[1]))
    ds = Dataset(AE)
    seq: dict[str, int] = {}
    for usubjid, _, values, where in keyed:
        seq[usubjid] = seq.get(usubjid, 0) + 1
        ds.add((studyid, "AE", usubjid, seq[usubjid], *values), where)
    return ds


# ---------------------------------------------------------------------------------------- LB
LB_TESTS: dict[str, tuple[str, str, str]] = {
    "anc": ("NEUT", "Neutrophils", "HEMATOLOGY"),
    "platelets": ("PLAT", "Platelets", "HEMATOLOGY"),
    "lymphocytes": ("LYM", "Lymphocytes", "HEMATOLOGY"),
    "wbc": ("WBC", "Leukocytes", "HEMATOLOGY"),
    "hemoglobin": ("HGB", "Hemoglobin", "HEMATOLOGY"),
    "alt": ("ALT", "Alanine Aminotransferase", "CHEMISTRY"),
    "ast": ("AST", "Aspartate Aminotransferase", "CHEMISTRY"),
    "total_bilirubin": ("BILI", "Bilirubin", "CHEMISTRY"),
    "creatinine": ("CREAT", "Creatinine", "CHEMISTRY"),
    "igg": ("IGG", "Immunoglobulin G", "IMMUNOLOGY"),
}
"""nmocart test -> LBTESTCD, LBTEST, LBCAT (spec section 5.5)."""

LB_UNITS = {
    "10^9/L": "10^9/L",
    "10^3/uL": "10^9/L",
    "/uL": "10^6/L",
    "g/dL": "g/dL",
    "g/L": "g/L",
    "mg/dL": "mg/dL",
    "umol/L": "umol/L",
    "µmol/L": "umol/L",
    "U/L": "U/L",
    "IU/L": "U/L",
}
"""nmocart lab unit spellings -> CDISC UNIT submission values (synonyms per UNIT C71620)."""


def range_indicator(value: float, low: float | None, high: float | None) -> str | None:
    """LBNRIND: LOW below a given LLN, else HIGH above a given ULN, else NORMAL with both limits."""
    if low is not None and value < low:
        return "LOW"
    if high is not None and value > high:
        return "HIGH"
    if low is not None and high is not None:
        return "NORMAL"
    return None


def last_before_exposure(record: SafetyRecord) -> set[int]:
    """Per test, the latest result dated on or before the infusion (ties: the later listed)."""
    chosen: dict[str, int] = {}
    for index, lab in enumerate(record.labs or ()):
        if lab.date > record.infusion_date:
            continue
        best = chosen.get(lab.test)
        if best is None or lab.date >= (record.labs or ())[best].date:
            chosen[lab.test] = index
    return set(chosen.values())


def _standard(test: str, value: float | None, unit: str) -> float | None:
    return None if value is None else float(to_canonical(test, value, unit))


def build_lb(studyid: str, people: Sequence[Person]) -> Dataset:
    """LB: every lab result, in original and standard units, with baseline flags and CTCAE grades."""
    keyed: list[tuple[str, str, str, int, tuple[Value, ...], str]] = []
    for person in people:
        if person.safety is None or person.graded is None or person.safety.record.labs is None:
            continue
        record, graded = person.safety.record, person.graded
        labs = record.labs or ()
        baselines = set(
            find_baselines(labs, record.lymphodepletion_start_date, record.infusion_date).values()
        )
        lobx = last_before_exposure(record)
        grades = {g.lab_index: g for g in graded.labs or ()}
        for i, lab in enumerate(labs):
            code, name, category = LB_TESTS[lab.test]
            stresn = _standard(lab.test, lab.value, lab.unit)
            assert stresn is not None
            grade = grades.get(i)
            toxgr = None if grade is None or grade.grade is None else str(grade.grade)
            values: tuple[Value, ...] = (
                f"/labs/{i}",
                code,
                name,
                category,
                decimal_text(lab.value),
                LB_UNITS[lab.unit],
                None if lab.lower_limit is None else decimal_text(lab.lower_limit),
                None if lab.upper_limit is None else decimal_text(lab.upper_limit),
                decimal_text(stresn),
                stresn,
                canonical_unit(lab.test),
                _standard(lab.test, lab.lower_limit, lab.unit),
                _standard(lab.test, lab.upper_limit, lab.unit),
                # the conversion is one positive factor: the order in the lab's own unit is the order
                range_indicator(lab.value, lab.lower_limit, lab.upper_limit),
                "Y" if i in lobx else None,
                "Y" if i in baselines else None,
                grade.term if toxgr is not None and grade is not None else None,
                toxgr,
                None,
                lab.date.isoformat(),
                study_day(lab.date, record.infusion_date),
            )
            keyed.append(
                (person.usubjid, code, lab.date.isoformat(), i, values, f"{person.safety.source} /labs/{i}")
            )
    keyed.sort(key=lambda k: (k[0], k[1], k[2], k[3]))
    ds = Dataset(LB)
    seq: dict[str, int] = {}
    for usubjid, _, _, _, values, where in keyed:
        seq[usubjid] = seq.get(usubjid, 0) + 1
        ds.add((studyid, "LB", usubjid, seq[usubjid], *values), where)
    return ds


# ---------------------------------------------------------------------------------------- DM
def _participation_end(person: Person, pc_dates: Sequence[str]) -> dt.date | None:
    """RFPENDTC: the latest date the study holds for the person (spec section 5.3 decision)."""
    days: list[dt.date] = []
    if person.result is not None:
        days.append(person.result.as_of)
    if person.enrolment is not None:
        days.append(person.enrolment.consent_date)
        if person.enrolment.enrolment_date is not None:
            days.append(person.enrolment.enrolment_date)
    if person.safety is not None:
        record = person.safety.record
        days.append(record.infusion_date)
        if record.lymphodepletion_start_date is not None:
            days.append(record.lymphodepletion_start_date)
        days += [a.date for a in record.crs_assessments or ()]
        days += [a.date for a in record.icans_assessments or ()]
        days += [lab.date for lab in record.labs or ()]
        for ae in record.adverse_events or ():
            days.append(ae.start_date)
            if ae.end_date is not None:
                days.append(ae.end_date)
        days += [dt.date.fromisoformat(d) for d in pc_dates]
    return max(days) if days else None


def _death(person: Person) -> tuple[dt.date | None, bool]:
    """DTHDTC and DTHFL from reported fatal AEs (the earliest fatal end date when several)."""
    if person.safety is None:
        return None, False
    fatal = [ae for ae in person.safety.record.adverse_events or () if ae.outcome == "fatal"]
    ends = [ae.end_date for ae in fatal if ae.end_date is not None]
    return (min(ends) if ends else None), bool(fatal)


def _armnrs(person: Person) -> str | None:
    if person.safety is not None:
        return None
    if person.enrolled:
        return "ASSIGNED, NOT TREATED"
    assert person.result is not None
    return "NOT ASSIGNED" if person.result.decision == "eligible" else "SCREEN FAILURE"


def build_dm(studyid: str, people: Sequence[Person], pc: Dataset) -> Dataset:
    """DM: one row per person; arms, reference dates, age at consent (or at screening)."""
    pc_dates: dict[str, list[str]] = {}
    for usubjid, day in zip(pc.column("USUBJID"), pc.column("PCDTC"), strict=True):
        pc_dates.setdefault(str(usubjid), []).append(str(day))
    ds = Dataset(DM)
    for person in people:
        infusion = iso(person.infusion)
        consent = person.enrolment.consent_date if person.enrolment is not None else None
        birth = person.screening.record.birth_date if person.screening is not None else None
        at = consent if consent is not None else (person.result.as_of if person.result is not None else None)
        age = completed_years(birth, at) if birth is not None and at is not None else None
        if person.screening is not None:
            sex = person.screening.record.sex
        else:
            assert person.safety is not None
            sex = person.safety.record.sex
        death, died = _death(person)
        treated = person.safety is not None
        assigned = person.enrolled or treated
        ds.add(
            (
                studyid,
                "DM",
                person.usubjid,
                person.subjid,
                infusion,
                infusion,
                infusion,
                infusion,
                iso(consent),
                iso(_participation_end(person, pc_dates.get(person.usubjid, []))),
                iso(death),
                "Y" if died else None,
                SITEID,
                iso(birth),
                age,
                None if age is None else "YEARS",
                "F" if sex == "female" else "M",
                None,
                ARMCD if assigned else None,
                ARM if assigned else None,
                ARMCD if treated else None,
                ARM if treated else None,
                _armnrs(person),
                None,
                COUNTRY,
            ),
            _origin(person),
        )
    return ds


# ---------------------------------------------------------------------------------------- study
def build_study(study: StudyInput) -> Study:
    """Link, screen, grade and analyse; the seven datasets in spec order.

    Raises :class:`ExportInputError` listing every cross-input problem of spec section 1.
    """
    problems: list[str] = []
    warnings: list[str] = []
    people, treated = link_people(study, problems, warnings)
    nca = compute_nca(study.kinetics.table.profiles, NcaOptions())
    ti, shortened = build_ti(study.protocol)
    ie = build_ie(study.protocol, people)
    ae = build_ae(study.protocol.id, people, problems, warnings)
    lb = build_lb(study.protocol.id, people)
    pc = build_pc(study, treated, problems)
    pp = build_pp(study, treated, nca)
    dm = build_dm(study.protocol.id, people, pc)
    if problems:
        raise ExportInputError(problems)
    return Study(
        study.protocol.id, tuple(people), nca, (ti, ie, dm, ae, lb, pc, pp), shortened, tuple(warnings)
    )
