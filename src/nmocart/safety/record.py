"""The safety record (safety spec section 1): strict, frozen pydantic models validated from JSON.

A null section means "not collected" and stays unknown downstream; an empty list means
"collected, nothing to report". Every input error names the field path and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from nmocart.kernel.dates import LAST_DAY
from nmocart.kernel.iso_date import IsoDate
from nmocart.kernel.units import ANALYTE_UNITS, check_unit


class _Strict(BaseModel):
    """Strict, frozen, no unknown fields: the base of every safety model."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


Oxygen = Literal[
    "none",
    "blow_by",
    "nasal_cannula",
    "facemask",
    "non_rebreather",
    "venturi",
    "cpap",
    "bipap",
    "mechanical_ventilation",
]
Consciousness = Literal[
    "alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_touch", "unarousable"
]
Seizure = Literal[
    "none", "resolved_rapidly", "nonconvulsive_resolved_with_intervention", "prolonged_or_repetitive"
]
Motor = Literal["none", "deep_focal_weakness"]
CerebralEdema = Literal["none", "focal", "diffuse"]
LabTest = Literal[
    "anc",
    "platelets",
    "hemoglobin",
    "lymphocytes",
    "wbc",
    "alt",
    "ast",
    "total_bilirubin",
    "creatinine",
    "igg",
]
Relatedness = Literal["not_related", "unlikely", "possible", "probable", "definite"]
AeOutcome = Literal["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"]
SubjectId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class CrsAssessment(_Strict):
    """One day's CRS findings (ASTCT): maximum temperature, hypotension support, oxygen."""

    date: IsoDate
    temperature_c: Annotated[float, Field(ge=25, le=45, description="The day's maximum, degrees C.")]
    hypotension: bool
    vasopressors: Annotated[
        int,
        Field(ge=0, le=10, description="Vasopressors other than vasopressin; 0 when fluid-responsive."),
    ]
    oxygen: Oxygen
    oxygen_flow_l_min: (
        Annotated[float, Field(ge=0, le=100, description="Flow in L/min; required with nasal_cannula.")]
        | None
    )
    anticytokine_given: bool = Field(
        description="Tocilizumab or corticosteroids for CRS were given before this day."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CrsAssessment:
        """A nasal cannula needs its flow (it decides grade 2 or 3); pressors imply hypotension."""
        if self.oxygen == "nasal_cannula" and self.oxygen_flow_l_min is None:
            _fail(
                ("oxygen_flow_l_min",),
                "null with oxygen 'nasal_cannula'; give the flow in L/min (<= 6 grades 2, above 6 grades 3)",
                None,
            )
        if self.vasopressors > 0 and not self.hypotension:
            _fail(
                ("vasopressors",),
                f"{self.vasopressors} with hypotension false; set hypotension true or vasopressors 0",
                self.vasopressors,
            )
        return self


class IceScore(_Strict):
    """The five items of the Immune effector Cell-associated Encephalopathy score."""

    orientation: Annotated[int, Field(ge=0, le=4)]
    naming: Annotated[int, Field(ge=0, le=3)]
    commands: Annotated[int, Field(ge=0, le=1)]
    writing: Annotated[int, Field(ge=0, le=1)]
    attention: Annotated[int, Field(ge=0, le=1)]

    @property
    def total(self) -> int:
        """The ICE score, 0-10."""
        return self.orientation + self.naming + self.commands + self.writing + self.attention


class IcansAssessment(_Strict):
    """One day's ICANS findings (ASTCT); ``ice`` null means the ICE test was not done."""

    date: IsoDate
    ice: IceScore | None = Field(description="The ICE items; null when the ICE test was not done.")
    consciousness: Consciousness
    seizure: Seizure
    motor: Motor
    cerebral_edema: CerebralEdema


class LabResult(_Strict):
    """One laboratory result in its own unit, with the lab's limits in that unit (or null)."""

    date: IsoDate
    test: LabTest
    value: Annotated[float, Field(ge=0)]
    unit: str = Field(
        description="Counts 10^9/L, 10^3/uL or /uL; hemoglobin g/dL or g/L; creatinine and bilirubin "
        "mg/dL, umol/L or µmol/L; ALT/AST U/L; IgG mg/dL or g/L."
    )
    lower_limit: Annotated[float, Field(gt=0, description="LLN in the result's own unit, > 0.")] | None
    upper_limit: Annotated[float, Field(gt=0, description="ULN in the result's own unit, > 0.")] | None

    @model_validator(mode="after")
    def _unit_known(self) -> LabResult:
        """Any unit other than the accepted spellings for the test is an input error.

        The safety spec lists only U/L for ALT and AST (the eligibility spec also takes IU/L).
        """
        if (self.test, self.unit) not in _ACCEPTED_UNITS:  # one set lookup on the hot path
            if self.test in SAFETY_UNITS and self.unit not in SAFETY_UNITS[self.test]:
                accepted = " or ".join(SAFETY_UNITS[self.test])
                _fail(
                    ("unit",), f"{self.unit!r} is not a unit for {self.test} here; use {accepted}", self.unit
                )
            try:
                check_unit(self.test, self.unit)
            except ValueError as exc:
                _fail(("unit",), str(exc), self.unit)
        low, high = self.lower_limit, self.upper_limit
        if low is not None and high is not None and low >= high:
            _fail(
                ("lower_limit",),
                f"{low!r} is not below upper_limit {high!r}; correct the reference range",
                low,
            )
        return self


SAFETY_UNITS: dict[str, tuple[str, ...]] = {"alt": ("U/L",), "ast": ("U/L",)}
"""Tests whose accepted units the safety spec narrows (section 1: 'ALT/AST in U/L')."""

_ACCEPTED_UNITS: frozenset[tuple[str, str]] = frozenset(
    (test, unit)
    for test in get_args(LabTest)
    for unit in SAFETY_UNITS.get(test, tuple(ANALYTE_UNITS[test].to_canonical))
    if unit in ANALYTE_UNITS[test].to_canonical
)
"""Every (test, unit) pair a result may carry: the shared unit table, narrowed by the safety spec."""


class AdverseEvent(_Strict):
    """An adverse event as reported by the investigator."""

    term: Annotated[str, Field(min_length=1, max_length=200)]
    start_date: IsoDate
    end_date: IsoDate | None
    grade: Annotated[int, Field(ge=1, le=5)]
    serious: bool
    related_to_cart: Relatedness
    outcome: AeOutcome

    @model_validator(mode="after")
    def _ordered(self) -> AdverseEvent:
        """An event cannot end before it starts."""
        if self.end_date is not None and self.end_date < self.start_date:
            _fail(
                ("end_date",),
                f"{self.end_date} is before start_date {self.start_date}; correct either date",
                self.end_date.isoformat(),
            )
        return self


class SafetyRecord(_Strict):
    """One treated subject's safety data (safety spec section 1)."""

    subject_id: SubjectId
    sex: Literal["female", "male"]
    infusion_date: IsoDate = Field(description="Date of CAR-T infusion: study day 0.")
    lymphodepletion_start_date: IsoDate | None
    crs_assessments: list[CrsAssessment] | None = Field(
        description="One per day from day 0; null when not collected."
    )
    icans_assessments: list[IcansAssessment] | None = Field(
        description="One per day from day 0; null when not collected."
    )
    labs: list[LabResult] | None = Field(description="Null when not collected.")
    adverse_events: list[AdverseEvent] | None = Field(description="Null when not collected.")

    @model_validator(mode="after")
    def _dates(self) -> SafetyRecord:
        """Lymphodepletion precedes infusion; CRS/ICANS are assessed from day 0, once a day."""
        problems: list[InitErrorDetails] = []
        if self.infusion_date >= LAST_DAY:
            problems.append(
                _detail(
                    ("infusion_date",),
                    f"{self.infusion_date} is the calendar's last day; grading needs the days after "
                    "the infusion, correct the date",
                    self.infusion_date.isoformat(),
                )
            )
        ld = self.lymphodepletion_start_date
        if ld is not None and ld > self.infusion_date:
            problems.append(
                _detail(
                    ("lymphodepletion_start_date",),
                    f"{ld} is after infusion_date {self.infusion_date}; lymphodepletion starts "
                    "before the infusion, correct either date",
                    ld.isoformat(),
                )
            )
        assessed: tuple[tuple[str, Sequence[CrsAssessment | IcansAssessment]], ...] = (
            ("crs_assessments", self.crs_assessments or ()),
            ("icans_assessments", self.icans_assessments or ()),
        )
        for name, items in assessed:
            seen: dict[dt.date, int] = {}
            for index, item in enumerate(items):
                if item.date < self.infusion_date:
                    problems.append(
                        _detail(
                            (name, index, "date"),
                            f"{item.date} is before infusion_date {self.infusion_date}; "
                            "assessments start on the infusion day (day 0), correct the date",
                            item.date.isoformat(),
                        )
                    )
                elif item.date in seen:
                    problems.append(
                        _detail(
                            (name, index, "date"),
                            f"{item.date} is already assessed at {name}[{seen[item.date]}]; "
                            "give one assessment per day (the day's worst findings)",
                            item.date.isoformat(),
                        )
                    )
                else:
                    seen[item.date] = index
        if problems:
            raise ValidationError.from_exception_data("SafetyRecord", problems)
        return self


def _detail(loc: tuple[str | int, ...], message: str, given: object) -> InitErrorDetails:
    """A validation error at ``loc`` whose message is shown as written."""
    return InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=given)


def _fail(loc: tuple[str | int, ...], message: str, given: object) -> None:
    """Raise a validation error at ``loc`` (relative to the model being validated)."""
    raise ValidationError.from_exception_data("SafetyRecord", [_detail(loc, message, given)])
