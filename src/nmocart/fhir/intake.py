"""One patient's FHIR resources to one screening record (spec fhir.md sections 2 to 5, 7).

:func:`build_patient` is pure: it takes the patient's Patient resource(s), the resources whose
subject resolved to that patient, the Medications they may point to, the run's default
screening date and the concept map, and gives the record (the JSON dict of the record model)
or a rejection reason, the provenance of every item, and the accounting of every resource
(used, unmapped or ignored with its reason). The result does not depend on the order of the
resources. Engines call it once per patient, in any process (everything here pickles).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import orjson
from pydantic import ValidationError

from nmocart.fhir.concept_map import ConceptMap, ConceptRow, MapResource
from nmocart.fhir.resources import READ_TYPES, Origin, Resource
from nmocart.kernel.errors import describe_validation_error
from nmocart.screening.record import ScreeningRecord

__all__ = ["PatientIntake", "ResourceOutcome", "build_patient", "screening_record"]

BIRTHSEX_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
FORM_URL = "http://nmocart.example/fhir/Questionnaire/screening"
FORM_URLS = frozenset({FORM_URL, FORM_URL + "|1"})
SYNDROME_SYSTEM = "http://nmocart.example/fhir/CodeSystem/nmosd-syndrome"
SYNDROME_ORDER = (
    "optic_neuritis",
    "acute_myelitis",
    "area_postrema",
    "brainstem",
    "diencephalic",
    "cerebral",
)
QUALITATIVE_LABS = frozenset({"hbsag", "anti_hbc", "hbv_dna", "hcv_ab", "hcv_rna", "hiv_ag_ab"})
PREGNANCY_WINDOW_DAYS = 28

# Section 1 status filters: the values that make a resource ignored.
OBSERVATION_ACCEPTED = frozenset({"final", "amended", "corrected"})
CONDITION_REFUSED = frozenset({"entered-in-error", "refuted"})
REQUEST_REFUSED = frozenset({"entered-in-error", "cancelled", "draft"})
REQUEST_INTENT_REFUSED = frozenset({"proposal", "plan", "option"})
STATEMENT_REFUSED = frozenset({"entered-in-error", "not-taken", "intended"})
ADMINISTRATION_REFUSED = frozenset({"entered-in-error", "not-done"})
FORM_ACCEPTED = frozenset({"completed", "amended"})

# Section 5: qualitative results.
CODED_RESULTS = {
    "10828004": "positive",
    "260373001": "positive",
    "11214006": "positive",
    "260385009": "negative",
    "260415000": "negative",
    "131194007": "negative",
    "42425007": "equivocal",
}
TEXT_RESULTS = {
    "positive": "positive",
    "pos": "positive",
    "detected": "positive",
    "reactive": "positive",
    "negative": "negative",
    "neg": "negative",
    "not detected": "negative",
    "non-reactive": "negative",
    "nonreactive": "negative",
    "equivocal": "equivocal",
}
INTERPRETED_RESULTS = {"POS": "positive", "DET": "positive", "NEG": "negative", "ND": "negative"}
PREGNANCY_STATUS = {"77386006": True, "60001007": False}
CLINICAL_STATUS = {
    "active": True,
    "recurrence": True,
    "relapse": True,
    "inactive": False,
    "remission": False,
    "resolved": False,
}
SEVERITY = {"24484000": True, "6736007": False, "255604002": False}
ROUTES = {
    "26643006": "oral",
    "47625008": "intravenous",
    "34206005": "subcutaneous",
    "78421000": "intramuscular",
    "447694001": "inhaled",
    "46713006": "intranasal",
    "6064005": "topical",
}
STEROID_TARGETS = frozenset(
    {
        "medications.systemic_corticosteroid",
        "medications.inhaled_corticosteroid",
        "medications.topical_corticosteroid",
    }
)
STEROID_CLASS_BY_ROUTE = {
    "oral": "systemic_corticosteroid",
    "intravenous": "systemic_corticosteroid",
    "subcutaneous": "systemic_corticosteroid",
    "intramuscular": "systemic_corticosteroid",
    "inhaled": "inhaled_corticosteroid",
    "intranasal": "topical_corticosteroid",
    "topical": "topical_corticosteroid",
}

# Section 4: units. UCUM codes, then the unit texts accepted when there is no code.
UNIT_CODES: dict[str, dict[str, str]] = {
    "mass_or_moles": {"mg/dL": "mg/dL", "umol/L": "umol/L"},
    "enzyme": {"U/L": "U/L", "[IU]/L": "IU/L"},
    "ms": {"ms": "ms"},
    "fold": {"1": "1"},
}
UNIT_TEXTS: dict[str, dict[str, str]] = {
    "mass_or_moles": {"mg/dL": "mg/dL", "umol/L": "umol/L", "µmol/L": "umol/L", "μmol/L": "umol/L"},
    "enzyme": {"U/L": "U/L", "IU/L": "IU/L", "[IU]/L": "IU/L"},
    "ms": {"ms": "ms"},
    "fold": {"1": "1"},
}
UNIT_FAMILY = {
    "labs.creatinine": "mass_or_moles",
    "labs.total_bilirubin": "mass_or_moles",
    "labs.alt": "enzyme",
    "labs.ast": "enzyme",
    "tcell_proliferation": "fold",
}

FORM_DATES = ("screening_date", "planned_treatment_date", "disease_onset_date")
FORM_BOOLEANS = (
    "childbearing_potential",
    "pregnant",
    "lactating",
    "contraception_agreed",
    "alternative_diagnoses_excluded",
)
INVESTIGATOR_BOOLEANS = ("survival_over_12_weeks", "uncontrolled_disease", "other_risk")
WOMEN_ONLY = ("childbearing_potential", "pregnant", "lactating")

SECTION_KEYS = ("labs", "antibody_tests", "pregnancy_tests", "ecgs", "tcell_proliferation")


class ResourceOutcome(NamedTuple):
    """How one resource was counted (spec section 7): ``used``, ``unmapped`` or ``ignored``.

    ``reason`` is the ignored reason (``status:final``, ``orphan``, ``unusable:no_date``, ...),
    empty otherwise; ``codes`` are the (system, code, display) of its codings, for coverage.
    """

    resource_type: str
    ref: str
    status: str
    reason: str
    codes: tuple[tuple[str, str, str], ...]
    origin: Origin


@dataclass(frozen=True)
class PatientIntake:
    """Everything the intake learnt from one patient: record or rejection, sources, accounting.

    A built patient also carries what validating its record produced, so that no later step
    repeats the work: ``record_json`` is the record's JSON text (the bytes ``records.ndjson``
    holds, and the bytes the validation read) and ``model`` the validated record model (what
    ``nmocart screen`` would parse from those bytes). Both are None for a rejected patient.
    """

    candidate_id: str | None
    record: dict[str, Any] | None
    rejection: str | None
    sources: dict[str, list[str]]
    outcomes: tuple[ResourceOutcome, ...]
    warnings: tuple[dict[str, str], ...]
    unmapped_units: tuple[tuple[str, str], ...]
    consulted_medications: tuple[str, ...]
    record_json: bytes | None = field(default=None, repr=False, compare=False)
    model: ScreeningRecord | None = field(default=None, repr=False, compare=False)


def screening_record(record: Mapping[str, Any]) -> ScreeningRecord:
    """The validated record model of a built record (through its JSON, as ``nmocart screen`` reads it)."""
    return ScreeningRecord.model_validate_json(orjson.dumps(record))


# --------------------------------------------------------------------------- small readers


def full_date(value: object) -> dt.date | None:
    """The local calendar date of a FHIR date/dateTime/instant (first 10 characters); partial: None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _latest_possible(value: object) -> dt.date | None:
    """The last day a date or partial date (``YYYY``, ``YYYY-MM``) can mean, for deceased checks."""
    day = full_date(value)
    if day is not None or not isinstance(value, str):
        return day
    try:
        if len(value) == 4:
            return dt.date(int(value), 12, 31)
        if len(value) == 7:
            year, month = int(value[:4]), int(value[5:7])
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            return following - dt.timedelta(days=1)
    except ValueError:
        return None
    return None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _codings(concept: object) -> list[Mapping[str, Any]]:
    return [c for c in _list(_dict(concept).get("coding")) if isinstance(c, dict)]


def _coding_key(coding: Mapping[str, Any]) -> tuple[str, str, str]:
    system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
    return (
        system if isinstance(system, str) else "",
        code if isinstance(code, str) else "",
        display if isinstance(display, str) else "",
    )


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _concept_code(concept: object, system: str, table: Mapping[str, Any]) -> Any:
    for coding in _codings(concept):
        if coding.get("system") == system and coding.get("code") in table:
            return table[coding["code"]]
    return None


def _status_code(concept: object) -> str | None:
    for coding in _codings(concept):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def _canonical(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


_T = TypeVar("_T")


def _sorted_with_tiebreak(
    items: Iterable[_T], key: Callable[[_T], Any], tiebreak: Callable[[_T], bytes]
) -> list[_T]:
    """``items`` sorted by ``(key(item), tiebreak(item))``, computing ``tiebreak`` only for ties.

    The same order as one sort on the pair (both sorts are stable), but the tie-break -- a
    canonical JSON serialisation -- is only computed for the rare items whose keys are equal.
    """
    keyed = sorted(((key(item), item) for item in items), key=lambda pair: pair[0])
    ordered = [item for _, item in keyed]
    start = 0
    while start < len(keyed):
        end = start + 1
        while end < len(keyed) and keyed[end][0] == keyed[start][0]:
            end += 1
        if end - start > 1:
            ordered[start:end] = sorted(ordered[start:end], key=tiebreak)
        start = end
    return ordered


def _resource_canonical(res: Resource) -> bytes:
    return _canonical(res.body)


# --------------------------------------------------------------------------- the build


class _Match(NamedTuple):
    position: int
    row: ConceptRow
    coding: Mapping[str, Any]


class _Item(NamedTuple):
    """A list item before sorting: the item, its date, its source reference and position."""

    section: str
    item: dict[str, Any]
    date: dt.date | None
    ref: str
    position: int


def _family(target: str) -> str:
    return "ecgs" if target.startswith("ecgs.") else target


@dataclass
class _Builder:
    candidate_id: str
    concept_map: ConceptMap
    medications: Mapping[str, Resource]
    outcomes: list[ResourceOutcome] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    unmapped_units: list[tuple[str, str]] = field(default_factory=list)
    consulted: set[str] = field(default_factory=set)

    def warn(self, resource: str, kind: str, detail: str) -> None:
        self.warnings.append(
            {"patient": self.candidate_id, "resource": resource, "kind": kind, "detail": detail}
        )

    def count(
        self, res: Resource, status: str, reason: str = "", codes: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        self.outcomes.append(
            ResourceOutcome(
                res.resource_type, res.ref, status, reason, tuple(_coding_key(c) for c in codes), res.origin
            )
        )

    def matches(self, kind: MapResource, codings: Iterable[Mapping[str, Any]], position: int) -> list[_Match]:
        found = []
        for coding in codings:
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                row = self.concept_map.lookup(kind, system, code)
                if row is not None:
                    found.append(_Match(position, row, coding))
        return found

    def mapped_codes(
        self, res: Resource, found: Sequence[_Match], codings: Iterable[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]] | None:
        """The matched codings of ``res``; None once it is counted unmapped or conflicting (spec 6)."""
        if not found:
            self.count(res, "unmapped", "", codings)
            return None
        if _conflicting(found):
            self.count(res, "ignored", "conflict", [m.coding for m in found])
            self.warn(res.ref, "conflict", _conflict_detail(found))
            return None
        return [m.coding for m in found]


def _conflicting(matches: Sequence[_Match]) -> bool:
    if len({_family(m.row.target) for m in matches}) > 1:
        return True
    by_position: dict[int, set[str]] = {}
    for m in matches:
        by_position.setdefault(m.position, set()).add(m.row.target)
    return any(len(targets) > 1 for targets in by_position.values())


def _conflict_detail(matches: Sequence[_Match]) -> str:
    """The report line of a conflict: each matching coding and the target it names (spec section 6)."""
    named = sorted({f"{m.coding.get('system')}|{m.coding.get('code')} -> {m.row.target}" for m in matches})
    return f"codings name different targets: {', '.join(named)}; not used"


def _name(concept: object, matches: Sequence[_Match]) -> str:
    text = _dict(concept).get("text")
    if isinstance(text, str) and text.strip():
        return text
    for m in matches:
        display = m.coding.get("display")
        if isinstance(display, str) and display.strip():
            return display
    return matches[0].row.display or matches[0].row.code


def _quantity_unit(quantity: Mapping[str, Any], family: str) -> tuple[str | None, str]:
    """The record unit of a Quantity for a unit family (None: not mapped) and the unit as written."""
    system, code, text = quantity.get("system"), quantity.get("code"), quantity.get("unit")
    has_code = isinstance(code, str) and bool(code)
    if has_code and (system is None or system == UCUM):
        return UNIT_CODES[family].get(str(code)), str(code)
    if isinstance(text, str) and text:
        return UNIT_TEXTS[family].get(text), text
    if has_code:  # a code of another system, and no text: not a unit the spec knows
        return None, f"{code} ({system})"
    return ("1" if family == "fold" else None), ""


def _qualitative(body: Mapping[str, Any]) -> str | None:
    """Section 5: coded value, then string value, then interpretation; the first that answers decides."""
    coded = _concept_code(body.get("valueCodeableConcept"), SNOMED, CODED_RESULTS)
    if coded is not None:
        return str(coded)
    text = body.get("valueString")
    if isinstance(text, str):
        word = TEXT_RESULTS.get(text.strip().lower())
        if word is not None:
            return word
    for concept in _list(body.get("interpretation")):
        word = _concept_code(concept, INTERPRETATION, INTERPRETED_RESULTS)
        if word is not None:
            return str(word)
    return None


def _ratio_part(value: object) -> str | None:
    number = _number(_dict(value).get("value"))
    if number is None:
        return None
    if float(number).is_integer():
        return str(int(number))
    return repr(float(number))


def _titer(body: Mapping[str, Any]) -> str | None:
    ratio = body.get("valueRatio")
    if isinstance(ratio, dict):
        numerator, denominator = _ratio_part(ratio.get("numerator")), _ratio_part(ratio.get("denominator"))
        if numerator is not None and denominator is not None:
            return f"{numerator}:{denominator}"
    text = body.get("valueString")
    if isinstance(text, str):
        head, colon, tail = text.strip().partition(":")
        if colon and head.isdigit() and tail.isdigit() and head.isascii() and tail.isascii():
            return f"{head}:{tail}"
    return None


def _observation_date(body: Mapping[str, Any]) -> dt.date | None:
    for value in (
        body.get("effectiveDateTime"),
        _dict(body.get("effectivePeriod")).get("start"),
        body.get("effectiveInstant"),
    ):
        day = full_date(value)
        if day is not None:
            return day
    return None


def _onset(body: Mapping[str, Any]) -> dt.date | None:
    if "onsetDateTime" in body:
        return full_date(body.get("onsetDateTime"))
    return full_date(_dict(body.get("onsetPeriod")).get("start"))


def _status_reason(res: Resource) -> str | None:
    """The ignored reason of a resource failing its section 1 status filter, or None when accepted."""
    body, rtype = res.body, res.resource_type
    status = body.get("status")
    shown = status if isinstance(status, str) else "absent"
    if rtype == "Observation":
        return None if status in OBSERVATION_ACCEPTED else f"status:{shown}"
    if rtype == "Condition":
        code = _status_code(body.get("verificationStatus"))
        return f"status:{code}" if code in CONDITION_REFUSED else None
    if rtype == "MedicationRequest":
        if status in REQUEST_REFUSED:
            return f"status:{status}"
        intent = body.get("intent")
        return f"intent:{intent}" if intent in REQUEST_INTENT_REFUSED else None
    if rtype == "MedicationStatement":
        return f"status:{status}" if status in STATEMENT_REFUSED else None
    if rtype == "MedicationAdministration":
        return f"status:{status}" if status in ADMINISTRATION_REFUSED else None
    if rtype == "QuestionnaireResponse":
        if status not in FORM_ACCEPTED:
            return f"status:{shown}"
        return None if body.get("questionnaire") in FORM_URLS else "questionnaire"
    return None


# --------------------------------------------------------------------------- the form


@dataclass
class _Form:
    ref: str
    values: dict[str, Any] = field(default_factory=dict)
    attacks: list[tuple[dt.date | None, str | None, bool | None]] = field(default_factory=list)


def _first_answer(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    answers = _list(item.get("answer"))
    return answers[0] if answers and isinstance(answers[0], dict) else None


def _read_form(res: Resource, builder: _Builder) -> _Form:
    form = _Form(res.ref)

    def wrong(link: str, expected: str) -> None:
        builder.warn(res.ref, "form_item", f"{link}: the answer is not a {expected}; ignored")

    def walk(items: object) -> None:
        for item in _list(items):
            if not isinstance(item, dict):
                continue
            link = item.get("linkId")
            link = link if isinstance(link, str) else ""
            if link == "attacks":
                form.attacks.append(_attack_group(item, res.ref, builder))
                continue
            answer = _first_answer(item)
            if answer is not None and link not in form.values:
                _form_value(form, link, answer, wrong, builder, res.ref)
            walk(item.get("item"))
            for nested in _list(item.get("answer")):
                walk(_dict(nested).get("item"))

    walk(res.body.get("item"))
    return form


def _form_value(
    form: _Form,
    link: str,
    answer: Mapping[str, Any],
    wrong: Callable[[str, str], None],
    builder: _Builder,
    ref: str,
) -> None:
    if link in FORM_DATES:
        day = full_date(answer.get("valueDate")) if isinstance(answer.get("valueDate"), str) else None
        if day is None or len(str(answer.get("valueDate"))) != 10:
            wrong(link, "full valueDate")
            return
        form.values[link] = day
    elif link in FORM_BOOLEANS or link in {f"investigator.{k}" for k in INVESTIGATOR_BOOLEANS}:
        value = answer.get("valueBoolean")
        if not isinstance(value, bool):
            wrong(link, "valueBoolean")
            return
        form.values[link] = value
    elif link == "investigator.notes":
        value = answer.get("valueString")
        if not isinstance(value, str):
            wrong(link, "valueString")
            return
        form.values[link] = value
    else:
        builder.warn(ref, "form_item", f"unknown linkId {link!r}; ignored")


def _attack_group(
    group: Mapping[str, Any], ref: str, builder: _Builder
) -> tuple[dt.date | None, str | None, bool | None]:
    onset: dt.date | None = None
    kind: str | None = None
    mri: bool | None = None
    for child in _list(group.get("item")):
        if not isinstance(child, dict):
            continue
        link = child.get("linkId")
        answer = _first_answer(child)
        if answer is None:
            continue
        if link == "attacks.onset_date":
            raw = answer.get("valueDate")
            onset = full_date(raw) if isinstance(raw, str) and len(raw) == 10 else None
            if onset is None:
                builder.warn(
                    ref, "form_item", "attacks.onset_date: the answer is not a full valueDate; ignored"
                )
        elif link == "attacks.type":
            coding = _dict(answer.get("valueCoding"))
            if coding.get("system") == SYNDROME_SYSTEM and coding.get("code") in SYNDROME_ORDER:
                kind = str(coding["code"])
            else:
                builder.warn(ref, "form_item", "attacks.type: not a syndrome coding of the study; ignored")
        elif link == "attacks.mri_requirements_met":
            value = answer.get("valueBoolean")
            if isinstance(value, bool):
                mri = value
            else:
                builder.warn(ref, "form_item", "attacks.mri_requirements_met: not a valueBoolean; ignored")
        else:
            builder.warn(ref, "form_item", f"unknown linkId {link!r} in an attacks group; ignored")
    return onset, kind, mri


# --------------------------------------------------------------------------- build_patient


def _reject(
    builder: _Builder,
    patients: Sequence[Resource],
    resources: Sequence[Resource],
    reason: str,
    candidate_id: str | None,
) -> PatientIntake:
    for patient in patients:
        builder.count(patient, "ignored", f"rejected:{reason}")
    for res in resources:
        builder.count(
            res, "ignored", "type_not_read" if res.resource_type not in READ_TYPES else "patient_rejected"
        )
    return PatientIntake(
        candidate_id, None, reason, {}, tuple(builder.outcomes), tuple(builder.warnings), (), ()
    )


def _sex(patient: Resource, builder: _Builder) -> str | None:
    for extension in _list(patient.body.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == BIRTHSEX_URL:
            code = extension.get("valueCode")
            if code == "F":
                return "female"
            if code == "M":
                return "male"
    gender = patient.body.get("gender")
    if gender in ("female", "male"):
        builder.warn(patient.ref, "sex_from_gender", f"no US Core birth sex; Patient.gender {gender} used")
        return str(gender)
    return None


def _deceased(patient: Resource, screening_date: dt.date) -> bool:
    body = patient.body
    if body.get("deceasedBoolean") is True:
        return True
    last = _latest_possible(body.get("deceasedDateTime"))
    return last is not None and last <= screening_date


def build_patient(
    patients: Sequence[Resource],
    resources: Sequence[Resource],
    medications: Mapping[str, Resource],
    screening_date: dt.date,
    concept_map: ConceptMap,
) -> PatientIntake:
    """Build one patient's screening record from its resources (spec fhir.md sections 1 to 7).

    ``patients`` are the Patient resources carrying this patient's id (two or more: all are
    rejected as ``duplicate_id``); ``resources`` the resources whose subject resolved to it;
    ``medications`` the Medications by ``ref`` that ``medicationReference`` may point to;
    ``screening_date`` the run's default date ``D``.
    """
    patients = _sorted_with_tiebreak(patients, lambda r: r.ref, _resource_canonical)
    resources = _sorted_with_tiebreak(resources, lambda r: (r.resource_type, r.ref), _resource_canonical)
    candidate_id = patients[0].patient_key if patients else None
    builder = _Builder(candidate_id or "", concept_map, medications)
    if not patients:
        raise ValueError("build_patient needs the patient's Patient resource")
    if candidate_id is None:
        return _reject(builder, patients, resources, "no_id", None)
    if len(patients) > 1:
        return _reject(builder, patients, resources, "duplicate_id", candidate_id)
    patient = patients[0]

    # The form first: it may give the screening date that deceased and windows depend on.
    forms: list[Resource] = []
    form_reasons: dict[int, str] = {}
    for index, res in enumerate(resources):
        if res.resource_type == "QuestionnaireResponse":
            reason = _status_reason(res)
            if reason is None:
                forms.append(res)
            else:
                form_reasons[index] = reason
    form: _Form | None = None
    if len(forms) == 1:
        form = _read_form(forms[0], builder)
    elif len(forms) > 1:
        builder.warn(
            forms[0].ref,
            "form_conflict",
            f"{len(forms)} screening forms: {', '.join(f.ref for f in forms)}; none used",
        )
    record_date = screening_date
    if form is not None and isinstance(form.values.get("screening_date"), dt.date):
        record_date = form.values["screening_date"]

    sex = _sex(patient, builder)
    if sex is None:
        builder.warnings.clear()
        return _reject(builder, patients, resources, "sex_unknown", candidate_id)
    if _deceased(patient, record_date):
        builder.warnings.clear()
        return _reject(builder, patients, resources, "deceased", candidate_id)

    return _Assembly(builder, patient, resources, form, forms, form_reasons, sex, record_date).run()


@dataclass
class _Assembly:
    """The record of one accepted patient, section by section."""

    builder: _Builder
    patient: Resource
    resources: Sequence[Resource]
    form: _Form | None
    forms: list[Resource]
    form_reasons: dict[int, str]
    sex: str
    record_date: dt.date
    items: list[_Item] = field(default_factory=list)
    sources: dict[str, list[str]] = field(default_factory=dict)
    any_observation: bool = False
    any_condition: bool = False
    any_medication: bool = False
    nmosd: list[tuple[dt.date | None, Resource]] = field(default_factory=list)
    attack_conditions: list[tuple[dt.date, str, Resource]] = field(default_factory=list)
    undated_attacks: list[Resource] = field(default_factory=list)
    undated_medications: list[Resource] = field(default_factory=list)
    pregnancy: list[tuple[dt.date, bool, Resource]] = field(default_factory=list)
    section_members: dict[str, list[Resource]] = field(default_factory=dict)
    pending: dict[int, tuple[Resource, list[Mapping[str, Any]]]] = field(default_factory=dict)

    def run(self) -> PatientIntake:
        b = self.builder
        for index, res in enumerate(self.resources):
            rtype = res.resource_type
            if rtype not in READ_TYPES or rtype in ("Patient", "Medication"):
                b.count(res, "ignored", "type_not_read" if rtype not in READ_TYPES else "orphan")
                continue
            if rtype == "QuestionnaireResponse":
                if index in self.form_reasons:
                    b.count(res, "ignored", self.form_reasons[index])
                elif len(self.forms) > 1:
                    b.count(res, "ignored", "form_conflict")
                else:
                    b.count(res, "used")
                continue
            reason = _status_reason(res)
            if reason is not None:
                b.count(res, "ignored", reason)
                continue
            if rtype == "Observation":
                self.any_observation = True
                self.observation(res)
            elif rtype == "Condition":
                self.any_condition = True
                self.condition(res)
            else:
                self.any_medication = True
                self.medication(res)
        record = self.assemble()
        return self.finish(record)

    # ----------------------------------------------------------------- observations

    def observation(self, res: Resource) -> None:
        b, body = self.builder, res.body
        main = _codings(body.get("code"))
        found = b.matches("Observation", main, 0)
        for position, component in enumerate(_list(body.get("component")), start=1):
            found += [
                m
                for m in b.matches("Observation", _codings(_dict(component).get("code")), position)
                if m.row.target.startswith("ecgs.")
            ]
        codes = b.mapped_codes(res, found, main)
        if codes is None:
            return
        day = _observation_date(body)
        if day is None:
            b.count(res, "ignored", "unusable:no_date", codes)
            return
        target = found[0].row.target
        why: str | None
        if target.startswith("ecgs."):
            why = self.ecgs(res, day, found)
        elif target == "pregnant":
            value = _concept_code(body.get("valueCodeableConcept"), SNOMED, PREGNANCY_STATUS)
            why = "no_result" if value is None else None
            if value is not None:
                self.pregnancy.append((day, bool(value), res))
        elif target == "tcell_proliferation":
            why = self.numeric(res, day, target, "tcell_proliferation")
        elif target.startswith("labs."):
            test = target.split(".", 1)[1]
            if test in QUALITATIVE_LABS:
                why = self.qualitative(res, day, "labs", {"test": test}, allow_equivocal=False)
            else:
                why = self.numeric(res, day, target, "labs")
        elif target.startswith("antibody_tests."):
            _, antibody, method = target.split(".")
            why = self.qualitative(res, day, "antibody_tests", {"antibody": antibody, "method": method}, True)
        else:  # pregnancy_tests.<specimen>
            specimen = target.split(".", 1)[1]
            why = self.qualitative(res, day, "pregnancy_tests", {"specimen": specimen}, allow_equivocal=False)
        if why is None:
            b.count(res, "used", "", codes)
        else:
            b.count(res, "ignored", f"unusable:{why}", codes)

    def quantity_value(
        self, res: Resource, quantity: object, target: str, family: str
    ) -> tuple[int | float | None, str | None, str | None]:
        """(value, record unit, why not usable) of a Quantity for ``target``."""
        if not isinstance(quantity, dict):
            return None, None, "no_value"
        if quantity.get("comparator") is not None:
            return None, None, "comparator"
        value = _number(quantity.get("value"))
        if value is None:
            return None, None, "no_value"
        unit, written = _quantity_unit(quantity, family)
        if unit is None:
            self.builder.unmapped_units.append((target, written))
            return None, None, "unit"
        return value, unit, None

    def numeric(self, res: Resource, day: dt.date, target: str, section: str) -> str | None:
        body = res.body
        value, unit, why = self.quantity_value(res, body.get("valueQuantity"), target, UNIT_FAMILY[target])
        if why is not None or value is None:
            return why
        if value < 0:
            return "no_value"
        if section == "tcell_proliferation":
            self.items.append(_Item(section, {"date": day, "fold_expansion": value}, day, res.ref, 0))
            return None
        upper = self.upper_limit(res, UNIT_FAMILY[target], unit)
        item = {
            "date": day,
            "test": target.split(".", 1)[1],
            "value": value,
            "unit": unit,
            "upper_limit": upper,
            "result": None,
        }
        self.items.append(_Item(section, item, day, res.ref, 0))
        return None

    def upper_limit(self, res: Resource, family: str, unit: str | None) -> int | float | None:
        for reference in _list(res.body.get("referenceRange")):
            if not isinstance(reference, dict):
                continue
            kind = reference.get("type")
            if kind is not None and _concept_code(kind, RANGE_MEANING, {"normal": True}) is None:
                continue
            high = reference.get("high")
            if not isinstance(high, dict):
                return None
            value = _number(high.get("value"))
            if value is None:
                return None
            has_unit = any(isinstance(high.get(k), str) and high.get(k) for k in ("code", "unit"))
            high_unit = _quantity_unit(high, family)[0] if has_unit else unit
            if high_unit != unit:
                self.builder.warn(
                    res.ref,
                    "upper_limit_unit",
                    f"reference range unit {high.get('code') or high.get('unit')!r}"
                    f" is not the value's unit {unit}; upper_limit null",
                )
                return None
            if value <= 0:
                self.builder.warn(
                    res.ref, "upper_limit_unit", f"upper limit {value} is not > 0; upper_limit null"
                )
                return None
            return value
        return None

    def qualitative(
        self, res: Resource, day: dt.date, section: str, fields: dict[str, Any], allow_equivocal: bool
    ) -> str | None:
        result = _qualitative(res.body)
        if result is None or (result == "equivocal" and not allow_equivocal):
            return "no_result"
        item: dict[str, Any] = {"date": day, **fields}
        if section == "labs":
            item.update(value=None, unit=None, upper_limit=None, result=result)
        elif section == "antibody_tests":
            item.update(result=result, titer=_titer(res.body))
        else:
            item["result"] = result
        self.items.append(_Item(section, item, day, res.ref, 0))
        return None

    def ecgs(self, res: Resource, day: dt.date, found: Sequence[_Match]) -> str | None:
        components = _list(res.body.get("component"))
        first_why: str | None = None
        made = 0
        for position in sorted({m.position for m in found}):
            target = next(m.row.target for m in found if m.position == position)
            source = res.body if position == 0 else _dict(components[position - 1])
            value, _, why = self.quantity_value(res, source.get("valueQuantity"), target, "ms")
            if why is None and value is not None and not 0 < value < 1000:
                why = "no_value"
            if why is not None or value is None:
                first_why = first_why or why
                continue
            parts = target.split(".")
            correction = parts[2] if len(parts) == 3 else None
            self.items.append(
                _Item(
                    "ecgs", {"date": day, "qtc_ms": value, "correction": correction}, day, res.ref, position
                )
            )
            made += 1
        return None if made else (first_why or "no_value")

    # ----------------------------------------------------------------- conditions

    def condition(self, res: Resource) -> None:
        b, body = self.builder, res.body
        codings = _codings(body.get("code"))
        found = b.matches("Condition", codings, 0)
        codes = b.mapped_codes(res, found, codings)
        if codes is None:
            return
        target = found[0].row.target
        onset = _onset(body)
        if target == "nmosd":
            self.nmosd.append((onset, res))
            b.count(res, "used", "", codes)
        elif target.startswith("attacks."):
            if onset is None:
                self.undated_attacks.append(res)
                b.count(res, "ignored", "unusable:no_date", codes)
                b.warn(
                    res.ref, "undated_attack", "attack Condition without a full onset date; attacks set null"
                )
            else:
                self.attack_conditions.append((onset, target.split(".", 1)[1], res))
                self.section_members.setdefault("attacks", []).append(res)
                self.pending[id(res)] = (res, codes)
        else:
            item = {
                "name": _name(body.get("code"), found),
                "category": target.split(".", 1)[1],
                "onset_date": onset,
                "active": _clinical(body),
                "severe": _concept_code(body.get("severity"), SNOMED, SEVERITY),
                "controlled": None,
            }
            self.items.append(_Item("conditions", item, onset, res.ref, 0))
            b.count(res, "used", "", codes)

    # ----------------------------------------------------------------- medications

    def medication(self, res: Resource) -> None:
        b, body = self.builder, res.body
        concept: object = body.get("medicationCodeableConcept")
        reference = _dict(body.get("medicationReference")).get("reference")
        if concept is None and isinstance(reference, str):
            target_med: Mapping[str, Any] | None = None
            if reference.startswith("#"):
                for contained in _list(body.get("contained")):
                    if (
                        _dict(contained).get("resourceType") == "Medication"
                        and _dict(contained).get("id") == reference[1:]
                    ):
                        target_med = _dict(contained)
                        break
            elif res.medication_key is not None and res.medication_key in b.medications:
                target_med = b.medications[res.medication_key].body
                b.consulted.add(res.medication_key)
            if target_med is None:
                b.count(res, "ignored", "unusable:medication_reference")
                return
            concept = target_med.get("code")
        codings = _codings(concept)
        found = b.matches("Medication", codings, 0)
        codes = b.mapped_codes(res, found, codings)
        if codes is None:
            return
        target = found[0].row.target
        route = _route(res)
        drug_class = target.split(".", 1)[1]
        if target in STEROID_TARGETS and route in STEROID_CLASS_BY_ROUTE:
            drug_class = STEROID_CLASS_BY_ROUTE[route]
        start, end, end_written = _medication_dates(res)
        if start is None:
            self.undated_medications.append(res)
            b.count(res, "ignored", "unusable:no_date", codes)
            b.warn(
                res.ref, "undated_medication", "mapped medication without a full start date; medications null"
            )
            return
        if end is None and body.get("status") in ("completed", "stopped"):
            b.warn(
                res.ref,
                "open_end_date",
                f"status {body.get('status')} but no end date; end_date null (ongoing)",
            )
        if end is not None and end < start:
            b.warn(res.ref, "end_before_start", f"end {end_written} is before start {start}; end_date null")
            end = None
        item = {
            "name": _name(concept, found),
            "drug_class": drug_class,
            "route": route,
            "start_date": start,
            "end_date": end,
        }
        self.items.append(_Item("medications", item, start, res.ref, 0))
        self.section_members.setdefault("medications", []).append(res)
        self.pending[id(res)] = (res, codes)

    # ----------------------------------------------------------------- the record

    def assemble(self) -> dict[str, Any]:
        b, form = self.builder, self.form
        values = form.values if form is not None else {}
        ref_form = form.ref if form is not None else ""
        pid = self.patient.ref
        self.sources = {"/candidate_id": [pid], "/sex": [pid]}
        birth_raw = self.patient.body.get("birthDate")
        birth = full_date(birth_raw) if isinstance(birth_raw, str) and len(birth_raw) == 10 else None
        if birth is None:
            shown = birth_raw if isinstance(birth_raw, str) else "none"
            b.warn(pid, "partial_birth_date", f"birthDate {shown} is not a full date; birth_date null")
        elif birth > self.record_date:
            b.warn(
                pid, "partial_birth_date", f"birthDate {birth} is after the screening date; birth_date null"
            )
            birth = None
        if birth is not None:
            self.sources["/birth_date"] = [pid]
        record: dict[str, Any] = {
            "candidate_id": b.candidate_id,
            "screening_date": self.record_date,
            "planned_treatment_date": values.get("planned_treatment_date"),
            "sex": self.sex,
            "birth_date": birth,
        }
        for key in ("screening_date", "planned_treatment_date"):
            if key in values:
                self.sources[f"/{key}"] = [ref_form]
        for key in ("childbearing_potential", "pregnant", "lactating", "contraception_agreed"):
            record[key] = None
            if key in values:
                if self.sex == "male" and key in WOMEN_ONLY:
                    b.warn(ref_form, "form_item", f"{key}: not recorded for a male patient; ignored")
                    continue
                record[key] = values[key]
                self.sources[f"/{key}"] = [ref_form]
        if self.sex == "female":
            self.pregnant_from_fhir(record, values, ref_form)
        self.disease_onset(record, values, ref_form)
        record["alternative_diagnoses_excluded"] = values.get("alternative_diagnoses_excluded")
        if "alternative_diagnoses_excluded" in values:
            self.sources["/alternative_diagnoses_excluded"] = [ref_form]
        record["attacks"] = self.attacks(values, ref_form)
        ordered = self.ordered_items()
        record["antibody_tests"] = ordered["antibody_tests"] if self.any_observation else None
        record["medications"] = self.medications(ordered["medications"])
        record["conditions"] = ordered["conditions"] if self.any_condition else None
        for key in ("labs", "pregnancy_tests", "ecgs", "tcell_proliferation"):
            record[key] = ordered[key] if self.any_observation else None
        record["investigator"] = self.investigator(values, ref_form)
        for res, codes in self.pending.values():
            b.count(res, "used", "", codes)
        return record

    def pregnant_from_fhir(self, record: dict[str, Any], values: Mapping[str, Any], ref_form: str) -> None:
        start = self.record_date - dt.timedelta(days=PREGNANCY_WINDOW_DAYS)
        window = [(d, v, r) for d, v, r in self.pregnancy if start <= d <= self.record_date]
        if not window:
            return
        latest = max(d for d, _, _ in window)
        on_latest = [(v, r) for d, v, r in window if d == latest]
        value = any(v for v, _ in on_latest)
        deciders = sorted({r.ref for v, r in on_latest if v == value})
        if "pregnant" in values:
            if values["pregnant"] != value:
                self.builder.warn(
                    ref_form,
                    "form_override",
                    f"pregnant: form {values['pregnant']} over FHIR {value} ({deciders})",
                )
            return
        record["pregnant"] = value
        self.sources["/pregnant"] = deciders

    def disease_onset(self, record: dict[str, Any], values: Mapping[str, Any], ref_form: str) -> None:
        dated = [(d, r.ref) for d, r in self.nmosd if d is not None]
        earliest = min((d for d, _ in dated), default=None)
        if "disease_onset_date" in values:
            record["disease_onset_date"] = values["disease_onset_date"]
            self.sources["/disease_onset_date"] = [ref_form]
            if earliest is not None and earliest != values["disease_onset_date"]:
                self.builder.warn(
                    ref_form,
                    "form_override",
                    f"disease_onset_date: form {values['disease_onset_date']} over FHIR {earliest}",
                )
            return
        record["disease_onset_date"] = earliest
        if earliest is not None:
            self.sources["/disease_onset_date"] = sorted({ref for d, ref in dated if d == earliest})

    def attacks(self, values: Mapping[str, Any], ref_form: str) -> list[dict[str, Any]] | None:
        attacks: list[dict[str, Any]] | None
        if self.undated_attacks:
            for res in self.section_members.get("attacks", []):
                self.section_null(res)
            attacks = None
        elif self.attack_conditions:
            by_date: dict[dt.date, dict[str, list[str]]] = {}
            for onset, kind, res in self.attack_conditions:
                by_date.setdefault(onset, {}).setdefault(kind, []).append(res.ref)
            attacks = []
            for i, onset in enumerate(sorted(by_date)):
                kinds = by_date[onset]
                syndromes = []
                self.sources[f"/attacks/{i}"] = sorted({r for refs in kinds.values() for r in refs})
                for j, kind in enumerate(k for k in SYNDROME_ORDER if k in kinds):
                    syndromes.append({"type": kind, "mri_requirements_met": None})
                    self.sources[f"/attacks/{i}/syndromes/{j}"] = sorted(set(kinds[kind]))
                attacks.append({"onset_date": onset, "syndromes": syndromes})
        elif self.nmosd or not self.any_condition:
            attacks = None
        else:
            attacks = []
        if self.form is not None:
            for form_onset, form_kind, mri in self.form.attacks:
                self.form_attack(attacks, form_onset, form_kind, mri, ref_form)
        return attacks

    def form_attack(
        self,
        attacks: list[dict[str, Any]] | None,
        onset: dt.date | None,
        kind: str | None,
        mri: bool | None,
        ref_form: str,
    ) -> None:
        if mri is None:
            return
        for i, attack in enumerate(attacks or []):
            if attack["onset_date"] != onset:
                continue
            for j, syndrome in enumerate(attack["syndromes"]):
                if syndrome["type"] != kind:
                    continue
                pointer = f"/attacks/{i}/syndromes/{j}/mri_requirements_met"
                if pointer in self.sources:
                    self.builder.warn(
                        ref_form, "form_item", f"{pointer} answered twice; the first answer counts"
                    )
                    return
                syndrome["mri_requirements_met"] = mri
                self.sources[pointer] = [ref_form]
                return
        self.builder.warn(
            ref_form,
            "form_attack_unmatched",
            f"attacks group {onset} {kind} matches no attack syndrome; ignored",
        )

    def ordered_items(self) -> dict[str, list[dict[str, Any]]]:
        def key(it: _Item) -> tuple[bool, dt.date, str, int]:
            return (it.date is None, it.date or dt.date.min, it.ref, it.position)

        def tiebreak(it: _Item) -> bytes:
            return orjson.dumps(it.item, option=orjson.OPT_SORT_KEYS)

        grouped: dict[str, list[dict[str, Any]]] = {
            k: [] for k in (*SECTION_KEYS, "conditions", "medications")
        }
        for it in _sorted_with_tiebreak(self.items, key, tiebreak):
            index = len(grouped[it.section])
            grouped[it.section].append(it.item)
            self.sources[f"/{it.section}/{index}"] = [it.ref]
        return grouped

    def medications(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        if not self.any_medication:
            return None
        if self.undated_medications:
            for pointer in [p for p in self.sources if p.startswith("/medications/")]:
                del self.sources[pointer]
            for res in self.section_members.get("medications", []):
                self.section_null(res)
            return None
        return items

    def section_null(self, res: Resource) -> None:
        entry = self.pending.pop(id(res), None)
        self.builder.count(res, "ignored", "section_null", entry[1] if entry else ())

    def investigator(self, values: Mapping[str, Any], ref_form: str) -> dict[str, Any] | None:
        keys = (*INVESTIGATOR_BOOLEANS, "notes")
        answered = [k for k in keys if f"investigator.{k}" in values]
        if not answered:
            return None
        for k in answered:
            self.sources[f"/investigator/{k}"] = [ref_form]
        return {k: values.get(f"investigator.{k}") for k in keys}

    def finish(self, record: dict[str, Any]) -> PatientIntake:
        b = self.builder
        b.count(self.patient, "used")
        payload = orjson.dumps(record)
        try:
            model = ScreeningRecord.model_validate_json(payload)
        except ValidationError as exc:
            problems = "; ".join(describe_validation_error(exc))
            b.warnings.append(
                {
                    "patient": b.candidate_id,
                    "resource": self.patient.ref,
                    "kind": "invalid_record",
                    "detail": problems,
                }
            )
            outcomes = [
                o._replace(status="ignored", reason="patient_rejected")
                if o.ref != self.patient.ref or o.resource_type != "Patient"
                else o._replace(status="ignored", reason="rejected:invalid_record")
                for o in b.outcomes
            ]
            return PatientIntake(
                b.candidate_id, None, "invalid_record", {}, tuple(outcomes), tuple(b.warnings), (), ()
            )
        return PatientIntake(
            b.candidate_id,
            orjson.loads(payload),
            None,
            dict(sorted(self.sources.items())),
            tuple(b.outcomes),
            tuple(b.warnings),
            tuple(b.unmapped_units),
            tuple(sorted(b.consulted)),
            payload,
            model,
        )


def _clinical(body: Mapping[str, Any]) -> bool | None:
    code = _status_code(body.get("clinicalStatus"))
    return CLINICAL_STATUS.get(code) if code is not None else None


def _route(res: Resource) -> str | None:
    body = res.body
    if res.resource_type == "MedicationRequest":
        dosage = (
            _dict(_list(body.get("dosageInstruction"))[0]) if _list(body.get("dosageInstruction")) else {}
        )
    elif res.resource_type == "MedicationStatement":
        dosage = _dict(_list(body.get("dosage"))[0]) if _list(body.get("dosage")) else {}
    else:
        dosage = _dict(body.get("dosage"))
    codings = _codings(dosage.get("route"))
    if not codings:
        return None
    for coding in codings:
        if coding.get("system") == SNOMED and coding.get("code") in ROUTES:
            return ROUTES[coding["code"]]
    return "other"


def _medication_dates(res: Resource) -> tuple[dt.date | None, dt.date | None, str]:
    """(start, end, end as written) by spec section 2.2; a partial date is no date."""
    body = res.body
    if res.resource_type == "MedicationRequest":
        instructions = _list(body.get("dosageInstruction"))
        first = _dict(instructions[0]) if instructions else {}
        bounds = _dict(_dict(_dict(first.get("timing")).get("repeat")).get("boundsPeriod"))
        start = full_date(bounds.get("start")) or full_date(body.get("authoredOn"))
        end_raw = bounds.get("end")
        return start, full_date(end_raw), str(end_raw)
    if "effectiveDateTime" in body:
        day = full_date(body.get("effectiveDateTime"))
        return day, day, str(body.get("effectiveDateTime"))
    period = _dict(body.get("effectivePeriod"))
    return full_date(period.get("start")), full_date(period.get("end")), str(period.get("end"))
