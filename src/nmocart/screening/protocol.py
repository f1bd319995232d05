"""The versioned protocol definition: criteria (id, kind, verbatim text) and parameters.

Protocol parameters are data, not constants in code: the default definition ships in
the package (``data/protocol_v1.json``) and a site or amendment passes another file.
Every result records the protocol id, version and the SHA-256 of its parameters.
"""

from __future__ import annotations

import hashlib
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nmocart.kernel.errors import FieldError, RecordError, parse_json_record

CRITERION_ORDER = tuple(f"IN{i}" for i in range(1, 8)) + tuple(f"EX{i}" for i in range(1, 13))
"""The 19 criteria in the order results list them."""

DEFAULT_PROTOCOL_RESOURCE = "protocol_v1.json"

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


MAX_AGE = 150
"""Ages above this are not ages (sane-range check on a protocol file)."""
MAX_WINDOW_DAYS = 36_525
"""Day windows longer than 100 years are an entry error in a protocol file."""
MAX_WINDOW_MONTHS = 1_200
"""Month windows longer than 100 years are an entry error in a protocol file."""
MAX_RELAPSES = 100
"""Relapse counts above this are an entry error in a protocol file."""


class QtcLimits(BaseModel):
    """QTc above which the interval is prolonged, by sex at birth (ms)."""

    model_config = _STRICT
    female: int = Field(ge=200, le=1000)
    male: int = Field(ge=200, le=1000)


class Parameters(BaseModel):
    """Every number of the eligibility specification, named (spec section 3 and section 4)."""

    model_config = _STRICT
    age_min: int = Field(ge=0, le=MAX_AGE, description="Youngest eligible age, completed years, inclusive.")
    age_max: int = Field(ge=0, le=MAX_AGE, description="Oldest eligible age, completed years, inclusive.")
    screening_window_days: int = Field(
        ge=0,
        le=MAX_WINDOW_DAYS,
        description="Labs, ECGs and pregnancy tests count if dated in [ref - n d, ref].",
    )
    relapse_merge_days: int = Field(
        ge=0,
        le=MAX_WINDOW_DAYS,
        description="An attack this many days or fewer after the previous counted one merges.",
    )
    steroid_washout_days: int = Field(
        ge=0, le=MAX_WINDOW_DAYS, description="Systemic corticosteroids in [T - n d, T] exclude (EX6)."
    )
    rituximab_coverage_days: int = Field(
        ge=0,
        le=MAX_WINDOW_DAYS,
        description="A rituximab infusion covers its date through n days later (IN4).",
    )
    qtc_limit_ms: QtcLimits = Field(description="QTc strictly above this is prolonged (EX2).")
    tcell_min_fold: float = Field(gt=0, le=1e6, description="Fold expansion below this excludes (EX8).")
    creatinine_max_mg_dl: float = Field(gt=0, le=100, description="Creatinine strictly above excludes.")
    bilirubin_max_mg_dl: float = Field(gt=0, le=100, description="Total bilirubin strictly above excludes.")
    transaminase_max_x_uln: float = Field(gt=0, le=1000, description="ALT or AST strictly above n x ULN.")
    first_attack_window_days: int = Field(
        ge=0,
        le=MAX_WINDOW_DAYS,
        description="The attack within n days of disease onset is the first attack (IN5).",
    )
    relapse_short_window_months: int = Field(
        gt=0, le=MAX_WINDOW_MONTHS, description="IN5's short window (months)."
    )
    relapse_long_window_months: int = Field(
        gt=0, le=MAX_WINDOW_MONTHS, description="IN5's long window (months)."
    )
    relapses_short_min: int = Field(
        ge=0, le=MAX_RELAPSES, description="Relapses in the short window that suffice."
    )
    relapses_long_min: int = Field(
        ge=0, le=MAX_RELAPSES, description="Relapses in the long window that suffice."
    )
    relapses_short_required: int = Field(
        ge=0, le=MAX_RELAPSES, description="Relapses in the short window that are always required."
    )

    @model_validator(mode="after")
    def _ages_ordered(self) -> Parameters:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min {self.age_min} is above age_max {self.age_max}; swap them")
        return self

    def sha256(self) -> str:
        """SHA-256 of the parameters as canonical JSON (sorted keys, no spaces)."""
        return _parameters_sha256(self)


@lru_cache(maxsize=64)
def _parameters_sha256(parameters: Parameters) -> str:
    """Computed once per (frozen, hashable) parameter set: results stamp it on every record."""
    canonical = orjson.dumps(parameters.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class Criterion(BaseModel):
    """One criterion as the protocol states it."""

    model_config = _STRICT
    id: str = Field(pattern=r"^(IN[1-7]|EX([1-9]|1[0-2]))$")
    kind: Literal["inclusion", "exclusion"]
    text: str = Field(min_length=1, description="The protocol's words, verbatim.")


class Protocol(BaseModel):
    """A versioned protocol definition: identity, the 19 criteria and the parameters."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    title: str = ""
    registry: str = ""
    source: str = ""
    criteria: tuple[Criterion, ...]
    parameters: Parameters
    parameters_sha256: str | None = Field(
        default=None,
        description="Optional: when given, must equal the SHA-256 of the parameters (as printed by "
        "`nmocart protocol show`); a check that the parameters are the ones intended.",
    )

    @model_validator(mode="after")
    def _all_criteria_in_order(self) -> Protocol:
        ids = tuple(c.id for c in self.criteria)
        if ids != CRITERION_ORDER:
            raise ValueError(
                "criteria must be exactly IN1..IN7 then EX1..EX12 in that order; got " + ", ".join(ids)
            )
        for c in self.criteria:
            expected = "inclusion" if c.id.startswith("IN") else "exclusion"
            if c.kind != expected:
                raise ValueError(f"criterion {c.id} must have kind {expected!r}")
        stated, actual = self.parameters_sha256, self.parameters.sha256()
        if stated is not None and stated != actual:
            raise FieldError(
                "parameters_sha256",
                f"{stated!r} does not match the parameters (their SHA-256 is {actual}); the "
                "parameters were changed after the hash was taken: check them, then correct or "
                "remove parameters_sha256",
            )
        return self

    def criterion(self, criterion_id: str) -> Criterion:
        """The criterion with this id."""
        return self.criteria[CRITERION_ORDER.index(criterion_id)]

    @cached_property
    def stamp(self) -> dict[str, str]:
        """What every result records of the protocol: id, version, parameters' SHA-256."""
        return {
            "id": self.id,
            "version": self.version,
            "parameters_sha256": self.parameters.sha256(),
        }


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message says where and how to fix it."""


def parse_protocol(data: bytes, source: str) -> Protocol:
    """Validate a protocol definition from JSON bytes (a UTF-8 BOM is accepted)."""
    try:
        record = parse_json_record(Protocol, data, "id")
    except RecordError as exc:
        raise ProtocolError(f"{source}: " + f"\n{source}: ".join(exc.problems)) from None
    return record


def default_protocol_bytes() -> bytes:
    """The shipped version-1 definition, byte for byte."""
    return (resources.files("nmocart") / "data" / DEFAULT_PROTOCOL_RESOURCE).read_bytes()


def load_protocol(path: Path | None = None) -> Protocol:
    """The protocol in ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        return parse_protocol(default_protocol_bytes(), DEFAULT_PROTOCOL_RESOURCE)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read the protocol file: {exc.strerror}") from None
    return parse_protocol(data, str(path))
