"""The intake's fast paths give what the plain ones give: bulk counting, lazy tie-breaks, lines."""

from __future__ import annotations

import datetime as dt

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.fhir import intake as intake_module
from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.intake import ResourceOutcome, build_patient
from nmocart.fhir.output import IntakeTally, OutcomeCounter, record_line, sources_line
from nmocart.fhir.resources import Origin, Resource
from nmocart.screening.record import parse_record

CODES = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2"]), st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["", "a", "b"])
    ),
    max_size=3,
).map(tuple)
OUTCOMES = st.lists(
    st.builds(
        ResourceOutcome,
        st.sampled_from(["Observation", "Condition", "Procedure"]),
        st.sampled_from(["Observation/1", "Condition/2"]),
        st.sampled_from(["used", "unmapped", "ignored"]),
        st.sampled_from(["", "status:final", "type_not_read"]),
        CODES,
        st.just(Origin("f.ndjson", 1, "")),
    ),
    max_size=40,
)


@given(OUTCOMES, st.integers(1, 5))
@settings(max_examples=80, deadline=None)
def test_counting_in_bulk_equals_counting_one_by_one(outcomes: list[ResourceOutcome], chunks: int) -> None:
    one_by_one = IntakeTally()
    for outcome in outcomes:
        one_by_one.add_outcome(outcome)
    bulk = IntakeTally()
    counter = OutcomeCounter()
    for start in range(chunks):
        counter.add(outcomes[start::chunks])
        counter.add_to(bulk)
    assert bulk.coverage_rows() == one_by_one.coverage_rows()
    assert bulk.unmapped_codes() == one_by_one.unmapped_codes()
    assert not counter.counts


def test_add_counted_is_add_outcome_repeated() -> None:
    outcome = ResourceOutcome("Procedure", "", "ignored", "type_not_read", (), Origin("", 0, ""))
    repeated = IntakeTally()
    for _ in range(7):
        repeated.add_outcome(outcome)
    counted = IntakeTally()
    counted.add_counted("Procedure", "ignored", "type_not_read", (), 7)
    assert counted.coverage_rows() == repeated.coverage_rows()


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30))
@settings(max_examples=100, deadline=None)
def test_lazy_tiebreak_sorts_as_one_sort_on_the_pair(items: list[tuple[int, int]]) -> None:
    calls: list[tuple[int, int]] = []

    def tiebreak(item: tuple[int, int]) -> bytes:
        calls.append(item)
        return str(item[1]).encode()

    ordered = intake_module._sorted_with_tiebreak(items, lambda item: item[0], tiebreak)
    assert ordered == sorted(items, key=lambda item: (item[0], str(item[1]).encode()))
    keys = [item[0] for item in items]
    assert len(calls) == sum(1 for item in items if keys.count(item[0]) > 1)


def test_built_patient_carries_the_validated_record_and_its_json_text() -> None:
    body = {"resourceType": "Patient", "id": "P1", "gender": "female", "birthDate": "1990-01-02"}
    patient = Resource("Patient", "Patient/P1", body, Origin("x.ndjson", 1, ""), "P1", None)
    built = build_patient([patient], [], {}, dt.date(2026, 3, 2), load_concept_map())
    assert built.record is not None
    assert built.record_json is not None
    assert built.model is not None
    assert built.record_json == orjson.dumps(built.record)
    assert built.model == parse_record(built.record_json)
    assert record_line(built) == orjson.dumps(built.record) + b"\n"
    assert sources_line(built) == orjson.dumps({"candidate_id": "P1", "sources": built.sources}) + b"\n"
