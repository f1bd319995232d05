from __future__ import annotations

from typing import Any

import orjson
import pytest

from nmocart.batch.safety import parse_record
from nmocart.kernel.errors import RecordError
from nmocart.safety.record import SafetyRecord

from .helpers import crs_item, day, icans_item, ice, lab_item, record_dict


def errors(**over: Any) -> list[str]:
    with pytest.raises(RecordError) as info:
        parse_record(orjson.dumps(record_dict(**over)))
    return info.value.problems


def test_valid_record_parses_and_keeps_null_sections_unknown() -> None:
    rec = parse_record(orjson.dumps(record_dict(crs_assessments=None, labs=None)))
    assert rec.crs_assessments is None
    assert rec.labs is None
    assert rec.icans_assessments == []


def test_iu_per_litre_is_not_a_safety_unit_for_transaminases() -> None:
    for test in ("alt", "ast"):
        problems = errors(labs=[lab_item(test, 50, "IU/L")])
        assert problems == [f"labs[0].unit: 'IU/L' is not a unit for {test} here; use U/L"]


def test_unknown_unit_names_field_and_accepted_units() -> None:
    problems = errors(labs=[lab_item("creatinine", 80, "mmol/L")])
    assert problems == ["labs[0].unit: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L"]
    problems = errors(labs=[lab_item("anc", 1.0, "10^6/L")])
    assert problems[0].startswith("labs[0].unit: '10^6/L' is not a unit for anc; use 10^9/L")


def test_nasal_cannula_without_flow() -> None:
    problems = errors(crs_assessments=[crs_item(oxygen="nasal_cannula")])
    assert len(problems) == 1
    assert problems[0].startswith("crs_assessments[0].oxygen_flow_l_min: null with oxygen 'nasal_cannula'")
    assert "give the flow" in problems[0]


def test_vasopressors_without_hypotension() -> None:
    problems = errors(crs_assessments=[crs_item(vasopressors=1)])
    assert problems[0].startswith("crs_assessments[0].vasopressors: 1 with hypotension false")


def test_ice_item_out_of_range() -> None:
    bad = ice(10) | {"orientation": 5}
    problems = errors(icans_assessments=[icans_item(ice=bad)])
    assert len(problems) == 1
    assert problems[0].startswith("icans_assessments[0].ice.orientation:")
    assert "4" in problems[0]
    bad = ice(10) | {"commands": -1}
    assert errors(icans_assessments=[icans_item(ice=bad)])[0].startswith("icans_assessments[0].ice.commands:")


@pytest.mark.parametrize("section", ["crs_assessments", "icans_assessments"])
def test_assessment_before_infusion_is_an_error(section: str) -> None:
    make = crs_item if section == "crs_assessments" else icans_item
    problems = errors(**{section: [make(date=day(0)), make(date=day(-1))]})
    assert problems == [
        f"{section}[1].date: {day(-1)} is before infusion_date {day(0)}; "
        "assessments start on the infusion day (day 0), correct the date"
    ]


def test_duplicate_assessment_day_is_an_error() -> None:
    problems = errors(crs_assessments=[crs_item(date=day(2)), crs_item(date=day(2))])
    assert problems[0].startswith("crs_assessments[1].date:")
    assert "crs_assessments[0]" in problems[0]


def test_labs_before_infusion_are_allowed() -> None:
    rec = parse_record(orjson.dumps(record_dict(labs=[lab_item("anc", 2.0, "10^9/L", -7)])))
    assert rec.labs is not None
    assert len(rec.labs) == 1


def test_lymphodepletion_after_infusion_is_an_error() -> None:
    problems = errors(lymphodepletion_start_date=day(1))
    assert problems[0].startswith("lymphodepletion_start_date:")


def test_strict_types_and_extra_fields() -> None:
    assert errors(extra_field=1)[0].startswith("extra_field:")
    assert errors(crs_assessments=[crs_item(hypotension="yes")])[0].startswith(
        "crs_assessments[0].hypotension:"
    )
    assert errors(crs_assessments=[crs_item(vasopressors=1.5, hypotension=True)])[0].startswith(
        "crs_assessments[0].vasopressors:"
    )
    assert errors(infusion_date="2024-02-30")[0].startswith("infusion_date:")
    assert errors(subject_id="bad id")[0].startswith("subject_id:")


def test_ae_end_before_start() -> None:
    ae = {
        "term": "Fatigue",
        "start_date": day(5),
        "end_date": day(3),
        "grade": 1,
        "serious": False,
        "related_to_cart": "possible",
        "outcome": "recovered",
    }
    assert errors(adverse_events=[ae])[0].startswith("adverse_events[0].end_date:")


def test_invalid_json_is_reported_not_raised() -> None:
    with pytest.raises(RecordError) as info:
        parse_record(b"{not json")
    assert info.value.record_id is None
    assert info.value.problems


def test_record_is_frozen_and_schema_exported() -> None:
    rec = parse_record(orjson.dumps(record_dict()))
    with pytest.raises(ValueError, match="frozen"):
        rec.subject_id = "x"  # type: ignore[misc]
    schema = SafetyRecord.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"subject_id", "infusion_date", "labs"}


@pytest.mark.parametrize("text", ["0", "20240115", "2024-1-15"])
def test_a_safety_date_spelled_other_than_yyyy_mm_dd_is_refused(text: str) -> None:
    with pytest.raises(RecordError) as caught:
        parse_record(orjson.dumps(record_dict(infusion_date=text)))
    assert any(p.startswith("infusion_date: ") and "write YYYY-MM-DD" in p for p in caught.value.problems)
