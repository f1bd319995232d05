"""Bad input gives one clear line per problem: the field path, what is wrong, and the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nmocart.screening.record import RecordError, parse_record

from .builders import base, lab


def _problems(record: dict[str, Any] | str) -> list[str]:
    text = record if isinstance(record, str) else json.dumps(record)
    with pytest.raises(RecordError) as caught:
        parse_record(text)
    return caught.value.problems


def test_malformed_json() -> None:
    problems = _problems('{"candidate_id": "A1", ')
    assert problems[0].startswith("(record): Invalid JSON")
    assert "fix the JSON syntax" in problems[0]


def test_not_an_object() -> None:
    assert _problems("[1, 2]") == ["(record): Input should be an object (got list); write a JSON object"]


def test_unsupported_unit_names_field_and_fix() -> None:
    record = base()
    record["labs"][0]["unit"] = "mmol/L"
    assert _problems(record) == [
        "labs[0].unit: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L"
    ]


def test_unit_missing_for_numeric_lab() -> None:
    record = base()
    record["labs"][1]["unit"] = None
    assert _problems(record) == ["labs[1].unit: alt needs a unit; use U/L or IU/L"]


def test_qualitative_lab_needs_result() -> None:
    record = base()
    record["labs"].append(lab("hbsag", "2026-02-24"))
    assert _problems(record) == ["labs[9].result: hbsag needs a result; write positive or negative"]


def test_wrong_type() -> None:
    record = base()
    record["ecgs"][0]["qtc_ms"] = "431"
    assert _problems(record) == ["ecgs[0].qtc_ms: Input should be a valid number (got '431'); write a number"]


def test_bool_as_string_is_rejected() -> None:
    record = base()
    record["pregnant"] = "no"
    assert _problems(record)[0].startswith("pregnant: Input should be a valid boolean")


def test_unknown_vocabulary_word() -> None:
    record = base()
    record["attacks"][0]["syndromes"][0]["type"] = "transverse_myelitis"
    problem = _problems(record)[0]
    assert problem.startswith("attacks[0].syndromes[0].type: 'transverse_myelitis' is not one of the allowed")
    assert "'acute_myelitis'" in problem


@pytest.mark.parametrize("date", ["2026-02-30", "2025-02-29", "2026-13-01", "02/03/2026"])
def test_impossible_dates(date: str) -> None:
    record = base()
    record["screening_date"] = date
    problem = _problems(record)[0]
    assert problem.startswith("screening_date: ")
    assert "YYYY-MM-DD" in problem


def test_missing_required_fields_are_all_named() -> None:
    record = base()
    del record["sex"]
    del record["candidate_id"]
    assert _problems(record) == [
        "candidate_id: required field is missing; add it",
        "sex: required field is missing; add it",
    ]


def test_unknown_field_is_rejected() -> None:
    record = base()
    record["labz"] = []
    assert _problems(record)[0].startswith("labz: Extra inputs are not permitted")


def test_candidate_id_characters() -> None:
    record = base()
    record["candidate_id"] = "Jane Doe"
    assert _problems(record)[0].startswith("candidate_id: String should match pattern")


def test_end_before_start() -> None:
    record = base()
    record["medications"][0]["end_date"] = "2025-10-01"
    assert _problems(record) == [
        "medications[0].end_date: 2025-10-01 is before start_date 2025-10-28; correct the dates"
    ]


def test_women_only_flags_on_a_man() -> None:
    record = base()
    record["pregnant"] = True
    assert _problems(record) == ["pregnant: pregnant is true for a male candidate; check sex or write null"]


def test_attack_needs_a_syndrome() -> None:
    record = base()
    record["attacks"][0]["syndromes"] = []
    assert _problems(record)[0].startswith("attacks[0].syndromes: ")


def test_readable_id_is_reported() -> None:
    record = base()
    record["sex"] = "x"
    with pytest.raises(RecordError) as caught:
        parse_record(json.dumps(record))
    assert caught.value.record_id == "SCR-0001"


@pytest.mark.parametrize("number", ["NaN", "Infinity"])
def test_non_finite_numbers_are_rejected(number: str) -> None:
    text = json.dumps(base()).replace('"qtc_ms": 431', f'"qtc_ms": {number}')
    assert _problems(text)[0].startswith("ecgs[0].qtc_ms")


@pytest.mark.parametrize("text", ["0", "86400", "19850312", "1985-3-12", "12/03/1985", "1985-03-12T00:00:00"])
def test_a_date_spelled_other_than_yyyy_mm_dd_is_refused_never_read_as_unix_seconds(text: str) -> None:
    record = base()
    record["birth_date"] = text
    (problem,) = _problems(record)
    assert problem.startswith("birth_date: ")
    assert "write YYYY-MM-DD" in problem
