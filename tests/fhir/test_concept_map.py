"""Every row of the shipped concept map fills its target; loading validates; matching rules of section 6."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest

from nmocart.fhir.concept_map import (
    HIERARCHICAL_SYSTEMS,
    ConceptMapError,
    ConceptRow,
    default_concept_map_bytes,
    load_concept_map,
    parse_concept_map,
)

from .fhir_builders import (
    CONCEPT_MAP,
    build,
    coding,
    condition,
    observation,
    outcome,
    quantity,
    record,
    statement,
)

ROWS = CONCEPT_MAP.rows
HEADER = "target,resource,system,code,display,note\n"


def test_shipped_map_is_the_study_teams(shared_dir: Path) -> None:
    assert default_concept_map_bytes() == (shared_dir / "spec" / "fhir" / "concept_map.csv").read_bytes()
    assert CONCEPT_MAP.sha256 == hashlib.sha256(default_concept_map_bytes()).hexdigest()
    with (shared_dir / "spec" / "fhir" / "concept_map.csv").open(newline="") as handle:
        assert len(ROWS) == sum(1 for _ in csv.DictReader(handle))


def _resource_for(row: ConceptRow, code: str) -> dict[str, Any]:
    """A resource carrying ``code`` of the row's system, shaped so that its target gets a value."""
    c = coding(row.system, code, "from the EHR")
    kind, _, rest = row.target.partition(".")
    if row.resource == "Medication":
        return statement("m1", [c])
    if row.resource == "Condition":
        return condition("c1", [c], onset="2020-01-01")
    if kind == "labs" and rest in ("creatinine", "total_bilirubin"):
        return observation("o1", [c], valueQuantity=quantity(1.1, "mg/dL"))
    if kind == "labs" and rest in ("alt", "ast"):
        return observation("o1", [c], valueQuantity=quantity(30, "U/L"))
    if kind in ("labs", "antibody_tests", "pregnancy_tests"):
        return observation("o1", [c], valueString="positive")
    if kind == "ecgs":
        return observation("o1", [c], valueQuantity=quantity(430, "ms"))
    if kind == "tcell_proliferation":
        return observation("o1", [c], valueQuantity=quantity(7.5, "1"))
    assert row.target == "pregnant"
    return observation(
        "o1", [c], valueCodeableConcept={"coding": [coding("http://snomed.info/sct", "77386006")]}
    )


def _check_target(row: ConceptRow, rec: dict[str, Any]) -> None:
    kind, _, rest = row.target.partition(".")
    if kind == "labs":
        assert [lab["test"] for lab in rec["labs"]] == [rest]
    elif kind == "antibody_tests":
        antibody, method = rest.split(".")
        assert [(a["antibody"], a["method"], a["result"]) for a in rec["antibody_tests"]] == [
            (antibody, method, "positive")
        ]
    elif kind == "pregnancy_tests":
        assert [(p["specimen"], p["result"]) for p in rec["pregnancy_tests"]] == [(rest, "positive")]
    elif kind == "ecgs":
        correction = rest.split(".")[1] if "." in rest else None
        assert rec["ecgs"] == [{"date": "2026-02-20", "qtc_ms": 430, "correction": correction}]
    elif kind == "tcell_proliferation":
        assert rec["tcell_proliferation"] == [{"date": "2026-02-20", "fold_expansion": 7.5}]
    elif kind == "pregnant":
        assert rec["pregnant"] is True
    elif kind == "nmosd":
        assert rec["disease_onset_date"] == "2020-01-01"
        assert rec["conditions"] == []
        assert rec["attacks"] is None
    elif kind == "attacks":
        assert rec["attacks"] == [
            {"onset_date": "2020-01-01", "syndromes": [{"type": rest, "mri_requirements_met": None}]}
        ]
        assert rec["conditions"] == []
    elif kind == "conditions":
        assert [(c["category"], c["name"]) for c in rec["conditions"]] == [(rest, "from the EHR")]
    else:
        assert kind == "medications"
        assert [(m["drug_class"], m["name"], m["route"]) for m in rec["medications"]] == [
            (rest, "from the EHR", None)
        ]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.target}:{r.code}" for r in ROWS])
def test_every_row_fills_its_target(row: ConceptRow) -> None:
    intake = build(_resource_for(row, row.code))
    assert intake.record is not None
    _check_target(row, intake.record)
    ref = {"Medication": "MedicationStatement/m1", "Condition": "Condition/c1"}.get(
        row.resource, "Observation/o1"
    )
    assert outcome(intake, ref) == "used"


HIERARCHICAL = [r for r in ROWS if r.system in HIERARCHICAL_SYSTEMS]


@pytest.mark.parametrize("row", HIERARCHICAL, ids=[f"{r.target}:{r.code}" for r in HIERARCHICAL])
def test_hierarchical_rows_match_the_codes_below_them(row: ConceptRow) -> None:
    below = row.code + ("9" if "." in row.code else ".Z9")
    assert CONCEPT_MAP.lookup(row.resource, row.system, below) == row
    assert CONCEPT_MAP.lookup(row.resource, row.system, below.lower()) == row
    assert CONCEPT_MAP.lookup(row.resource, row.system, row.code.replace(".", "")) == row
    _check_target(row, record(_resource_for(row, below)))


def test_longest_hierarchical_row_wins() -> None:
    atc = "http://www.whocc.no/atc"
    azathioprine = CONCEPT_MAP.lookup("Medication", atc, "L04AX01")
    assert azathioprine is not None
    assert azathioprine.target == "medications.azathioprine"
    other = CONCEPT_MAP.lookup("Medication", atc, "L04AC07")  # tocilizumab
    assert other is not None
    assert other.target == "medications.other_immunosuppressant"
    # A code shorter than every row matches none.
    assert CONCEPT_MAP.lookup("Medication", atc, "L04") is None


def test_exact_systems_do_not_match_prefixes_or_other_kinds() -> None:
    loinc = "http://loinc.org"
    assert CONCEPT_MAP.lookup("Observation", loinc, "2160-0") is not None
    assert CONCEPT_MAP.lookup("Observation", loinc, "2160-01") is None
    assert CONCEPT_MAP.lookup("Observation", loinc, "2160") is None
    assert CONCEPT_MAP.lookup("Condition", loinc, "2160-0") is None
    assert CONCEPT_MAP.lookup("Observation", "http://loinc.org/", "2160-0") is None


def test_codings_naming_different_targets_are_a_conflict() -> None:
    body = observation(
        "o1",
        [coding("http://loinc.org", "2160-0"), coding("http://loinc.org", "1742-6")],
        valueQuantity=quantity(1.0, "mg/dL"),
    )
    intake = build(body)
    assert outcome(intake, "Observation/o1") == "conflict"
    assert intake.record is not None
    assert intake.record["labs"] == []  # collected, nothing usable
    conflict = [w for w in intake.warnings if w["kind"] == "conflict"]
    assert "labs.alt" in conflict[0]["detail"]
    assert "labs.creatinine" in conflict[0]["detail"]


def test_two_codings_of_one_target_are_one_item() -> None:
    body = condition(
        "c1",
        [
            coding("http://snomed.info/sct", "84757009"),
            coding("http://hl7.org/fhir/sid/icd-10-cm", "G40.909"),
        ],
    )
    rec = record(body)
    assert [c["category"] for c in rec["conditions"]] == ["epilepsy"]


def test_unmapped_resource_is_counted_with_its_codes_and_still_collects() -> None:
    body = condition("c1", [coding("http://snomed.info/sct", "160903007", "Full-time employment (finding)")])
    intake = build(body)
    assert outcome(intake, "Condition/c1") == "unmapped"
    unmapped = next(o for o in intake.outcomes if o.ref == "Condition/c1")
    assert unmapped.codes == (("http://snomed.info/sct", "160903007", "Full-time employment (finding)"),)
    assert intake.record is not None
    assert intake.record["conditions"] == []
    assert intake.record["attacks"] == []


def test_site_map_replaces_the_shipped_one(tmp_path: Path) -> None:
    site = tmp_path / "site.csv"
    site.write_text(
        HEADER + "conditions.epilepsy,Condition,http://hospital.example/codes,EPI-1,Epilepsy,local\n"
    )
    site_map = load_concept_map(site)
    assert site_map.sha256 == hashlib.sha256(site.read_bytes()).hexdigest()
    assert site_map.sha256 != CONCEPT_MAP.sha256
    body = condition("c1", [coding("http://hospital.example/codes", "EPI-1")])
    assert [c["category"] for c in record(body, concept_map=site_map)["conditions"]] == ["epilepsy"]
    # The shipped rows are not in the site's map.
    shipped_code = condition("c2", [coding("http://snomed.info/sct", "84757009")])
    assert outcome(build(shipped_code, concept_map=site_map), "Condition/c2") == "unmapped"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target,resource,system,code\n", "header must be exactly"),
        (HEADER + "labs.glucose,Observation,http://loinc.org,1,x,y\n", "target 'labs.glucose'"),
        (HEADER + "labs.alt,Condition,http://loinc.org,1,x,y\n", "not a Condition target"),
        (HEADER + "labs.alt,Procedure,http://loinc.org,1,x,y\n", "resource 'Procedure'"),
        (HEADER + "labs.alt,Observation,,1,x,y\n", "system and code are required"),
        (HEADER + "labs.alt,Observation,http://loinc.org,1,x\n", "5 columns"),
        (
            HEADER
            + "conditions.hiv,Condition,http://hl7.org/fhir/sid/icd-10,B20,x,y\n"
            + "conditions.other,Condition,http://hl7.org/fhir/sid/icd-10,b2.0,x,y\n",
            "already mapped on line 2",
        ),
        (HEADER, "no rows"),
    ],
)
def test_bad_maps_are_refused_with_the_line_and_fix(text: str, message: str) -> None:
    with pytest.raises(ConceptMapError, match=r"site\.csv") as caught:
        parse_concept_map(text.encode(), "site.csv")
    assert message in str(caught.value)


def test_non_utf8_map_is_refused() -> None:
    with pytest.raises(ConceptMapError, match="not UTF-8"):
        parse_concept_map(HEADER.encode() + b"labs.alt,Observation,http://loinc.org,\xff,x,y\n", "site.csv")


def test_missing_map_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConceptMapError, match="cannot read"):
        load_concept_map(tmp_path / "nope.csv")


def test_unverified_rows_are_read_like_any_other() -> None:
    unverified = [r for r in ROWS if r.note.startswith("UNVERIFIED")]
    assert unverified
    for row in unverified:
        assert CONCEPT_MAP.lookup(row.resource, row.system, row.code) == row
