"""Properties of the population tally: how workers chunk the patients never changes the outputs."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.population.assess import evidence_resources
from nmocart.population.outputs import PopulationTally, worklist_rows

CRITERIA = [("IN1", "inclusion"), ("IN2", "inclusion"), ("EX1", "exclusion"), ("EX2", "exclusion")]
WORDS = {
    "inclusion": ["met", "not_met", "unknown", "not_applicable"],
    "exclusion": ["absent", "present", "unknown"],
}


@st.composite
def results(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 25))
    out = []
    for number in range(count):
        criteria = [
            {"id": cid, "kind": kind, "text": f"{cid} text", "verdict": draw(st.sampled_from(WORDS[kind]))}
            for cid, kind in CRITERIA
        ]
        verdicts = [c["verdict"] for c in criteria]
        if any(v in ("not_met", "present") for v in verdicts):
            decision = "ineligible"
        elif "unknown" in verdicts:
            decision = "incomplete"
        else:
            decision = "eligible"
        missing = [f"data for {c['id']}" for c in criteria if c["verdict"] == "unknown"]
        out.append(
            {"candidate_id": f"P{number:03d}", "decision": decision, "criteria": criteria, "missing": missing}
        )
    return out


def _tally(items: list[dict[str, Any]]) -> PopulationTally:
    tally = PopulationTally()
    for item in items:
        tally.add(item["candidate_id"], None, item)
    return tally


@given(results(), st.lists(st.integers(0, 25), max_size=4))
@settings(max_examples=60, deadline=None)
def test_chunked_and_merged_equals_one_pass(items: list[dict[str, Any]], cuts: list[int]) -> None:
    bounds = sorted({0, len(items), *(min(c, len(items)) for c in cuts)})
    merged = PopulationTally()
    for start, end in pairwise(bounds):
        merged.merge(_tally(items[start:end]))
    whole = _tally(items)
    if items:
        assert merged.attrition_rows() == whole.attrition_rows()
    assert worklist_rows(merged) == worklist_rows(whole)


@given(results())
@settings(max_examples=60, deadline=None)
def test_attrition_remaining_is_patients_without_an_excluding_verdict_so_far(
    items: list[dict[str, Any]],
) -> None:
    if not items:
        return
    rows = _tally(items).attrition_rows()
    for step, (cid, _) in enumerate(CRITERIA, start=1):
        seen = [c for c, _ in CRITERIA[:step]]
        alive = [
            r
            for r in items
            if not any(c["verdict"] in ("not_met", "present") for c in r["criteria"] if c["id"] in seen)
        ]
        assert rows[step]["criterion"] == cid
        assert rows[step]["remaining"] == len(alive)
    assert rows[-1]["remaining"] == sum(1 for r in items if r["decision"] != "ineligible")


def test_evidence_pointer_maps_to_its_sources_or_everything_under_it() -> None:
    sources = {
        "/labs/0": ["Observation/b"],
        "/labs/1": ["Observation/a"],
        "/investigator/notes": ["QuestionnaireResponse/f"],
        "/birth_date": ["Patient/p"],
    }
    mapped = evidence_resources(["/labs/1", "/labs", "/investigator", "/birth_date", "/ecgs"], sources)
    assert mapped == {
        "/labs/1": ["Observation/a"],
        "/labs": ["Observation/a", "Observation/b"],
        "/investigator": ["QuestionnaireResponse/f"],
        "/birth_date": ["Patient/p"],
        "/ecgs": [],
    }
