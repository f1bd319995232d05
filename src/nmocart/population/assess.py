"""One patient, in an engine's worker: build the record with the FHIR intake, screen it.

:func:`assess_group` is the only per-patient code of both engines: it turns one patient's
flattened rows into the intake's :class:`~nmocart.fhir.resources.Resource` objects, calls
:func:`nmocart.fhir.intake.build_patient` and, for a built record, the existing screening path
(:func:`nmocart.screening.record.parse_record` then :func:`nmocart.screening.eligibility.screen`).
The answer is one JSON document (bytes) so that it crosses process and Arrow boundaries as is.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from nmocart.fhir.concept_map import ConceptMap, load_concept_map
from nmocart.fhir.intake import PatientIntake, build_patient
from nmocart.fhir.output import IntakeTally
from nmocart.fhir.resources import Origin, Resource
from nmocart.population.outputs import PopulationTally
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


def record_lines(intake: PatientIntake) -> tuple[bytes, bytes]:
    """The ``records.ndjson`` and ``sources.ndjson`` lines of a built patient.

    The same bytes as :class:`nmocart.fhir.output.IntakeWriter` writes (a test compares
    ``nmocart prescreen`` with ``nmocart fhir records`` on the same input).
    """
    return (
        orjson.dumps(intake.record) + b"\n",
        orjson.dumps({"candidate_id": intake.candidate_id, "sources": intake.sources}) + b"\n",
    )


def result_line(intake: PatientIntake, patients: Sequence[Resource], result: dict[str, Any] | None) -> bytes:
    """The ``results.ndjson`` line: the screening result, or the unscreened patient and why."""
    if result is not None:
        return orjson.dumps(result) + b"\n"
    document = {
        "candidate_id": intake.candidate_id,
        "patients": sorted(p.ref for p in patients),
        "decision": None,
        "rejected": intake.rejection,
    }
    return orjson.dumps(document) + b"\n"


class Assessed(NamedTuple):
    """One patient's output lines (``record``/``sources`` empty when it was not built)."""

    key: str
    record: bytes
    sources: bytes
    result: bytes


@dataclass
class ChunkTally:
    """What a chunk of patients adds to the run's accounting; tallies of chunks merge."""

    intake: IntakeTally = field(default_factory=IntakeTally)
    population: PopulationTally = field(default_factory=PopulationTally)
    consulted: set[str] = field(default_factory=set)

    def merge(self, other: ChunkTally) -> None:
        """Add another chunk's tally."""
        self.intake.merge(other.intake)
        self.population.merge(other.population)
        self.consulted |= other.consulted


def assess_group(
    key: str, rows: Sequence[Sequence[Any]], settings: RunSettings, tally: ChunkTally
) -> Assessed | None:
    """Build and screen one patient (its rows: Patient(s), resources, Medications); None for orphans.

    A group without a Patient holds resources whose subject is no Patient of this run: they
    are counted as orphans.
    """
    resources = [_resource(row) for row in rows]
    patients = [r for r in resources if r.resource_type == "Patient"]
    if not patients:
        for res in resources:
            if res.resource_type != "Medication":
                tally.intake.add_orphan(res)
        return None
    medications = {r.ref: r for r in resources if r.resource_type == "Medication"}
    others = [r for r in resources if r.resource_type not in ("Patient", "Medication")]
    intake = build_patient(patients, others, medications, settings.screening_date, settings.concept_map)
    result: dict[str, Any] | None = None
    if intake.record is not None:
        screened = _result(intake, settings)
        if isinstance(screened, str):
            intake = PatientIntake(
                intake.candidate_id,
                None,
                "invalid_record",
                {},
                intake.outcomes,
                (
                    *intake.warnings,
                    {
                        "patient": intake.candidate_id or "",
                        "resource": patients[0].ref,
                        "kind": "invalid_record",
                        "detail": screened,
                    },
                ),
                intake.unmapped_units,
                intake.consulted_medications,
            )
        else:
            result = screened
    tally.intake.add_intake(intake)
    tally.consulted.update(intake.consulted_medications)
    tally.population.add(intake.candidate_id, intake.rejection, result)
    record, sources = record_lines(intake) if intake.record is not None else (b"", b"")
    return Assessed(key, record, sources, result_line(intake, patients, result))


def assess_chunk(
    groups: Sequence[tuple[str, Sequence[Sequence[Any]]]], settings: RunSettings
) -> tuple[list[Assessed], bytes]:
    """Assess a chunk of patients (one task of a worker): their lines, and the chunk's tally pickled."""
    tally = ChunkTally()
    out = [a for key, rows in groups if (a := assess_group(key, rows, settings, tally)) is not None]
    return out, pickle.dumps(tally, protocol=pickle.HIGHEST_PROTOCOL)


__all__ = [
    "NO_ID_PREFIX",
    "Assessed",
    "ChunkTally",
    "RunSettings",
    "assess_chunk",
    "assess_group",
    "evidence_resources",
]
