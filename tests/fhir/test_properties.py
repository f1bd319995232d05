"""Invariants: ignored resources never change a result; input order never changes the output bytes."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nmocart.fhir.concept_map import load_concept_map
from nmocart.fhir.grouping import run_intake

from .fhir_builders import (
    LAB,
    LOINC,
    RXNORM,
    SNOMED,
    SYNDROME,
    answer,
    build,
    coding,
    condition,
    form,
    observation,
    patient,
    quantity,
    statement,
)

DAYS = st.sampled_from(["2026-02-10", "2026-02-20", "2026-02-24", "2025-11-01", "2024-04-18", "2026-02"])
CONCEPT_MAP = load_concept_map()


@st.composite
def clinical_resource(draw: st.DrawFn, rid: str, subject: str) -> dict[str, Any]:
    """One resource the intake reads and may use (or count unmapped/unusable)."""
    kind = draw(
        st.sampled_from(["numeric", "qualitative", "ecg", "condition", "attack", "medication", "unmapped"])
    )
    day = draw(DAYS)
    if kind == "numeric":
        code, unit = draw(
            st.sampled_from(
                [("2160-0", "mg/dL"), ("14682-9", "umol/L"), ("1742-6", "U/L"), ("1920-8", "mmol/L")]
            )
        )
        value = draw(st.sampled_from([0.8, 1.1, 76, 30, 250]))
        return observation(
            rid, [coding(LOINC, code)], date=day, subject=subject, valueQuantity=quantity(value, unit)
        )
    if kind == "qualitative":
        code = draw(st.sampled_from(["5196-1", "13955-0", "2106-3", "56888-1"]))
        text = draw(st.sampled_from(["positive", "negative", "equivocal", "n/a"]))
        return observation(rid, [coding(LOINC, code)], date=day, subject=subject, valueString=text)
    if kind == "ecg":
        qtc = draw(st.sampled_from([420, 455, 480]))
        return observation(
            rid, [coding(LOINC, "76634-5")], date=day, subject=subject, valueQuantity=quantity(qtc, "ms")
        )
    if kind == "condition":
        code = draw(st.sampled_from(["84757009", "59621000", "91302008", "25044007"]))
        return condition(rid, [coding(SNOMED, code)], onset=day, subject=subject)
    if kind == "attack":
        syndrome = draw(st.sampled_from(["optic_neuritis", "acute_myelitis", "brainstem"]))
        return condition(rid, [coding(SYNDROME, syndrome)], onset=draw(DAYS), subject=subject)
    if kind == "medication":
        drug = draw(st.sampled_from(["8640", "121191", "1256", "314076"]))
        body = statement(
            rid, [coding(RXNORM, drug)], start=day, end=draw(st.sampled_from([None, "2026-01-01"]))
        )
        body["subject"] = {"reference": subject}
        return body
    return observation(rid, [coding(LAB, "nonsense")], date=day, subject=subject, valueString="x")


@st.composite
def ignored_resource(draw: st.DrawFn, rid: str, subject: str) -> dict[str, Any]:
    """One resource the intake must count as ignored without it touching the record."""
    kind = draw(st.sampled_from(["type", "obs_status", "refuted", "intent", "statement", "form", "orphan"]))
    if kind == "type":
        return {
            "resourceType": draw(st.sampled_from(["Encounter", "Procedure", "Claim"])),
            "id": rid,
            "subject": {"reference": subject},
        }
    if kind == "obs_status":
        body = observation(
            rid, [coding(LOINC, "2160-0")], subject=subject, valueQuantity=quantity(9.9, "mg/dL")
        )
        body["status"] = draw(st.sampled_from(["preliminary", "cancelled", "entered-in-error", "registered"]))
        return body
    if kind == "refuted":
        verification = {
            "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted")]
        }
        return condition(rid, [coding(SNOMED, "84757009")], subject=subject, verificationStatus=verification)
    if kind == "intent":
        return {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "active",
            "intent": draw(st.sampled_from(["proposal", "plan", "option"])),
            "subject": {"reference": subject},
            "medicationCodeableConcept": {"coding": [coding(RXNORM, "8640")]},
            "authoredOn": "2026-02-01",
        }
    if kind == "statement":
        body = statement(
            rid, [coding(RXNORM, "8640")], status=draw(st.sampled_from(["not-taken", "intended"]))
        )
        body["subject"] = {"reference": subject}
        return body
    if kind == "form":
        body = form(
            [answer("contraception_agreed", valueBoolean=True)], rid=rid, questionnaire="http://other/Q"
        )
        body["subject"] = {"reference": subject}
        return body
    return observation(
        rid, [coding(LOINC, "2160-0")], subject="Patient/nobody", valueQuantity=quantity(1.0, "mg/dL")
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_base=st.integers(0, 8), n_extra=st.integers(1, 6))
def test_adding_ignored_resources_never_changes_the_result(
    data: st.DataObject, n_base: int, n_extra: int
) -> None:
    base = [data.draw(clinical_resource(f"b{i}", "Patient/P1")) for i in range(n_base)]
    extra = [data.draw(ignored_resource(f"x{i}", "Patient/P1")) for i in range(n_extra)]
    before = build(*base)
    after = build(*base, *[e for e in extra if e["subject"]["reference"] == "Patient/P1"])
    assert after.record == before.record
    assert after.sources == before.sources
    assert after.warnings == before.warnings
    used = sorted(o.ref for o in before.outcomes if o.status == "used")
    assert sorted(o.ref for o in after.outcomes if o.status == "used") == used
    assert all(o.status == "ignored" for o in after.outcomes if o.ref.split("/")[-1].startswith("x"))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_resource_order_never_changes_the_patient(data: st.DataObject, n: int, seed: int) -> None:
    resources = [data.draw(clinical_resource(f"r{i}", "Patient/P1")) for i in range(n)]
    shuffled = list(resources)
    random.Random(seed).shuffle(shuffled)
    first, second = build(*resources), build(*shuffled)
    assert first.record == second.record
    assert first.sources == second.sources
    assert sorted(first.warnings, key=str) == sorted(second.warnings, key=str)


def _run_bytes(lines: list[bytes], folder: Path) -> tuple[bytes, bytes, bytes]:
    folder.mkdir(parents=True)
    half = len(lines) // 2
    (folder / "a.ndjson").write_bytes(b"\n".join(lines[:half]) + b"\n")
    (folder / "b.ndjson").write_bytes(b"\n".join(lines[half:]) + b"\n")
    out = folder / "out"
    run_intake([folder / "a.ndjson", folder / "b.ndjson"], dt.date(2026, 3, 2), CONCEPT_MAP, out)
    report = json.loads((out / "intake-report.json").read_bytes())
    for entry in report["files"]:  # the only part naming files: which line sits in which file
        entry["file"] = entry["read"] = entry["resources"] = None
    return (
        (out / "records.ndjson").read_bytes(),
        (out / "sources.ndjson").read_bytes(),
        json.dumps(report).encode(),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_order_of_ndjson_lines_never_changes_the_output_bytes(
    tmp_path: Path, data: st.DataObject, seed: int
) -> None:
    bodies: list[dict[str, Any]] = []
    for p in range(data.draw(st.integers(1, 4))):
        pid = f"P{p}"
        bodies.append(patient(pid, sex=data.draw(st.sampled_from(["F", "M"]))))
        for i in range(data.draw(st.integers(0, 5))):
            bodies.append(data.draw(clinical_resource(f"{pid}-r{i}", f"Patient/{pid}")))
    lines = [json.dumps(b).encode() for b in bodies]
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    case = tmp_path / f"case{seed}-{len(lines)}-{random.Random().random()}"
    assert _run_bytes(lines, case / "given") == _run_bytes(shuffled, case / "shuffled")


def test_order_of_files_never_changes_any_output_byte(tmp_path: Path) -> None:
    first = tmp_path / "a.ndjson"
    second = tmp_path / "b.ndjson"
    first.write_text(json.dumps(patient("P1")) + "\n" + json.dumps(patient("P2", sex="M")) + "\n")
    second.write_text(
        json.dumps(observation("o1", [coding(LOINC, "2160-0")], valueQuantity=quantity(1.0, "mg/dL")))
        + "\n"
        + "{broken\n"
    )
    outputs = []
    for order, name in (([first, second], "ab"), ([second, first], "ba")):
        out = tmp_path / name
        run_intake(order, dt.date(2026, 3, 2), CONCEPT_MAP, out)
        outputs.append(
            [(out / f).read_bytes() for f in ("records.ndjson", "sources.ndjson", "intake-report.json")]
        )
    assert outputs[0] == outputs[1]
