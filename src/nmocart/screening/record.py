"""The screening record of eligibility spec section 1, as strictly validated models.

A section that is missing or ``null`` was **not collected**; an empty list ``[]`` was
collected with nothing to report. The models keep that difference (``None`` versus
``()``) so the engine can tell unknown from absent. Validation is strict: no type
coercion, no unknown fields, no unknown vocabulary words, no unlisted units.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nmocart.kernel.errors import FieldError, RecordError, parse_json_record
from nmocart.kernel.iso_date import IsoDate
from nmocart.kernel.units import UnitError, check_unit, unit_message

__all__ = ["RecordError", "ScreeningRecord", "check_reference_date", "parse_record"]

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

Sex: TypeAlias = Literal["female", "male"]
SyndromeType: TypeAlias = Literal[
    "optic_neuritis", "acute_myelitis", "area_postrema", "brainstem", "diencephalic", "cerebral"
]
DrugClass: TypeAlias = Literal[
    "systemic_corticosteroid",
    "inhaled_corticosteroid",
    "topical_corticosteroid",
    "azathioprine",
    "mycophenolate",
    "rituximab",
    "other_immunosuppressant",
    "gene_therapy",
    "other",
]
Route: TypeAlias = Literal[
    "oral",
    "intravenous",
    "subcutaneous",
    "intramuscular",
    "inhaled",
    "intranasal",
    "topical",
    "other",
]
ConditionCategory: TypeAlias = Literal[
    "epilepsy",
    "cns_disease",
    "long_qt",
    "arrhythmia",
    "heart_failure",
    "other_cardiac",
    "infection",
    "hepatitis_b",
    "hepatitis_c",
    "hiv",
    "other",
]
NumericTest: TypeAlias = Literal["creatinine", "alt", "ast", "total_bilirubin"]
QualitativeTest: TypeAlias = Literal["hbsag", "anti_hbc", "hbv_dna", "hcv_ab", "hcv_rna", "hiv_ag_ab"]
NUMERIC_TESTS: tuple[str, ...] = get_args(NumericTest)
PosNeg: TypeAlias = Literal["positive", "negative"]


class Syndrome(BaseModel):
    """One core clinical syndrome of an attack and whether MRI met the 2015 IPND requirement."""

    model_config = _STRICT
    type: SyndromeType = Field(description="Core clinical syndrome of the attack (2015 IPND).")
    mri_requirements_met: bool | None = Field(
        default=None,
        description="Whether MRI met the 2015 IPND additional requirement for this syndrome "
        "(acute myelitis: LETM, a lesion over at least 3 contiguous segments, or 3 segments of atrophy).",
    )


class Attack(BaseModel):
    """A clinical attack: its onset and at least one core syndrome."""

    model_config = _STRICT
    onset_date: IsoDate = Field(description="Onset date of the attack.")
    syndromes: tuple[Syndrome, ...] = Field(min_length=1, description="Its core syndromes, at least one.")


class AntibodyTest(BaseModel):
    """An AQP4-IgG or MOG-IgG test result."""

    model_config = _STRICT
    date: IsoDate = Field(description="Date of the test.")
    antibody: Literal["aqp4_igg", "mog_igg"] = Field(description="Antibody tested: AQP4-IgG or MOG-IgG.")
    method: Literal["cba", "elisa", "tissue_iif", "other"] = Field(
        description="Assay: cell-based assay, ELISA, tissue indirect immunofluorescence, other."
    )
    result: Literal["positive", "negative", "equivocal"] = Field(description="Result of the test.")
    titer: str | None = Field(default=None, description="Titer as reported, e.g. 1:1000 (text).")


class Medication(BaseModel):
    """A medication course; ``end_date`` None means ongoing. A rituximab infusion is one entry."""

    model_config = _STRICT
    name: str = Field(min_length=1, description="Drug name as prescribed.")
    drug_class: DrugClass = Field(description="Class of the drug, which the criteria use.")
    route: Route | None = Field(default=None, description="Route of administration.")
    start_date: IsoDate = Field(description="First day of the course; for rituximab, the infusion date.")
    end_date: IsoDate | None = Field(
        default=None, description="Last day of the course; null means ongoing (or a single infusion)."
    )

    @field_validator("end_date")
    @classmethod
    def _end_not_before_start(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start_date")
        if end is not None and start is not None and end < start:
            raise ValueError(f"{end.isoformat()} is before start_date {start.isoformat()}; correct the dates")
        return end


class Condition(BaseModel):
    """A medical-history item; ``active``, ``severe``, ``controlled`` may be unknown (null)."""

    model_config = _STRICT
    name: str = Field(min_length=1, description="The condition as recorded in the history.")
    category: ConditionCategory = Field(description="Category, which the criteria use.")
    onset_date: IsoDate | None = Field(default=None, description="Onset date; null when unknown.")
    active: bool | None = Field(default=None, description="Active at screening; null when unknown.")
    severe: bool | None = Field(default=None, description="Severe; null when unknown.")
    controlled: bool | None = Field(default=None, description="Controlled by treatment; null when unknown.")


class Lab(BaseModel):
    """A laboratory result: numeric (value, unit, upper_limit) or qualitative (result)."""

    model_config = _STRICT
    date: IsoDate = Field(description="Date the sample was taken.")
    test: NumericTest | QualitativeTest = Field(
        description="Numeric (creatinine, alt, ast, total_bilirubin) or qualitative (the others) test."
    )
    value: float | None = Field(default=None, description="Numeric tests: the result, 0 or more.")
    unit: str | None = Field(default=None, description="Numeric tests: the unit of value and upper_limit.")
    upper_limit: float | None = Field(
        default=None, description="Numeric tests: the laboratory's upper limit of normal, in the same unit."
    )
    result: PosNeg | None = Field(default=None, description="Qualitative tests: positive or negative.")

    @model_validator(mode="after")
    def _fields_fit_the_test(self) -> Lab:
        """One pass over the test-dependent fields; each problem names its own field."""
        test = self.test
        if test in NUMERIC_TESTS:
            if self.value is None:
                raise FieldError("value", f"{test} needs a numeric value; give the number")
            if self.value < 0:
                raise FieldError("value", f"{self.value!r} is negative; a {test} result is 0 or more")
            if self.unit is None:
                accepted = unit_message(test, "").split("; ")[-1]
                raise FieldError("unit", f"{test} needs a unit; {accepted}")
            try:
                check_unit(test, self.unit)
            except UnitError as exc:
                raise FieldError("unit", str(exc)) from None
            if self.upper_limit is not None and self.upper_limit <= 0:
                raise FieldError(
                    "upper_limit", f"{self.upper_limit!r} is not a usable upper limit of normal; give it > 0"
                )
            if self.result is not None:
                raise FieldError("result", f"{test} is numeric; give value and unit, result null")
            return self
        if self.value is not None:
            raise FieldError("value", f"{test} is qualitative; put positive/negative in result, value null")
        if self.unit is not None:
            raise FieldError("unit", f"{test} is qualitative and has no unit; write null")
        if self.upper_limit is not None:
            raise FieldError("upper_limit", f"{test} is qualitative and has no upper limit; write null")
        if self.result is None:
            raise FieldError("result", f"{test} needs a result; write positive or negative")
        return self


class PregnancyTest(BaseModel):
    """A urine or serum pregnancy test."""

    model_config = _STRICT
    date: IsoDate = Field(description="Date of the test.")
    specimen: Literal["urine", "serum"] = Field(description="Specimen tested.")
    result: PosNeg = Field(description="Result of the test.")


class Ecg(BaseModel):
    """An ECG's corrected QT interval."""

    model_config = _STRICT
    date: IsoDate = Field(description="Date of the ECG.")
    qtc_ms: float = Field(gt=0, lt=1000, description="Corrected QT interval in milliseconds.")
    correction: Literal["fridericia", "bazett", "other"] | None = Field(
        default=None, description="QT correction formula; null when not stated."
    )


class TcellProliferation(BaseModel):
    """Fold expansion of the candidate's T cells under CD3/CD28 co-stimulation."""

    model_config = _STRICT
    date: IsoDate = Field(description="Date of the assay.")
    fold_expansion: float = Field(ge=0, description="Fold expansion of the T cells (a ratio, no unit).")


class Investigator(BaseModel):
    """The investigator's attestations (each may be unknown) and free-text notes."""

    model_config = _STRICT
    survival_over_12_weeks: bool | None = Field(
        default=None, description="Investigator's estimate that survival exceeds 12 weeks."
    )
    uncontrolled_disease: bool | None = Field(
        default=None,
        description="Investigator judges a disease uncontrolled that makes the candidate unsuitable.",
    )
    other_risk: bool | None = Field(
        default=None, description="Investigator judges another condition makes participation unsafe."
    )
    notes: str | None = Field(default=None, description="Free-text notes.")


_WOMEN_ONLY = ("childbearing_potential", "pregnant", "lactating")


class ScreeningRecord(BaseModel):
    """One candidate's screening record (eligibility spec section 1)."""

    model_config = _STRICT
    candidate_id: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Screening number (1-64 of A-Za-z0-9._-), never a name.",
    )
    screening_date: IsoDate = Field(description="The reference date unless an as-of date is given.")
    planned_treatment_date: IsoDate | None = Field(default=None, description="Planned CAR-T infusion date.")
    sex: Sex = Field(description="Sex at birth.")
    birth_date: IsoDate | None = Field(default=None, description="Date of birth.")
    childbearing_potential: bool | None = Field(
        default=None, description="Women only: of childbearing potential."
    )
    pregnant: bool | None = Field(default=None, description="Women only: pregnant.")
    lactating: bool | None = Field(default=None, description="Women only: lactating.")
    contraception_agreed: bool | None = Field(
        default=None, description="Agrees to effective contraception until the last follow-up."
    )
    disease_onset_date: IsoDate | None = Field(default=None, description="Onset of the first NMOSD attack.")
    alternative_diagnoses_excluded: bool | None = Field(
        default=None, description="Investigator attests that alternative diagnoses were excluded."
    )
    attacks: tuple[Attack, ...] | None = Field(default=None, description="Clinical attacks.")
    antibody_tests: tuple[AntibodyTest, ...] | None = Field(
        default=None, description="AQP4-IgG and MOG-IgG tests."
    )
    medications: tuple[Medication, ...] | None = Field(default=None, description="Medication courses.")
    conditions: tuple[Condition, ...] | None = Field(default=None, description="Medical history.")
    labs: tuple[Lab, ...] | None = Field(default=None, description="Laboratory results.")
    pregnancy_tests: tuple[PregnancyTest, ...] | None = Field(default=None, description="Pregnancy tests.")
    ecgs: tuple[Ecg, ...] | None = Field(default=None, description="ECGs (corrected QT).")
    tcell_proliferation: tuple[TcellProliferation, ...] | None = Field(
        default=None, description="T-cell proliferation assays under CD3/CD28 co-stimulation."
    )
    investigator: Investigator | None = Field(default=None, description="The investigator's attestations.")

    @field_validator(*_WOMEN_ONLY)
    @classmethod
    def _women_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is True and info.data.get("sex") == "male":
            raise ValueError(f"{info.field_name} is true for a male candidate; check sex or write null")
        return value

    @field_validator("birth_date")
    @classmethod
    def _born_before_screening(cls, born: dt.date | None, info: ValidationInfo) -> dt.date | None:
        screened = info.data.get("screening_date")
        if born is not None and screened is not None and born > screened:
            raise ValueError(f"{born.isoformat()} is after screening_date {screened.isoformat()}; correct it")
        return born


def parse_record(data: bytes | str) -> ScreeningRecord:
    """Validate one screening record from JSON text; raise :class:`RecordError` naming every problem."""
    return parse_json_record(ScreeningRecord, data, "candidate_id")


def check_reference_date(record: ScreeningRecord, as_of: dt.date | None) -> None:
    """Reject an ``--as-of`` date before the candidate's birth (never an age below 0).

    The record's own ``screening_date`` is checked by the model; this covers an explicit
    reference date given for the whole batch.
    """
    born = record.birth_date
    if as_of is not None and born is not None and as_of < born:
        raise RecordError(
            [
                f"birth_date: {born.isoformat()} is after the as-of date {as_of.isoformat()}; "
                "give an as-of date on or after the birth date, or correct birth_date"
            ],
            record.candidate_id,
        )
