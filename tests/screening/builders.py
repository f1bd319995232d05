"""Record builders for screening tests: start from a spec example and change what the test is about."""

from __future__ import annotations

import copy
import datetime as dt
import json
from functools import cache
from typing import Any

from nmocart.demo import example_bytes
from nmocart.screening.eligibility import ScreeningResult, screen
from nmocart.screening.protocol import Protocol, load_protocol
from nmocart.screening.record import parse_record

REF = dt.date(2026, 3, 2)
"""The examples' screening date."""


@cache
def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(example_bytes(name))
    return loaded


def base(name: str = "eligible") -> dict[str, Any]:
    """A fresh, mutable copy of a shipped example record."""
    return copy.deepcopy(_example(name))


def protocol() -> Protocol:
    """The shipped version-1 protocol."""
    return load_protocol()


def run(record: dict[str, Any], as_of: dt.date | None = None) -> ScreeningResult:
    """Validate ``record`` exactly as the CLI does (from JSON text) and screen it."""
    return screen(parse_record(json.dumps(record)), protocol(), as_of)


def verdict(record: dict[str, Any], criterion: str, as_of: dt.date | None = None) -> str:
    """The verdict of one criterion for ``record``."""
    return next(c.verdict for c in run(record, as_of).criteria if c.id == criterion)


def day(offset: int, ref: dt.date = REF) -> str:
    """ISO date ``offset`` days from the reference date (negative: before)."""
    return (ref + dt.timedelta(days=offset)).isoformat()


def lab(
    test: str,
    date: str,
    value: float | None = None,
    unit: str | None = None,
    upper_limit: float | None = None,
    result: str | None = None,
) -> dict[str, Any]:
    """One lab entry."""
    return {
        "date": date,
        "test": test,
        "value": value,
        "unit": unit,
        "upper_limit": upper_limit,
        "result": result,
    }


def attack(date: str, kind: str = "acute_myelitis", mri: bool | None = True) -> dict[str, Any]:
    """One attack with one syndrome."""
    return {"onset_date": date, "syndromes": [{"type": kind, "mri_requirements_met": mri}]}
