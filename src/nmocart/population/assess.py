"""One patient, in an engine's worker: build the record with the FHIR intake, screen it.

:func:`assess_group` is the only per-patient code of both engines: it turns one patient's
flattened rows into the intake's :class:`~nmocart.fhir.resources.Resource` objects, calls
:func:`nmocart.fhir.intake.build_patient` and, for a built record, the existing screening path
(:func:`nmocart.screening.record.parse_record` then :func:`nmocart.screening.eligibility.screen`).
The answer is one JSON document (bytes) so that it crosses process and Arrow boundaries as is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from nmocart.fhir.concept_map import ConceptMap, load_concept_map
from nmocart.fhir.intake import PatientIntake, build_patient
from nmocart.fhir.resources import Origin, Resource
from nmocart.population.flatten import FlatRow
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import Protocol, load_protocol
from nmocart.screening.record import RecordError, parse_record

NO_ID_PREFIX = "~"
"""Group keys of Patients without a usable id start with this (after every id in code-point order)."""


@dataclass(frozen=True)
class RunSettings:
    """What every worker needs, picklable: the run's date and the files of map and protocol."""

    screening_date: dt.date
    concept_map_file: str | None
    protocol_file: str | None

    @cached_property
    def concept_map(self) -> ConceptMap:
        """The concept map in force (loaded once per process)."""
        return load_concept_map(Path(self.concept_map_file) if self.concept_map_file else None)

    @cached_property
    def protocol(self) -> Protocol:
        """The protocol definition in force (loaded once per process)."""
        return load_protocol(Path(self.protocol_file) if self.protocol_file else None)


def _resource(row: Sequence[Any]) -> Resource:
    rtype, ref, file, line, entry, pkey, mkey, raw = row
    return Resource(rtype, ref, orjson.loads(raw), Origin(file, int(line), entry), pkey, mkey)


def _orphan(row: Sequence[Any]) -> list[Any]:
    """An orphan's (type, ref, file, line, entry, subject reference) for the intake report."""
    rtype, ref, file, line, entry, _pkey, _mkey, raw = row
    subject = orjson.loads(raw).get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    return [rtype, ref, file, int(line), entry, reference if isinstance(reference, str) else None]


def evidence_resources(evidence: Iterable[str], sources: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The FHIR references behind each evidence pointer.

    A pointer that names an item or field maps to its own sources; one that names a section
    (``/labs``) or an object (``/investigator``) maps to the sources of everything under it.
    """
    out: dict[str, list[str]] = {}
    for pointer in evidence:
        refs = sources.get(pointer)
        if refs is None:
            prefix = pointer + "/"
            refs = sorted({ref for key, refs_ in sources.items() if key.startswith(prefix) for ref in refs_})
        out[pointer] = sorted(set(refs))
    return out


def _result(intake: PatientIntake, settings: RunSettings) -> dict[str, Any] | str:
    """The screening result (published shape plus FHIR references), or why it could not be screened."""
    assert intake.record is not None
    try:
        record = parse_record(orjson.dumps(intake.record))
    except RecordError as exc:
        return "; ".join(exc.problems)
    result = screen(record, settings.protocol).as_dict()
    criteria = []
    for criterion in result["criteria"]:  # type: ignore[attr-defined]
        criterion = dict(criterion)
        criterion["evidence_fhir"] = evidence_resources(criterion["evidence"], intake.sources)
        criteria.append(criterion)
    result["criteria"] = criteria
    result["concept_map_sha256"] = settings.concept_map.sha256
    return result


def assess_group(key: str, rows: Sequence[Sequence[Any]], settings: RunSettings) -> bytes:
    """The assessment of one patient (its rows: Patient(s), resources, Medications) as JSON bytes."""
    if not any(row[0] == "Patient" for row in rows):
        return orjson.dumps({"key": key, "orphans": [_orphan(row) for row in rows if row[0] != "Medication"]})
    resources = [_resource(row) for row in rows]
    patients = [r for r in resources if r.resource_type == "Patient"]
    medications = {r.ref: r for r in resources if r.resource_type == "Medication"}
    others = [r for r in resources if r.resource_type not in ("Patient", "Medication")]
    intake = build_patient(patients, others, medications, settings.screening_date, settings.concept_map)
    rejection = intake.rejection
    result: dict[str, Any] | None = None
    if intake.record is not None:
        screened = _result(intake, settings)
        if isinstance(screened, str):
            rejection = "invalid_record"
        else:
            result = screened
    payload = {
        "key": key,
        "candidate_id": intake.candidate_id,
        "patient_refs": sorted(p.ref for p in patients),
        "rejection": rejection,
        "record": intake.record if result is not None else None,
        "sources": intake.sources if result is not None else {},
        "result": result,
        "outcomes": [
            [o.resource_type, o.ref, o.status, o.reason, o.codes, o.origin.file, o.origin.line, o.origin.entry]
            for o in intake.outcomes
        ],
        "warnings": intake.warnings,
        "unmapped_units": intake.unmapped_units,
        "consulted_medications": intake.consulted_medications,
        "medications_offered": sorted(medications),
    }
    return orjson.dumps(payload)


def assess_chunk(groups: Sequence[tuple[str, Sequence[Sequence[Any]]]], settings: RunSettings) -> list[bytes]:
    """Assess a chunk of patients (one task of a worker process)."""
    return [assess_group(key, rows, settings) for key, rows in groups]


__all__ = ["NO_ID_PREFIX", "FlatRow", "RunSettings", "assess_chunk", "assess_group", "evidence_resources"]
