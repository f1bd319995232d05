"""Findings of the independent review of the FHIR intake: each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.grouping import run_intake

from .fhir_builders import D, PID, RXNORM, coding, patient, statement


def _idless(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k != "id"}


def test_resources_without_id_or_full_url_in_one_bundle_keep_distinct_sources(tmp_path: Path) -> None:
    """Section 7: provenance must lead to the right resource, also without id and fullUrl."""
    first = _idless(statement("s1", [coding(RXNORM, "1256")], start="2025-01-01"))
    second = _idless(statement("s2", [coding(RXNORM, "1256")], start="2025-03-01"))
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient()}, {"resource": first}, {"resource": second}],
    }
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    run_intake([tmp_path / "b.json"], D, load_concept_map(), tmp_path / "out")
    sources = orjson.loads((tmp_path / "out" / "sources.ndjson").read_bytes())
    assert sources["candidate_id"] == PID
    one, two = sources["sources"]["/medications/0"], sources["sources"]["/medications/1"]
    assert one != two
    assert one[0].endswith("entry[1]") and two[0].endswith("entry[2]")
