"""``nmocart prescreen`` end to end: engine in, per-patient assessments, every output written atomically.

The engine (DuckDB or Spark) reads, flattens and groups the input and assesses each patient in
its workers; this module consumes the assessments in candidate order and writes the intake
files (through the FHIR intake's own writer and tally), ``results.ndjson``, ``attrition.csv``,
``worklist.csv``, ``coverage.csv`` and ``report.html`` into a temporary folder beside ``--out``,
which replaces ``--out`` only once everything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from nmocart.fhir.grouping import _coded
from nmocart.fhir.intake import PatientIntake, ResourceOutcome
from nmocart.fhir.output import REPORT, IntakeTally, IntakeWriter, write_json
from nmocart.fhir.resources import Origin, Resource
from nmocart.population.assess import RunSettings
from nmocart.population.flatten import FlatRow, InputAccount
from nmocart.population.outputs import PopulationTally, open_results, result_line, write_outputs

Advance = Callable[[int, int], None]
"""Called with (patients done, patients in all) as assessments arrive."""


class Engine(Protocol):
    """What ``run_prescreen`` needs from an engine (DuckDB or Spark)."""

    account: InputAccount
    name: str

    def load(self, paths: list[str]) -> None: ...
    def not_read(self) -> dict[str, int]: ...
    def duplicates(self) -> list[tuple[str, list[Origin]]]: ...
    def medications(self) -> Iterator[FlatRow]: ...
    def patient_count(self) -> int: ...
    def assessments(self, settings: RunSettings, jobs: int) -> Iterator[bytes]: ...
    def close(self) -> None: ...


@dataclass
class PrescreenRun:
    """What a run found: the intake report, the population tally and whether anything was reported."""

    report: dict[str, Any]
    tally: PopulationTally
    parse_errors: int
    reported: bool


def _intake_of(payload: dict[str, Any]) -> PatientIntake:
    outcomes = tuple(
        ResourceOutcome(rtype, ref, status, reason, tuple(tuple(c) for c in codes), Origin(file, line, entry))
        for rtype, ref, status, reason, codes, file, line, entry in payload["outcomes"]
    )
    return PatientIntake(
        payload["candidate_id"],
        payload["record"],
        payload["rejection"],
        payload["sources"],
        outcomes,
        tuple(payload["warnings"]),
        tuple(tuple(u) for u in payload["unmapped_units"]),
        tuple(payload["consulted_medications"]),
    )


def _replace(target: Path, staged: Path) -> None:
    """Move ``staged`` to ``target``, replacing what was there only after the move is possible."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)


def run_prescreen(
    engine_factory: Callable[[Path], Engine],
    paths: list[str],
    settings: RunSettings,
    out: Path,
    jobs: int,
    advance: Advance | None = None,
) -> PrescreenRun:
    """Pre-screen ``paths`` with the engine ``engine_factory`` makes; write everything to ``out``."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.scratch-", dir=out.parent))
    try:
        engine = engine_factory(scratch)
        try:
            engine.load(paths)
            intake = IntakeTally()
            for rtype, count in engine.not_read().items():
                outcome = ResourceOutcome(rtype, "", "ignored", "type_not_read", (), Origin("", 0, ""))
                for _ in range(count):
                    intake.add_outcome(outcome)
            for ref, origins in engine.duplicates():
                intake.add_duplicate(ref, origins)
            population = PopulationTally()
            consulted: set[str] = set()
            total = engine.patient_count()
            done = 0
            with IntakeWriter(staged) as writer, open_results(staged) as results:
                for raw in engine.assessments(settings, jobs):
                    payload = orjson.loads(raw)
                    if "orphans" in payload:
                        for rtype, ref, file, line, entry, subject in payload["orphans"]:
                            body = {"subject": {"reference": subject}} if subject is not None else {}
                            intake.add_orphan(Resource(rtype, ref, body, Origin(file, line, entry), None, None))
                        continue
                    patient = _intake_of(payload)
                    intake.add_intake(patient)
                    consulted.update(patient.consulted_medications)
                    writer.add(patient)
                    results.write(result_line(payload))
                    population.add(payload)
                    done += len(payload["patient_refs"])
                    if advance is not None:
                        advance(done, total)
            for row in engine.medications():
                used = row.ref in consulted
                intake.add_outcome(
                    ResourceOutcome(
                        "Medication",
                        row.ref,
                        "used" if used else "ignored",
                        "" if used else "unreferenced",
                        _coded("Medication", orjson.loads(row.raw)),
                        Origin(row.file, row.line, row.entry),
                    )
                )
            account = engine.account
        finally:
            engine.close()
        report = intake.report(
            settings.concept_map,
            settings.screening_date,
            account.ordered_reports(),
            account.skipped,
            account.bundles,
        )
        write_json(staged / REPORT, report)
        decisions = population.decisions
        summary: dict[str, object] = {
            "protocol": f"{settings.protocol.id} v{settings.protocol.version}",
            "parameters_sha256": settings.protocol.parameters.sha256(),
            "concept_map_sha256": settings.concept_map.sha256,
            "screening_date": settings.screening_date.isoformat(),
            "engine": "same outputs from DuckDB and Spark",
            "patients_read": report["patients"]["read"],
            "records_built": population.screened,
            "rejected": sum(population.rejected.values()),
            "eligible": decisions["eligible"],
            "incomplete": decisions["incomplete"],
            "ineligible": decisions["ineligible"],
        }
        write_outputs(staged, population, intake, summary)
        _replace(out, staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    parse_errors = sum(len(f["parse_errors"]) for f in report["files"])
    reported = bool(parse_errors or report["skipped_files"] or intake.problems)
    return PrescreenRun(report, population, parse_errors, reported)
