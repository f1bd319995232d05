"""``nmocart fhir records`` end to end: read, group by patient on disk, build, write, report.

Two passes. Pass 1 streams every input file once and appends each read resource, with its
resolved patient and medication keys, to a DuckDB table in a temporary database on disk
(resource types the intake does not read are counted there and then, never stored). Pass 2
lets DuckDB sort that table by patient (out of core past its memory limit) and streams the
groups in ``candidate_id`` order through :func:`nmocart.fhir.intake.build_patient`. Python
holds one patient's resources at a time, so memory does not grow with the population.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from nmocart.fhir.concept_map import ConceptMap
from nmocart.fhir.intake import PatientIntake, ResourceOutcome, build_patient
from nmocart.fhir.output import REPORT, IntakeTally, IntakeWriter, write_json
from nmocart.fhir.resources import READ_TYPES, InputReader, Origin, Resource, input_files

__all__ = ["IntakeRun", "medication_outcome", "run_intake"]

BATCH_ROWS = 20_000
"""Resources appended to the on-disk table per batch (bounds pass 1's memory)."""

DUCKDB_MEMORY_LIMIT = "512MB"
"""DuckDB spills its sort to disk past this."""

_COLUMNS = ("patient_key", "kind", "rtype", "ref", "file", "line", "entry", "medication_key", "body")
_SCHEMA = pa.schema(
    [
        ("patient_key", pa.string()),
        ("kind", pa.int8()),
        ("rtype", pa.string()),
        ("ref", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("entry", pa.string()),
        ("medication_key", pa.string()),
        ("body", pa.string()),
    ]
)

Progress = Callable[[str, int, int | None], None]
"""Called with (phase, amount done so far, total or None) as the run advances."""


@dataclass
class IntakeRun:
    """What a run produced: the report document and its tally."""

    report: dict[str, Any]
    tally: IntakeTally

    @property
    def parse_errors(self) -> int:
        """Lines, entries or files that were not readable FHIR."""
        return sum(len(f["parse_errors"]) for f in self.report["files"])

    @property
    def reported(self) -> bool:
        """Whether anything was reported: parse errors, rejections, orphans, duplicate ids."""
        return bool(self.parse_errors or self.tally.problems)


def medication_codes(resource_type: str, body: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The (system, code, display) of a resource's code (Medication) or medication concept, for coverage."""
    concept = (
        body.get("code")
        if resource_type in ("Observation", "Condition", "Medication")
        else body.get("medicationCodeableConcept")
    )
    codings = concept.get("coding") if isinstance(concept, dict) else None
    out = []
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict):
            values = [coding.get(k) for k in ("system", "code", "display")]
            out.append(tuple(v if isinstance(v, str) else "" for v in values))
    return tuple(out)  # type: ignore[arg-type]


_coded = medication_codes
"""Former name, kept for callers that imported it."""


class _Table:
    """Appends resources to the on-disk table in bounded Arrow batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.columns: dict[str, list[Any]] = {c: [] for c in _COLUMNS}

    def add(self, res: Resource, kind: int, table: str = "rows") -> None:
        cols = self.columns
        for name, value in zip(
            _COLUMNS,
            (
                res.patient_key,
                kind,
                res.resource_type,
                res.ref,
                res.origin.file,
                res.origin.line,
                res.origin.entry,
                res.medication_key,
                orjson.dumps(res.body).decode(),
            ),
            strict=True,
        ):
            cols[name].append(value)
        if len(cols["ref"]) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.columns["ref"]:
            return
        batch = pa.Table.from_pydict(self.columns, schema=_SCHEMA)
        self.con.register("incoming", batch)
        self.con.execute("INSERT INTO rows SELECT * FROM incoming")
        self.con.unregister("incoming")
        self.columns = {c: [] for c in _COLUMNS}


def _resource(row: Sequence[Any]) -> Resource:
    key, _kind, rtype, ref, file, line, entry, med_key, body = row[:9]
    return Resource(rtype, ref, orjson.loads(body), Origin(file, line, entry), key, med_key)


def _patient_groups(
    con: duckdb.DuckDBPyConnection,
) -> Iterator[tuple[list[Resource], list[Resource], dict[str, Resource]]]:
    """Each patient's (Patient copies, other resources, Medications pointed to), by candidate_id."""
    result = con.execute(
        """
        WITH patients AS (SELECT DISTINCT patient_key FROM rows WHERE kind = 0),
             meds AS (SELECT ref, min(body) AS body FROM rows WHERE kind = 2 GROUP BY ref)
        SELECT r.patient_key, r.kind, r.rtype, r.ref, r.file, r.line, r.entry, r.medication_key, r.body,
               m.body AS med_body
        FROM rows r
        JOIN patients p ON r.patient_key = p.patient_key
        LEFT JOIN meds m ON r.medication_key = m.ref
        WHERE r.kind IN (0, 1)
        ORDER BY r.patient_key
        """
    )
    current: str | None = None
    patients: list[Resource] = []
    others: list[Resource] = []
    meds: dict[str, Resource] = {}
    while True:
        chunk = result.fetchmany(5000)
        if not chunk:
            break
        for row in chunk:
            if row[0] != current:
                if current is not None:
                    yield patients, others, meds
                current, patients, others, meds = row[0], [], [], {}
            res = _resource(row)
            (patients if row[1] == 0 else others).append(res)
            if row[9] is not None and row[7] is not None:
                meds[row[7]] = Resource(
                    "Medication", row[7], orjson.loads(row[9]), Origin("", 0, ""), None, None
                )
    if current is not None:
        yield patients, others, meds


def _mapped_medication(medication: Resource, concept_map: ConceptMap) -> bool:
    """Whether one of a Medication's codings is in the map: only then is a referenced one ``used``."""
    return any(
        concept_map.lookup("Medication", system, code) is not None
        for system, code, _ in medication_codes("Medication", medication.body)
    )


def medication_outcome(medication: Resource, consulted: bool, concept_map: ConceptMap) -> ResourceOutcome:
    """How a Medication resource is counted, once every patient is built (one rule for all commands).

    ``consulted``: a medication resource of a built patient pointed to it. Then it is
    ``used`` when one of its codings is in the map and ``unmapped`` otherwise; a Medication
    no one consulted is ``ignored`` as ``unreferenced``.
    """
    status, reason = ("used", "") if consulted else ("ignored", "unreferenced")
    if status == "used" and not _mapped_medication(medication, concept_map):
        status = "unmapped"
    return ResourceOutcome(
        "Medication",
        medication.ref,
        status,
        reason,
        medication_codes("Medication", medication.body),
        medication.origin,
    )


def run_intake(
    paths: Sequence[str | Path],
    default_date: dt.date,
    concept_map: ConceptMap,
    out_dir: Path,
    progress: Progress | None = None,
    on_patient: Callable[[PatientIntake], None] | None = None,
) -> IntakeRun:
    """Read ``paths``; write records.ndjson, sources.ndjson and intake-report.json to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tally = IntakeTally()
    reader = InputReader()
    scratch = Path(tempfile.mkdtemp(prefix=".fhir-intake-", dir=out_dir))
    try:
        con = duckdb.connect(str(scratch / "resources.duckdb"))
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute(f"SET temp_directory = '{scratch / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(
            "CREATE TABLE rows (patient_key VARCHAR, kind TINYINT, rtype VARCHAR, ref VARCHAR, file VARCHAR,"
            " line BIGINT, entry VARCHAR, medication_key VARCHAR, body VARCHAR)"
        )
        table = _Table(con)
        total_bytes = sum(os.path.getsize(p) for p, fmt in input_files(paths) if fmt and os.path.isfile(p))
        done_bytes, last_file = 0, ""
        for res in reader.read(paths):
            if progress is not None and res.origin.file != last_file:
                if last_file and os.path.isfile(last_file):
                    done_bytes += os.path.getsize(last_file)
                last_file = res.origin.file
                progress("reading", done_bytes, total_bytes)
            rtype = res.resource_type
            if rtype not in READ_TYPES:
                tally.add_outcome(ResourceOutcome(rtype, res.ref, "ignored", "type_not_read", (), res.origin))
            elif rtype == "Medication":
                table.add(res, 2)
            elif rtype == "Patient":
                if res.patient_key is None:
                    tally.add_intake(build_patient([res], [], {}, default_date, concept_map))
                else:
                    table.add(res, 0)
            elif res.patient_key is None:
                tally.add_orphan(res)
            else:
                table.add(res, 1)
        table.flush()
        if progress is not None:
            progress("reading", total_bytes, total_bytes)

        for ref, copies in con.execute(
            "SELECT ref, list(struct_pack(f := file, l := line, e := entry)) FROM rows"
            " WHERE ref NOT LIKE '%@%' GROUP BY rtype, ref HAVING count(*) > 1 ORDER BY ref"
        ).fetchall():
            tally.add_duplicate(ref, [Origin(c["f"], c["l"], c["e"]) for c in copies])
        orphans = con.execute(
            "SELECT r.* FROM rows r WHERE r.kind = 1 AND r.patient_key NOT IN"
            " (SELECT patient_key FROM rows WHERE kind = 0) ORDER BY r.ref, r.file, r.line, r.entry"
        )
        while batch := orphans.fetchmany(5000):
            for row in batch:
                tally.add_orphan(_resource(row))

        (patient_total,) = con.execute(
            "SELECT count(DISTINCT patient_key) FROM rows WHERE kind = 0"
        ).fetchone() or (0,)
        consulted: set[str] = set()
        with IntakeWriter(out_dir) as writer:
            for done, (patients, others, meds) in enumerate(_patient_groups(con), start=1):
                intake = build_patient(patients, others, meds, default_date, concept_map)
                tally.add_intake(intake)
                consulted.update(intake.consulted_medications)
                writer.add(intake)
                if on_patient is not None:
                    on_patient(intake)
                if progress is not None and (done % 500 == 0 or done == patient_total):
                    progress("building", done, patient_total)

        medications = con.execute("SELECT * FROM rows WHERE kind = 2")
        while batch := medications.fetchmany(5000):
            for row in batch:
                med = _resource(row)
                tally.add_outcome(medication_outcome(med, med.ref in consulted, concept_map))
        con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = tally.report(concept_map, default_date, reader.files, reader.skipped, reader.bundles)
    write_json(out_dir / REPORT, report)
    return IntakeRun(report, tally)
