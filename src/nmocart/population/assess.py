"""One patient, in an engine's worker: build the record with the FHIR intake, screen it.

:func:`assess_group` is the only per-patient code of both engines: it turns one patient's
flattened rows into the intake's :class:`~nmocart.fhir.resources.Resource` objects, calls
:func:`nmocart.fhir.intake.build_patient` and, for a built record, the existing screening path
(the record model the intake validated from the record's JSON text, then
:func:`nmocart.screening.eligibility.screen`).
The answer is one JSON document (bytes) so that it crosses process and Arrow boundaries as is.
"""

from __future__ import annotations

import datetime as dt
import pickle
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pyarrow as pa

from nmocart.fhir.concept_map import ConceptMap, load_concept_map
from nmocart.fhir.intake import PatientIntake, build_patient
from nmocart.fhir.output import IntakeTally, OutcomeCounter, record_line, sources_line
from nmocart.fhir.resources import Origin, Resource
from nmocart.population.flatten import FLAT_COLUMNS
from nmocart.population.outputs import PopulationTally
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import Protocol, load_protocol
from nmocart.screening.record import RecordError, ScreeningRecord, parse_record

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
    """The intake's resource of a flat row.

    Built with ``tuple.__new__``: the named tuples' own constructors are Python functions,
    and this runs for every resource of the population.
    """
    rtype, ref, file, line, entry, pkey, mkey, raw = row
    origin = tuple.__new__(Origin, (file, int(line), entry))
    return tuple.__new__(Resource, (rtype, ref, orjson.loads(raw), origin, pkey, mkey))


def evidence_resources(evidence: Iterable[str], sources: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The FHIR references behind each evidence pointer.

    A pointer that names an item or field maps to its own sources; one that names a section
    (``/labs``) or an object (``/investigator``) maps to the sources of everything under it.
    """
    return _SourceIndex(sources).resources(evidence)


class _SourceIndex:
    """A patient's sources with their pointers sorted, to find everything under a pointer by bisection.

    Pointers that start with ``/labs/`` are contiguous in sorted order, so a section's
    sources are one slice instead of a scan of every pointer for every evidence item.
    """

    def __init__(self, sources: Mapping[str, list[str]]) -> None:
        self.sources = sources
        self.pointers = sorted(sources)
        self.found: dict[str, list[str]] = {}

    def resources(self, evidence: Iterable[str]) -> dict[str, list[str]]:
        """Each pointer's references, sorted and distinct (each pointer worked out once per patient)."""
        out: dict[str, list[str]] = {}
        for pointer in evidence:
            refs = self.found.get(pointer)
            if refs is None:
                refs = self.found[pointer] = self._under(pointer)
            out[pointer] = list(refs)
        return out

    def _under(self, pointer: str) -> list[str]:
        refs = self.sources.get(pointer)
        if refs is not None:
            return sorted(set(refs))
        prefix = pointer + "/"
        found: set[str] = set()
        pointers = self.pointers
        index = bisect_left(pointers, prefix)
        while index < len(pointers) and pointers[index].startswith(prefix):
            found.update(self.sources[pointers[index]])
            index += 1
        return sorted(found)


def _result(intake: PatientIntake, model: ScreeningRecord, settings: RunSettings) -> dict[str, Any]:
    """The screening result of a built record: the published shape plus FHIR references.

    ``model`` is the record the intake validated from the record's JSON text (the bytes of
    ``records.ndjson``), which is what ``nmocart screen`` parses from that line: validating
    it a second time could only give the same model.
    """
    result = screen(model, settings.protocol).as_dict()
    index = _SourceIndex(intake.sources)
    for criterion in result["criteria"]:  # type: ignore[attr-defined]
        criterion["evidence_fhir"] = index.resources(criterion["evidence"])
    result["concept_map_sha256"] = settings.concept_map.sha256
    return result


def record_lines(intake: PatientIntake) -> tuple[bytes, bytes]:
    """The ``records.ndjson`` and ``sources.ndjson`` lines of a built patient.

    The FHIR intake's own line functions (:func:`nmocart.fhir.output.record_line`,
    :func:`~nmocart.fhir.output.sources_line`), so the bytes are those ``nmocart fhir records``
    writes (a test compares the two commands on the same input).
    """
    return record_line(intake), sources_line(intake)


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


class ChunkOutput(NamedTuple):
    """What a worker returns for a chunk of patients, in key order.

    The patients' ``records.ndjson``, ``sources.ndjson`` and ``results.ndjson`` lines joined
    (three byte strings, not three per patient: cheap to send back and to write) and the
    chunk's :class:`ChunkTally`, pickled.
    """

    patients: int
    records: bytes
    sources: bytes
    results: bytes
    tally: bytes


@dataclass
class ChunkTally:
    """What a chunk of patients adds to the run's accounting; tallies of chunks merge.

    Resource outcomes are counted in ``outcomes`` by type, status, reason and codings while
    the chunk is assessed and added to ``intake`` at its end (:meth:`close`).
    """

    intake: IntakeTally = field(default_factory=IntakeTally)
    population: PopulationTally = field(default_factory=PopulationTally)
    consulted: set[str] = field(default_factory=set)
    outcomes: OutcomeCounter = field(default_factory=OutcomeCounter)

    def close(self) -> None:
        """Add the outcomes counted so far to the intake tally."""
        self.outcomes.add_to(self.intake)

    def merge(self, other: ChunkTally) -> None:
        """Add another chunk's tally."""
        other.close()
        self.intake.merge(other.intake)
        self.population.merge(other.population)
        self.consulted |= other.consulted


def _invalid(intake: PatientIntake, patients: Sequence[Resource], detail: str) -> PatientIntake:
    """A built patient whose record did not validate: rejected as ``invalid_record``, with the problems."""
    return PatientIntake(
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
                "detail": detail,
            },
        ),
        intake.unmapped_units,
        intake.consulted_medications,
    )


def _medications(resources: Sequence[Resource]) -> dict[str, Resource]:
    """The Medications of a group by ref; of copies sharing an id, the one of least JSON text.

    The choice ``fhir records`` makes (``min`` of the compact JSON), whatever order the engine
    delivered the rows in; the copies are also reported as duplicate ids.
    """
    chosen: dict[str, Resource] = {}
    for res in resources:
        if res.resource_type == "Medication":
            held = chosen.get(res.ref)
            if held is None or orjson.dumps(res.body) < orjson.dumps(held.body):
                chosen[res.ref] = res
    return chosen


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
    medications = _medications(resources)
    others = [r for r in resources if r.resource_type not in ("Patient", "Medication")]
    intake = build_patient(patients, others, medications, settings.screening_date, settings.concept_map)
    result: dict[str, Any] | None = None
    if intake.record is not None:
        model = intake.model
        if model is None:  # the intake validates every record it builds; otherwise validate here
            try:
                model = parse_record(record_line(intake))
            except RecordError as exc:
                intake = _invalid(intake, patients, "; ".join(exc.problems))
        if model is not None:
            result = _result(intake, model, settings)
    tally.intake.add_intake(intake, tally.outcomes)
    tally.consulted.update(intake.consulted_medications)
    tally.population.add(intake.candidate_id, intake.rejection, result)
    record, sources = record_lines(intake) if intake.record is not None else (b"", b"")
    return Assessed(key, record, sources, result_line(intake, patients, result))


def assess_chunk(groups: Sequence[tuple[str, Sequence[Sequence[Any]]]], settings: RunSettings) -> ChunkOutput:
    """Assess a chunk of patients (one task of a worker): their lines joined, and the chunk's tally."""
    tally = ChunkTally()
    out = [a for key, rows in groups if (a := assess_group(key, rows, settings, tally)) is not None]
    tally.close()
    return ChunkOutput(
        len(out),
        b"".join(a.record for a in out),
        b"".join(a.sources for a in out),
        b"".join(a.result for a in out),
        pickle.dumps(tally, protocol=pickle.HIGHEST_PROTOCOL),
    )


def groups_of_batch(batch: pa.RecordBatch) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The groups of an Arrow batch of ``key`` and ``rows`` (a list of flat-row structs per key).

    Column by column (one conversion per column of the batch, not one dict per row), so a
    worker turns the batch the engine sent into the row tuples of :func:`assess_group`.
    """
    keys = batch.column(0).to_pylist()
    lists = batch.column(1)
    offsets = lists.offsets.to_pylist()
    structs = lists.flatten()
    names = [structs.type.field(i).name for i in range(structs.type.num_fields)]
    columns = dict(zip(names, structs.flatten(), strict=True))
    rows = list(zip(*(columns[name].to_pylist() for name in FLAT_COLUMNS), strict=True))
    base = offsets[0]
    return [
        (key if key is not None else "", rows[start - base : end - base])
        for key, start, end in zip(keys, offsets, offsets[1:], strict=False)
    ]


def groups_of_rows(batch: pa.RecordBatch) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The groups of an Arrow batch of flat rows sorted by ``key`` (first column), whole groups only.

    Consecutive rows with the same key are one group (a null key: the rows whose subject is
    no patient, key ``""``); rows are made column by column.
    """
    keys = batch.column(0).to_pylist()
    rows = list(zip(*(batch.column(name).to_pylist() for name in FLAT_COLUMNS), strict=True))
    groups: list[tuple[str, list[tuple[Any, ...]]]] = []
    start = 0
    for index in range(1, len(keys) + 1):
        if index == len(keys) or keys[index] != keys[start]:
            key = keys[start]
            groups.append((key if key is not None else "", rows[start:index]))
            start = index
    return groups


def assess_rows(batch: pa.RecordBatch, settings: RunSettings) -> ChunkOutput:
    """Assess the groups of an Arrow batch of sorted flat rows (the DuckDB engine's workers)."""
    return assess_chunk(groups_of_rows(batch), settings)


def assess_batch(batch: pa.RecordBatch, settings: RunSettings) -> ChunkOutput:
    """Assess the groups of an Arrow batch of ``key``, ``rows`` lists (the Spark engine's workers)."""
    return assess_chunk(groups_of_batch(batch), settings)


__all__ = [
    "NO_ID_PREFIX",
    "Assessed",
    "ChunkOutput",
    "ChunkTally",
    "RunSettings",
    "assess_batch",
    "assess_chunk",
    "assess_group",
    "assess_rows",
    "evidence_resources",
    "groups_of_batch",
    "groups_of_rows",
]
