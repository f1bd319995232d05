"""A seeded synthetic hospital population as FHIR R4 Bulk Data NDJSON (one file per resource type).

It exists so the intake and the population pre-screening can be tested and benchmarked on data
shaped like a real EHR export: demographics, encounters, conditions, labs, medications and ECGs,
with the noise a real export carries (statuses to filter, refuted conditions, unmapped codes,
units in both systems, partial dates, several codings per concept, resource types the intake does
not read, a few orphan references). About 1 in 200 patients has NMOSD with the attacks,
antibody tests, treatments and study forms that make some of them trial candidates.

Every patient draws from its own generator seeded by ``(seed, patient number)``, lines are written
as they are made (nothing is kept in memory), and nothing depends on the clock: the same
arguments give the same bytes. Lines are formatted from templates rather than serialised from
dictionaries because a million patients (about 30 million resources) must take minutes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

RESOURCE_TYPES: Final = (
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Medication",
    "QuestionnaireResponse",
    "Procedure",
    "Immunization",
)
"""The files written, ``<type>.ndjson`` each; the last two are types the intake does not read."""

DEFAULT_EXPORT_DATE: Final = dt.date(2026, 3, 2)
"""Date of the simulated export: nothing is dated after it (the worked example's screening date)."""

NMOSD_RATE: Final = 1 / 200
"""Share of patients with NMOSD (the issue's "about 1 in 200": a tertiary neurology centre)."""

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
LAB = "http://nmocart.example/fhir/CodeSystem/lab"
SYNDROME = "http://nmocart.example/fhir/CodeSystem/nmosd-syndrome"
FORM = "http://nmocart.example/fhir/Questionnaire/screening|1"
BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

Coding = tuple[str, str, str]
"""(system, code, display)."""


def _codings(codings: tuple[Coding, ...]) -> str:
    return ",".join(
        f'{{"system":"{system}","code":"{code}","display":"{display}"}}' for system, code, display in codings
    )


def _concept(codings: tuple[Coding, ...], text: str | None = None) -> str:
    tail = f',"text":"{text}"' if text else ""
    return f'{{"coding":[{_codings(codings)}]{tail}}}'


@dataclass(frozen=True)
class ConditionKind:
    """A diagnosis the population can carry: its codings (pre-rendered) and how common it is."""

    codings: str
    weight: float
    chronic: bool


def _condition(weight: float, chronic: bool, *codings: Coding) -> ConditionKind:
    return ConditionKind(_concept(codings), weight, chronic)


CONDITIONS: Final = (
    _condition(
        30,
        True,
        (SCT, "59621000", "Essential hypertension (disorder)"),
        (ICD10CM, "I10", "Essential (primary) hypertension"),
    ),
    _condition(
        18,
        True,
        (SCT, "44054006", "Diabetes mellitus type 2 (disorder)"),
        (ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications"),
    ),
    _condition(12, True, (SCT, "195967001", "Asthma (disorder)"), (ICD10CM, "J45.909", "Unspecified asthma")),
    _condition(14, True, (SCT, "55822004", "Hyperlipidemia (disorder)")),
    _condition(10, False, (SCT, "444814009", "Viral sinusitis (disorder)")),
    _condition(9, False, (SCT, "10509002", "Acute bronchitis (disorder)")),
    _condition(
        6, False, (SCT, "68566005", "Urinary tract infectious disease (disorder)"), (ICD10CM, "N39.0", "UTI")
    ),
    _condition(4, False, (SCT, "233604007", "Pneumonia (disorder)"), (ICD10, "J18.9", "Pneumonia")),
    _condition(3, False, (SCT, "840539006", "COVID-19")),
    _condition(3, True, (ICD10CM, "G40.909", "Epilepsy, unspecified, not intractable")),
    _condition(1.5, True, (SCT, "24700007", "Multiple sclerosis (disorder)"), (ICD10CM, "G35", "MS")),
    _condition(2, True, (SCT, "49436004", "Atrial fibrillation (disorder)"), (ICD10CM, "I48.91", "AF")),
    _condition(1.5, True, (SCT, "84114007", "Heart failure (disorder)"), (ICD10CM, "I50.9", "HF")),
    _condition(1, True, (ICD10CM, "I25.2", "Old myocardial infarction")),
    _condition(0.8, True, (SCT, "61977001", "Chronic type B viral hepatitis (disorder)")),
    _condition(0.6, True, (ICD10CM, "B18.2", "Chronic viral hepatitis C")),
    _condition(0.4, True, (SCT, "86406008", "Human immunodeficiency virus infection (disorder)")),
    _condition(2, True, (SCT, "230690007", "Cerebrovascular accident (disorder)"), (ICD10CM, "I63.9", "CVA")),
    _condition(5, True, (SCT, "35489007", "Depressive disorder (disorder)"), (ICD10CM, "F32.9", "MDD")),
    _condition(6, True, (SCT, "239873007", "Osteoarthritis of knee (disorder)")),
    _condition(4, True, (SCT, "40055000", "Chronic sinusitis (disorder)")),
    _condition(3, True, (SCT, "271737000", "Anemia (disorder)"), (ICD10CM, "D64.9", "Anemia, unspecified")),
)
_CONDITION_WEIGHTS: Final = tuple(kind.weight for kind in CONDITIONS)


@dataclass(frozen=True)
class Drug:
    """A medication the population takes: its concept (pre-rendered) and usual routes."""

    concept: str
    routes: tuple[Coding, ...]
    weight: float


ORAL: Final = (SCT, "26643006", "Oral route")
IV: Final = (SCT, "47625008", "Intravenous route")
INHALED: Final = (SCT, "447694001", "Respiratory tract route")
TOPICAL: Final = (SCT, "6064005", "Topical route")
NASAL: Final = (SCT, "46713006", "Nasal route")
SUBCUT: Final = (SCT, "34206005", "Subcutaneous route")


def _drug(weight: float, routes: tuple[Coding, ...], text: str, *codings: Coding) -> Drug:
    return Drug(_concept(codings, text), routes, weight)


DRUGS: Final = (
    _drug(20, (ORAL,), "lisinopril 10 mg", (RXNORM, "29046", "lisinopril")),
    _drug(15, (ORAL,), "metformin 500 mg", (RXNORM, "6809", "metformin"), (ATC, "A10BA02", "metformin")),
    _drug(14, (ORAL,), "atorvastatin 20 mg", (RXNORM, "83367", "atorvastatin")),
    _drug(12, (ORAL,), "amoxicillin 500 mg", (RXNORM, "723", "amoxicillin"), (ATC, "J01CA04", "amoxicillin")),
    _drug(10, (ORAL,), "ibuprofen", (RXNORM, "5640", "ibuprofen")),
    _drug(8, (ORAL,), "omeprazole", (RXNORM, "7646", "omeprazole")),
    _drug(6, (ORAL,), "prednisone", (RXNORM, "8640", "prednisone"), (ATC, "H02AB07", "prednisone")),
    _drug(5, (INHALED, ORAL), "budesonide", (RXNORM, "19831", "budesonide")),
    _drug(5, (INHALED, NASAL), "fluticasone", (RXNORM, "41126", "fluticasone")),
    _drug(3, (TOPICAL, ORAL), "hydrocortisone", (RXNORM, "5492", "hydrocortisone")),
    _drug(4, (SUBCUT,), "insulin glargine", (RXNORM, "274783", "insulin glargine")),
    _drug(3, (ORAL,), "sertraline", (RXNORM, "36437", "sertraline")),
    _drug(1, (ORAL,), "methotrexate", (RXNORM, "6851", "methotrexate"), (ATC, "L04AX03", "methotrexate")),
    _drug(0.5, (ORAL,), "tacrolimus", (ATC, "L04AD02", "tacrolimus")),
)
_DRUG_WEIGHTS: Final = tuple(drug.weight for drug in DRUGS)

ENCOUNTER_CLASSES: Final = (
    ("AMB", "ambulatory"),
    ("AMB", "ambulatory"),
    ("AMB", "ambulatory"),
    ("EMER", "emergency"),
    ("IMP", "inpatient encounter"),
)
PROCEDURES: Final = (
    (SCT, "430193006", "Medication reconciliation (procedure)"),
    (SCT, "710824005", "Assessment of health and social care needs (procedure)"),
    (SCT, "73761001", "Colonoscopy (procedure)"),
    (SCT, "16310003", "Ultrasonography (procedure)"),
)
VACCINES: Final = (
    ("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal, injectable, preservative free"),
    ("http://hl7.org/fhir/sid/cvx", "208", "SARS-COV-2 (COVID-19) vaccine, mRNA"),
    ("http://hl7.org/fhir/sid/cvx", "113", "Td (adult) preservative free"),
)


@dataclass
class SynthSummary:
    """What a run wrote: patients, NMOSD patients, resources per type and bytes."""

    patients: int = 0
    nmosd: int = 0
    resources: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCE_TYPES, 0))
    bytes_written: int = 0

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready data (also written to ``synth-summary.json``)."""
        return {
            "patients": self.patients,
            "nmosd_patients": self.nmosd,
            "resources": self.resources,
            "resources_total": sum(self.resources.values()),
            "bytes": self.bytes_written,
        }


class _Out:
    """Line sinks per resource type, counting lines and bytes."""

    def __init__(self, files: Mapping[str, IO[str]], summary: SynthSummary) -> None:
        self.files = files
        self.summary = summary

    def emit(self, resource_type: str, line: str) -> None:
        self.files[resource_type].write(line)
        self.files[resource_type].write("\n")
        self.summary.resources[resource_type] += 1


class _Patient:
    """Generation context of one patient: generator, id, export date, resource numbering."""

    def __init__(self, rng: random.Random, pid: str, export: dt.date, out: _Out) -> None:
        self.rng = rng
        self.pid = pid
        self.subject = f'"subject":{{"reference":"Patient/{pid}"}}'
        self.export_ordinal = export.toordinal()
        self.out = out
        self.serial = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{self.pid}-{prefix}{self.serial}"

    def day(self, days_before: int) -> str:
        """The calendar date ``days_before`` the export, ``YYYY-MM-DD``."""
        return dt.date.fromordinal(self.export_ordinal - days_before).isoformat()

    def moment(self, days_before: int) -> str:
        """A local date-time with an offset on that day (the intake reads the first 10 characters)."""
        rng = self.rng
        hour = rng.randrange(7, 23)
        zone = ("+00:00", "-05:00", "+08:00", "+01:00", "Z")[rng.randrange(5)]
        return f"{self.day(days_before)}T{hour:02d}:{rng.randrange(60):02d}:00{zone}"

    def subject_of(self) -> str:
        """The subject reference; about 1 in 20,000 resources points to a patient not exported."""
        if self.rng.random() < 0.00005:
            return f'"subject":{{"reference":"Patient/{self.pid}-missing"}}'
        return self.subject


def _quantity(value: float | int, code: str, text: str | None = None, with_system: bool = True) -> str:
    if code == "":
        return f'{{"value":{value},"unit":"{text}"}}'
    system = f',"system":"{UCUM}"' if with_system else ""
    return f'{{"value":{value},"unit":"{text or code}"{system},"code":"{code}"}}'


def _observation(
    p: _Patient,
    status: str,
    category: str,
    code: str,
    when: str,
    value: str,
    extra: str = "",
) -> None:
    oid = p.next_id("o")
    p.out.emit(
        "Observation",
        f'{{"resourceType":"Observation","id":"{oid}","status":"{status}",'
        f'"category":[{{"coding":[{{"code":"{category}"}}]}}],"code":{code},{p.subject_of()},"effectiveDateTime":"{when}",{value}{extra}}}',
    )


def _status(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.94:
        return "final"
    if draw < 0.965:
        return "amended"
    if draw < 0.98:
        return "preliminary"
    if draw < 0.99:
        return "corrected"
    if draw < 0.996:
        return "cancelled"
    return "entered-in-error"


def _range(high: float | int, code: str) -> str:
    return (
        f',"referenceRange":[{{"high":{_quantity(high, code)},'
        f'"type":{{"coding":[{{"system":"{RANGE_MEANING}","code":"normal"}}]}}}}]'
    )


def _numeric_lab(
    p: _Patient,
    when: str,
    loinc: Coding,
    value: float | int,
    unit: str,
    high: float | int | None,
    unit_text: str | None = None,
) -> None:
    rng = p.rng
    code = _concept((loinc,))
    if unit_text is not None and rng.random() < 0.5:
        quantity = _quantity(value, "", unit_text)
    else:
        quantity = _quantity(value, unit, unit_text, with_system=rng.random() < 0.9)
    ref = _range(high, unit) if high is not None and rng.random() < 0.85 else ""
    _observation(p, _status(rng), "laboratory", code, when, f'"valueQuantity":{quantity}', ref)


CREATININE_MASS: Final = (LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma")
CREATININE_MOLES: Final = (LOINC, "14682-9", "Creatinine [Moles/volume] in Serum or Plasma")
BILI_MASS: Final = (LOINC, "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma")
BILI_MOLES: Final = (LOINC, "14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma")
ALT: Final = (LOINC, "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma")
AST: Final = (LOINC, "1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma")
QUALITATIVE_LABS: Final = (
    (LOINC, "5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay"),
    (LOINC, "16933-4", "Hepatitis B virus core Ab [Presence] in Serum"),
    (LOINC, "13955-0", "Hepatitis C virus Ab [Presence] in Serum or Plasma by Immunoassay"),
    (LOINC, "56888-1", "HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay"),
)
NEGATIVE_VALUES: Final = (
    f'"valueCodeableConcept":{{"coding":[{{"system":"{SCT}","code":"260385009","display":"Negative"}}]}}',
    f'"valueCodeableConcept":{{"coding":[{{"system":"{SCT}","code":"131194007","display":"Non-reactive"}}]}}',
    '"valueString":"Non-reactive"',
    '"valueString":"negative"',
    f'"valueString":"see report","interpretation":[{{"coding":[{{"system":"{INTERP}","code":"NEG"}}]}}]',
)
POSITIVE_VALUES: Final = (
    f'"valueCodeableConcept":{{"coding":[{{"system":"{SCT}","code":"10828004","display":"Positive"}}]}}',
    f'"valueCodeableConcept":{{"coding":[{{"system":"{SCT}","code":"11214006","display":"Reactive"}}]}}',
    '"valueString":"POS"',
)
INDETERMINATE: Final = (
    f'"valueCodeableConcept":{{"coding":[{{"system":"{SCT}","code":"82334004","display":"Indeterminate"}}]}}'
)


def _metabolic_panel(p: _Patient, days_before: int, nmosd: bool = False) -> None:
    """Creatinine, bilirubin, ALT, AST (units in both systems) plus unmapped chemistry."""
    rng = p.rng
    when = p.moment(days_before)
    sick = rng.random() < 0.04
    creat_mg = round(rng.uniform(0.55, 1.25) * (rng.uniform(1.5, 4) if sick else 1), 2)
    if rng.random() < 0.5:
        _numeric_lab(p, when, CREATININE_MASS, creat_mg, "mg/dL", 1.2)
    elif rng.random() < 0.97:
        _numeric_lab(p, when, CREATININE_MOLES, round(creat_mg * 88.42), "umol/L", 106, "µmol/L")
    else:
        _numeric_lab(p, when, CREATININE_MOLES, round(creat_mg * 0.08842, 3), "mmol/L", 0.106)
    bili_mg = round(rng.uniform(0.2, 1.1) * (rng.uniform(1.5, 5) if sick else 1), 1)
    if rng.random() < 0.5:
        _numeric_lab(p, when, BILI_MASS, bili_mg, "mg/dL", 1.2)
    else:
        _numeric_lab(p, when, BILI_MOLES, round(bili_mg * 17.1, 1), "umol/L", 21, "μmol/L")
    for loinc, upper in ((ALT, 40), (AST, 40)):
        value = rng.randrange(8, 45) * (rng.randrange(2, 8) if sick else 1)
        if rng.random() < 0.7:
            _numeric_lab(p, when, loinc, value, "U/L", upper)
        elif rng.random() < 0.95:
            _numeric_lab(p, when, loinc, value, "[IU]/L", upper, "IU/L")
        else:
            _numeric_lab(p, when, loinc, round(value / 60, 2), "ukat/L", 0.67)
    if not nmosd:
        _numeric_lab(
            p,
            when,
            (LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
            rng.randrange(70, 180),
            "mg/dL",
            99,
        )
        _numeric_lab(
            p,
            when,
            (LOINC, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"),
            rng.randrange(132, 146),
            "mmol/L",
            145,
        )


def _blood_count(p: _Patient, days_before: int) -> None:
    rng = p.rng
    when = p.moment(days_before)
    _numeric_lab(
        p,
        when,
        (LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood"),
        round(rng.uniform(10, 17), 1),
        "g/dL",
        17.5,
    )
    _numeric_lab(
        p,
        when,
        (LOINC, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"),
        round(rng.uniform(3.5, 12), 1),
        "10*3/uL",
        10.5,
    )
    _numeric_lab(
        p,
        when,
        (LOINC, "777-3", "Platelets [#/volume] in Blood by Automated count"),
        rng.randrange(140, 420),
        "10*3/uL",
        400,
    )


def _vital_signs(p: _Patient, days_before: int) -> None:
    rng = p.rng
    when = p.moment(days_before)
    status = _status(rng)
    code = _concept(((LOINC, "85354-9", "Blood pressure panel with all children optional"),))
    systolic = rng.randrange(100, 170)
    components = (
        f'"component":[{{"code":{_concept(((LOINC, "8480-6", "Systolic blood pressure"),))},'
        f'"valueQuantity":{_quantity(systolic, "mm[Hg]")}}},'
        f'{{"code":{_concept(((LOINC, "8462-4", "Diastolic blood pressure"),))},'
        f'"valueQuantity":{_quantity(systolic - rng.randrange(30, 60), "mm[Hg]")}}}]'
    )
    _observation(p, status, "vital-signs", code, when, components)
    heart = _concept(((LOINC, "8867-4", "Heart rate"),))
    _observation(
        p, status, "vital-signs", heart, when, f'"valueQuantity":{_quantity(rng.randrange(52, 110), "/min")}'
    )
    weight = _concept(((LOINC, "29463-7", "Body weight"),))
    _observation(
        p,
        status,
        "vital-signs",
        weight,
        when,
        f'"valueQuantity":{_quantity(round(rng.uniform(45, 120), 1), "kg")}',
    )


def _ecg(p: _Patient, days_before: int, qtc: int) -> None:
    rng = p.rng
    kind = rng.randrange(3)
    qt_code = (
        (LOINC, "8636-3", "Q-T interval corrected"),
        (LOINC, "76634-5", "Q-T interval corrected based on Fridericia formula"),
        (LOINC, "76635-2", "Q-T interval corrected based on Bazett formula"),
    )[kind]
    components = (
        f'"component":[{{"code":{_concept(((LOINC, "8867-4", "Heart rate"),))},'
        f'"valueQuantity":{_quantity(rng.randrange(55, 100), "/min")}}},'
        f'{{"code":{_concept((qt_code,))},"valueQuantity":{_quantity(qtc, "ms")}}}]'
    )
    _observation(
        p,
        "final",
        "procedure",
        _concept(((LOINC, "11524-6", "EKG study"),)),
        p.moment(days_before),
        components,
    )


def _qualitative(p: _Patient, when: str, loinc: Coding, positive: bool) -> None:
    rng = p.rng
    if rng.random() < 0.01:
        value = INDETERMINATE
    elif positive:
        value = POSITIVE_VALUES[rng.randrange(len(POSITIVE_VALUES))]
    else:
        value = NEGATIVE_VALUES[rng.randrange(len(NEGATIVE_VALUES))]
    _observation(p, _status(rng), "laboratory", _concept((loinc,)), when, value)


def _viral_screen(p: _Patient, days_before: int, hbv: bool = False) -> None:
    when = p.moment(days_before)
    for number, loinc in enumerate(QUALITATIVE_LABS):
        _qualitative(p, when, loinc, positive=hbv and number < 2)


def _condition_line(
    p: _Patient, concept: str, onset: str | None, clinical: str | None, verification: str = "confirmed"
) -> None:
    cid = p.next_id("c")
    clinical_part = (
        f'"clinicalStatus":{{"coding":[{{"system":"{CLINICAL}","code":"{clinical}"}}]}},' if clinical else ""
    )
    onset_part = f',"onsetDateTime":"{onset}"' if onset else ""
    p.out.emit(
        "Condition",
        f'{{"resourceType":"Condition","id":"{cid}",{clinical_part}'
        f'"verificationStatus":{{"coding":[{{"system":"{VERIFICATION}","code":"{verification}"}}]}},'
        f'"code":{concept},{p.subject_of()}{onset_part}}}',
    )


def _onset(p: _Patient, days_before: int) -> str | None:
    """An onset date: usually full, sometimes a date-time, partial (year or month) or absent."""
    draw = p.rng.random()
    day = p.day(days_before)
    if draw < 0.05:
        return day[:7]
    if draw < 0.07:
        return day[:4]
    if draw < 0.1:
        return None
    if draw < 0.4:
        return p.moment(days_before)
    return day


def _general_conditions(p: _Patient, count: int) -> None:
    rng = p.rng
    for kind in rng.choices(CONDITIONS, _CONDITION_WEIGHTS, k=count):
        days = rng.randrange(1, 365 * 15)
        if kind.chronic:
            clinical = "active" if rng.random() < 0.9 else None
        else:
            clinical = "resolved" if days > 60 else "active"
        draw = rng.random()
        verification = "confirmed" if draw < 0.9 else ("provisional" if draw < 0.95 else "refuted")
        if draw > 0.985:
            verification = "entered-in-error"
        _condition_line(p, kind.codings, _onset(p, days), clinical, verification)


def _route(route: Coding) -> str:
    return f'"route":{_concept((route,))}'


def _medication_request(
    p: _Patient,
    concept: str,
    route: Coding | None,
    start: str,
    end: str | None,
    status: str,
    intent: str = "order",
) -> None:
    mid = p.next_id("mr")
    bounds = f'"start":"{start}"' + (f',"end":"{end}"' if end else "")
    route_part = f"{_route(route)}," if route else ""
    p.out.emit(
        "MedicationRequest",
        f'{{"resourceType":"MedicationRequest","id":"{mid}","status":"{status}","intent":"{intent}",'
        f'"medicationCodeableConcept":{concept},{p.subject_of()},"authoredOn":"{start}",'
        f'"dosageInstruction":[{{{route_part}"timing":{{"repeat":{{"boundsPeriod":{{{bounds}}}}}}}}}]}}',
    )


def _medication_statement(
    p: _Patient, concept: str, route: Coding | None, start: str, end: str | None, status: str
) -> None:
    mid = p.next_id("ms")
    period = f'"start":"{start}"' + (f',"end":"{end}"' if end else "")
    dosage = f',"dosage":[{{{_route(route)}}}]' if route else ""
    p.out.emit(
        "MedicationStatement",
        f'{{"resourceType":"MedicationStatement","id":"{mid}","status":"{status}",'
        f'"medicationCodeableConcept":{concept},{p.subject_of()},"effectivePeriod":{{{period}}}{dosage}}}',
    )


def _medication_administration(p: _Patient, reference: str, when: str, route: Coding) -> None:
    mid = p.next_id("ma")
    p.out.emit(
        "MedicationAdministration",
        f'{{"resourceType":"MedicationAdministration","id":"{mid}","status":"completed",'
        f'"medicationReference":{{"reference":"Medication/{reference}"}},{p.subject_of()},'
        f'"effectiveDateTime":"{when}","dosage":{{{_route(route)}}}}}',
    )


def _general_medications(p: _Patient, count: int) -> None:
    rng = p.rng
    for drug in rng.choices(DRUGS, _DRUG_WEIGHTS, k=count):
        route = drug.routes[rng.randrange(len(drug.routes))] if rng.random() < 0.93 else None
        started = rng.randrange(1, 365 * 6)
        start = p.day(started)
        length = rng.randrange(5, 400)
        end = p.day(started - length) if started - length > 0 and rng.random() < 0.7 else None
        if end is not None and rng.random() < 0.03:
            end = end[:7]
        if rng.random() < 0.7:
            draw = rng.random()
            status = "active" if end is None else "completed"
            intent = "order"
            if draw < 0.03:
                status = "cancelled"
            elif draw < 0.05:
                status, intent = "draft", "proposal"
            elif draw < 0.07:
                intent = "plan"
            _medication_request(p, drug.concept, route, start, end, status, intent)
        else:
            status = ("active" if end is None else "completed") if rng.random() < 0.97 else "not-taken"
            _medication_statement(p, drug.concept, route, start, end, status)


def _encounter(p: _Patient, days_before: int) -> None:
    rng = p.rng
    code, display = ENCOUNTER_CLASSES[rng.randrange(len(ENCOUNTER_CLASSES))]
    start = p.moment(days_before)
    p.out.emit(
        "Encounter",
        f'{{"resourceType":"Encounter","id":"{p.next_id("e")}","status":"finished",'
        f'"class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"{code}","display":"{display}"}},'
        f'{p.subject},"period":{{"start":"{start}","end":"{start}"}}}}',
    )


def _noise(p: _Patient) -> None:
    """Resource types the intake does not read: procedures and immunisations."""
    rng = p.rng
    if rng.random() < 0.5:
        procedure = PROCEDURES[rng.randrange(len(PROCEDURES))]
        performed = p.day(rng.randrange(1, 3000))
        p.out.emit(
            "Procedure",
            f'{{"resourceType":"Procedure","id":"{p.next_id("pr")}","status":"completed",'
            f'"code":{_concept((procedure,))},{p.subject},"performedDateTime":"{performed}"}}',
        )
    if rng.random() < 0.6:
        vaccine = VACCINES[rng.randrange(len(VACCINES))]
        p.out.emit(
            "Immunization",
            f'{{"resourceType":"Immunization","id":"{p.next_id("im")}","status":"completed",'
            f'"vaccineCode":{_concept((vaccine,))},"patient":{{"reference":"Patient/{p.pid}"}},'
            f'"occurrenceDateTime":"{p.day(rng.randrange(1, 3000))}"}}',
        )


def _patient_line(p: _Patient, female: bool, age_days: int) -> None:
    """The Patient resource: birth sex mostly coded, sometimes only gender, rarely neither."""
    rng = p.rng
    birth = p.day(age_days)
    draw = rng.random()
    if draw < 0.015:
        birth = birth[:4]
    elif draw < 0.03:
        birth = birth[:7]
    sex_draw = rng.random()
    gender = "female" if female else "male"
    parts = [f'"resourceType":"Patient","id":"{p.pid}"']
    if sex_draw < 0.7:
        parts.append(f'"extension":[{{"url":"{BIRTHSEX}","valueCode":"{"F" if female else "M"}"}}]')
    parts.append(f'"identifier":[{{"system":"http://hospital.example/mrn","value":"MRN{p.pid}"}}]')
    if sex_draw < 0.996:
        parts.append(f'"gender":"{gender}"')
    elif sex_draw < 0.998:
        parts.append('"gender":"unknown"')
    parts.append(f'"birthDate":"{birth}"')
    if rng.random() < 0.01:
        parts.append(f'"deceasedDateTime":"{p.day(rng.randrange(1, 2000))}"')
    p.out.emit("Patient", "{" + ",".join(parts) + "}")


def _general_patient(p: _Patient) -> None:
    rng = p.rng
    female = rng.random() < 0.52
    _patient_line(p, female, rng.randrange(365, 365 * 90))
    visits = rng.choices((0, 1, 2, 3, 4, 5, 6), (3, 8, 15, 20, 20, 18, 16))[0]
    for _ in range(visits):
        days = rng.randrange(1, 1500)
        _encounter(p, days)
        if rng.random() < 0.65:
            _vital_signs(p, days)
        if rng.random() < 0.4:
            _metabolic_panel(p, days)
        if rng.random() < 0.25:
            _blood_count(p, days)
    if rng.random() < 0.05:
        _ecg(p, rng.randrange(1, 900), rng.randrange(380, 500))
    if rng.random() < 0.05:
        _viral_screen(p, rng.randrange(1, 900), hbv=rng.random() < 0.03)
    _general_conditions(p, rng.choices((0, 1, 2, 3, 4, 6, 8), (15, 20, 20, 15, 12, 10, 8))[0])
    _general_medications(p, rng.choices((0, 1, 2, 3, 4, 6), (20, 20, 18, 15, 14, 13))[0])
    _noise(p)


SYNDROME_TYPES: Final = (
    "optic_neuritis",
    "acute_myelitis",
    "area_postrema",
    "brainstem",
    "diencephalic",
    "cerebral",
)
_SYNDROME_WEIGHTS: Final = (40, 40, 10, 6, 2, 2)
SYNDROME_CODINGS: Final = {
    "optic_neuritis": (
        (SCT, "66760008", "Optic neuritis (disorder)"),
        (ICD10CM, "H46.9", "Unspecified optic neuritis"),
    ),
    "acute_myelitis": ((ICD10CM, "G37.3", "Acute transverse myelitis in demyelinating disease of CNS"),),
}
NMOSD_CONCEPT: Final = _concept(
    (
        (SCT, "25044007", "Neuromyelitis optica (disorder)"),
        (ICD10CM, "G36.0", "Neuromyelitis optica [Devic]"),
    ),
    "NMOSD",
)
RITUXIMAB: Final = _concept(((RXNORM, "121191", "rituximab"), (ATC, "L01FA01", "rituximab")), "rituximab")
PREDNISONE: Final = _concept(((RXNORM, "8640", "prednisone"),), "prednisone")
METHYLPRED: Final = _concept(((RXNORM, "6902", "methylprednisolone"),), "methylprednisolone")
AZATHIOPRINE: Final = _concept(
    ((RXNORM, "1256", "Azathioprine"), (ATC, "L04AX01", "Azathioprine")), "azathioprine"
)
MYCOPHENOLATE: Final = _concept(((RXNORM, "68149", "mycophenolate mofetil"),), "mycophenolate mofetil")
SATRALIZUMAB: Final = _concept(((ATC, "L04AC19", "satralizumab"),), "satralizumab")


def _syndrome_concept(kind: str, rng: random.Random) -> str:
    standard = SYNDROME_CODINGS.get(kind)
    if standard is not None and rng.random() < 0.6:
        return _concept(standard)
    return _concept(((SYNDROME, kind, kind.replace("_", " ")),))


def _answer(link: str, value: str) -> str:
    return f'{{"linkId":"{link}","answer":[{{{value}}}]}}'


def _boolean(link: str, value: bool) -> str:
    return _answer(link, f'"valueBoolean":{"true" if value else "false"}')


def _nmosd_patient(p: _Patient) -> None:
    """A patient with NMOSD: attacks, antibodies, treatment, pre-screening labs, often a study form."""
    rng = p.rng
    female = rng.random() < 0.85
    age_days = rng.randrange(365 * 17, 365 * 68)
    _patient_line(p, female, age_days)
    onset_days = rng.randrange(500, min(age_days - 365 * 10, 365 * 15))
    attack_days = [onset_days]
    if rng.random() < 0.65:
        # an active course: two or three relapses in the last two years, the latest 2-10 months ago
        attack_days.extend((rng.randrange(60, 180), rng.randrange(200, 330)))
        if rng.random() < 0.5:
            attack_days.append(rng.randrange(380, 700))
    attack_days.extend(
        rng.randrange(60, onset_days) for _ in range(rng.choices((0, 1, 2, 3), (30, 35, 25, 10))[0])
    )
    attack_days.sort(reverse=True)
    attacks: list[tuple[str, list[str]]] = []
    for days in attack_days:
        kinds = sorted(set(rng.choices(SYNDROME_TYPES, _SYNDROME_WEIGHTS, k=1 if rng.random() < 0.85 else 2)))
        day = p.day(days)
        for kind in kinds:
            onset = day if rng.random() < 0.8 else p.moment(days)
            if rng.random() < 0.03:
                onset = day[:7]
            _condition_line(p, _syndrome_concept(kind, rng), onset, "resolved")
        attacks.append((day, kinds))
    _condition_line(p, NMOSD_CONCEPT, p.day(onset_days) if rng.random() < 0.9 else None, "active")
    _general_conditions(p, rng.choices((0, 1, 2, 3), (40, 30, 20, 10))[0])
    serostatus = rng.random()
    antibody_day = onset_days - rng.randrange(0, 30)
    if serostatus < 0.75:
        titer = ("1:100", "1:320", "1:1000", "1:10000")[rng.randrange(4)]
        num, den = titer.split(":")
        value = (
            f'"valueRatio":{{"numerator":{{"value":{num}}},"denominator":{{"value":{den}}}}},'
            f'"interpretation":[{{"coding":[{{"system":"{INTERP}","code":"POS"}}]}}]'
        )
        code = _concept(((LAB, "aqp4-igg-cba", "AQP4-IgG, cell-based assay"),))
        if rng.random() < 0.2:
            code = _concept(((LOINC, "68548-7", "Aquaporin 4 water channel IgG IA Qn"),))
        _observation(p, "final", "laboratory", code, p.day(max(antibody_day, 1)), value)
    else:
        negative = NEGATIVE_VALUES[0]
        _observation(
            p,
            "final",
            "laboratory",
            _concept(((LAB, "aqp4-igg-cba", "AQP4-IgG, cell-based assay"),)),
            p.day(max(antibody_day, 1)),
            negative,
        )
        mog = POSITIVE_VALUES[0] if rng.random() < 0.4 else negative
        _observation(
            p,
            "final",
            "laboratory",
            _concept(((LAB, "mog-igg-cba", "MOG-IgG, cell-based assay"),)),
            p.day(max(antibody_day, 1)),
            mog,
        )
    if rng.random() < 0.55:
        for _ in range(rng.randrange(1, 5)):
            rp = p.next_id("med")
            p.out.emit(
                "Medication",
                f'{{"resourceType":"Medication","id":"{rp}","code":{RITUXIMAB}}}',
            )
            _medication_administration(p, rp, p.moment(rng.randrange(20, min(onset_days, 1500))), IV)
    if rng.random() < 0.8:
        # low-dose prednisone since soon after onset; usually tapered off more than 4 weeks ago
        end = p.day(rng.randrange(35, 60)) if rng.random() < 0.8 else None
        status = "active" if end is None else "completed"
        _medication_statement(p, PREDNISONE, ORAL, p.day(onset_days - rng.randrange(20, 90)), end, status)
    maintenance = rng.random()
    maintenance_start = p.day(onset_days - rng.randrange(30, 200))
    if maintenance < 0.45:
        _medication_request(p, AZATHIOPRINE, ORAL, maintenance_start, None, "active")
    elif maintenance < 0.65:
        _medication_request(p, MYCOPHENOLATE, ORAL, maintenance_start, None, "active")
    elif maintenance < 0.7:
        _medication_request(p, SATRALIZUMAB, SUBCUT, maintenance_start, None, "active")
    latest = attack_days[-1]
    if latest > 5:
        _medication_request(p, METHYLPRED, IV, p.day(latest - 1), p.day(max(latest - 5, 1)), "completed")
    lab_day = rng.randrange(1, 25)
    if rng.random() < 0.85:
        _metabolic_panel(p, lab_day, nmosd=True)
        _blood_count(p, lab_day)
    if rng.random() < 0.8:
        _viral_screen(p, lab_day, hbv=rng.random() < 0.04)
    if rng.random() < 0.8:
        _ecg(p, lab_day, rng.randrange(380, 462))
    if rng.random() < 0.6:
        fold = round(rng.uniform(2, 30), 1)
        _observation(
            p,
            "final",
            "laboratory",
            _concept(((LAB, "tcell-fold-expansion", "T-cell fold expansion under CD3/CD28 co-stimulation"),)),
            p.day(lab_day),
            f'"valueQuantity":{{"value":{fold},"system":"{UCUM}","code":"1"}}',
        )
    childbearing = female and age_days < 365 * 50
    if childbearing and rng.random() < 0.8:
        specimen = (
            (LOINC, "2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
            (LOINC, "2118-8", "Choriogonadotropin (pregnancy test) [Presence] in Serum or Plasma"),
        )[rng.randrange(2)]
        _qualitative(p, p.moment(lab_day), specimen, positive=rng.random() < 0.03)
    for _ in range(rng.randrange(1, 4)):
        days = rng.randrange(1, 900)
        _encounter(p, days)
        _vital_signs(p, days)
    if rng.random() < 0.6:
        _form(p, attacks, female, childbearing)
    _noise(p)


def _form(p: _Patient, attacks: list[tuple[str, list[str]]], female: bool, childbearing: bool) -> None:
    """The study screening form (QuestionnaireResponse) the study team fills in for a candidate."""
    rng = p.rng
    items = [
        _answer("screening_date", f'"valueDate":"{p.day(0)}"'),
        _answer("planned_treatment_date", f'"valueDate":"{p.day(-rng.randrange(20, 60))}"'),
        _boolean("alternative_diagnoses_excluded", rng.random() < 0.95),
    ]
    if female:
        items.append(_boolean("childbearing_potential", childbearing))
        items.append(_boolean("lactating", rng.random() < 0.03))
        if childbearing:
            items.append(_boolean("contraception_agreed", rng.random() < 0.9))
    else:
        items.append(_boolean("contraception_agreed", rng.random() < 0.95))
    groups = []
    for day, kinds in attacks:
        for kind in kinds:
            if rng.random() < 0.85:
                groups.append(
                    '{"linkId":"attacks","item":['
                    + _answer("attacks.onset_date", f'"valueDate":"{day}"')
                    + ","
                    + _answer("attacks.type", f'"valueCoding":{{"system":"{SYNDROME}","code":"{kind}"}}')
                    + ","
                    + _boolean("attacks.mri_requirements_met", rng.random() < 0.9)
                    + "]}"
                )
    if groups:
        items.append('{"linkId":"mri","item":[' + ",".join(groups) + "]}")
    investigator = [
        _boolean("investigator.survival_over_12_weeks", rng.random() < 0.98),
        _boolean("investigator.uncontrolled_disease", rng.random() < 0.05),
        _boolean("investigator.other_risk", rng.random() < 0.05),
    ]
    items.append('{"linkId":"investigator","item":[' + ",".join(investigator) + "]}")
    p.out.emit(
        "QuestionnaireResponse",
        f'{{"resourceType":"QuestionnaireResponse","id":"{p.next_id("qr")}","questionnaire":"{FORM}",'
        f'"status":"completed",{p.subject},"authored":"{p.day(0)}","item":[{",".join(items)}]}}',
    )


def patient_id(number: int) -> str:
    """The FHIR id of patient ``number`` (0-based): ``pat-`` and nine digits, sorting in number order."""
    return f"pat-{number:09d}"


def write_population(
    out_dir: Path,
    patients: int,
    seed: int,
    export_date: dt.date = DEFAULT_EXPORT_DATE,
    on_patient: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write ``patients`` synthetic patients as ``<type>.ndjson`` files in ``out_dir``.

    Streams patient by patient; ``on_patient`` is called every 1,000 patients (progress).
    The same ``patients``, ``seed`` and ``export_date`` give the same bytes.
    """
    if patients < 0:
        raise ValueError("--patients: must be 0 or more")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = SynthSummary()
    rng = random.Random()
    with ExitStack() as stack:
        files = {
            name: stack.enter_context(
                open(out_dir / f"{name}.ndjson", "w", encoding="utf-8", newline="\n", buffering=1 << 20)
            )
            for name in RESOURCE_TYPES
        }
        out = _Out(files, summary)
        for number in range(patients):
            rng.seed(seed * 1_000_000_007 + number, version=2)
            p = _Patient(rng, patient_id(number), export_date, out)
            if rng.random() < NMOSD_RATE:
                summary.nmosd += 1
                _nmosd_patient(p)
            else:
                _general_patient(p)
            summary.patients += 1
            if on_patient is not None and number % 1000 == 999:
                on_patient(1000)
    summary.bytes_written = sum((out_dir / f"{name}.ndjson").stat().st_size for name in RESOURCE_TYPES)
    return summary


def iter_patient_ids(patients: int) -> Iterator[str]:
    """The ids a run of ``patients`` writes, in order."""
    return (patient_id(number) for number in range(patients))
