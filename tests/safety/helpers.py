"""Builders of safety records for tests: valid defaults, overridden per test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from nmocart.batch.safety import parse_record
from nmocart.safety.parameters import SafetyParameters, load_parameters
from nmocart.safety.record import CrsAssessment, IcansAssessment, LabResult, SafetyRecord

INFUSION = dt.date(2024, 3, 10)
LD_START = dt.date(2024, 3, 5)
PARAMS: SafetyParameters = load_parameters()


def day(n: int) -> str:
    """The ISO date of study day ``n``."""
    return (INFUSION + dt.timedelta(days=n)).isoformat()


def crs_item(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "date": day(1),
        "temperature_c": 37.0,
        "hypotension": False,
        "vasopressors": 0,
        "oxygen": "none",
        "oxygen_flow_l_min": None,
        "anticytokine_given": False,
    }
    item.update(over)
    return item


def ice(total: int) -> dict[str, int]:
    """ICE items summing to ``total`` (0-10)."""
    items = {"orientation": 0, "naming": 0, "commands": 0, "writing": 0, "attention": 0}
    caps = {"orientation": 4, "naming": 3, "commands": 1, "writing": 1, "attention": 1}
    left = total
    for name, cap in caps.items():
        items[name] = min(cap, left)
        left -= items[name]
    assert left == 0
    return items


def icans_item(**over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "date": day(1),
        "ice": ice(10),
        "consciousness": "alert",
        "seizure": "none",
        "motor": "none",
        "cerebral_edema": "none",
    }
    item.update(over)
    return item


def lab_item(test: str, value: float, unit: str, n: int = 5, **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "date": day(n),
        "test": test,
        "value": value,
        "unit": unit,
        "lower_limit": None,
        "upper_limit": None,
    }
    item.update(over)
    return item


def record_dict(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "subject_id": "S-001",
        "sex": "female",
        "infusion_date": INFUSION.isoformat(),
        "lymphodepletion_start_date": LD_START.isoformat(),
        "crs_assessments": [],
        "icans_assessments": [],
        "labs": [],
        "adverse_events": [],
    }
    rec.update(over)
    return rec


def record(**over: Any) -> SafetyRecord:
    return parse_record(orjson.dumps(record_dict(**over)))


def crs(**over: Any) -> CrsAssessment:
    return CrsAssessment.model_validate_json(orjson.dumps(crs_item(**over)))


def icans(**over: Any) -> IcansAssessment:
    return IcansAssessment.model_validate_json(orjson.dumps(icans_item(**over)))


def lab(test: str, value: float, unit: str, n: int = 5, **over: Any) -> LabResult:
    return LabResult.model_validate_json(orjson.dumps(lab_item(test, value, unit, n, **over)))
