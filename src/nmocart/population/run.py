"""``nmocart prescreen`` end to end: engine in, per-patient assessments, every output written atomically.

The engine (DuckDB or Spark) reads, flattens and groups the input and assesses each patient in
its workers, which return the patients' output lines and a mergeable tally per chunk; this
module writes the lines in candidate order, merges the tallies, and writes the intake report
(the FHIR intake's own tally), ``results.ndjson``, ``attrition.csv``, ``worklist.csv``,
``coverage.csv`` and ``report.html`` into a temporary folder beside ``--out``, which replaces
``--out`` only once everything is written.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from nmocart.fhir.grouping import medication_outcome
from nmocart.fhir.output import RECORDS, REPORT, SOURCES, write_json
from nmocart.fhir.resources import Origin, Resource
from nmocart.population.assess import ChunkOutput, ChunkTally, RunSettings
from nmocart.population.flatten import FlatRow, InputAccount
from nmocart.population.outputs import RESULTS, PopulationTally, write_outputs

Advance = Callable[[int, int], None]
"""Called with (patients done, patients in all) as assessments arrive."""


class Engine(Protocol):
    """What ``run_prescreen`` needs from an engine (DuckDB or Spark)."""

    account: InputAccount
    name: str

    def load(self, paths: list[str]) -> None:
        """Read and flatten the input."""

    def not_read(self) -> dict[str, int]:
        """Resources of types the intake does not read, by type."""

    def duplicates(self) -> list[tuple[str, list[Origin]]]:
        """References read more than once, with the places of their copies."""

    def medications(self) -> Iterator[FlatRow]:
        """Every Medication row."""

    def patient_count(self) -> int:
        """Patient resources read."""

    def assessments(self, settings: RunSettings, jobs: int) -> Iterator[ChunkOutput]:
        """Chunks of assessed patients in key order: their output lines and the chunk's tally."""

    def close(self) -> None:
        """Release the engine."""


@dataclass
class PrescreenRun:
    """What a run found: the intake report, the population tally and whether anything was reported."""

    report: dict[str, Any]
    tally: PopulationTally
    parse_errors: int
    reported: bool


def _replace(target: Path, staged: Path) -> None:
    """Move ``staged`` to ``target``; an existing ``target`` is moved aside first, then removed."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)


def _consume(
    engine: Engine, settings: RunSettings, jobs: int, staged: Path, advance: Advance | None
) -> ChunkTally:
    """Write every patient's lines in key order and merge the chunks' tallies."""
    total = engine.patient_count()
    tally = ChunkTally()
    done = 0
    with (
        (staged / RECORDS).open("wb") as records,
        (staged / SOURCES).open("wb") as sources,
        (staged / RESULTS).open("wb") as results,
    ):
        for chunk in engine.assessments(settings, jobs):
            records.write(chunk.records)
            sources.write(chunk.sources)
            results.write(chunk.results)
            chunk_tally: ChunkTally = pickle.loads(chunk.tally)
            tally.merge(chunk_tally)
            done += chunk.patients
            if advance is not None:
                advance(done, total)
    return tally


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
            tally = _consume(engine, settings, jobs, staged, advance)
            intake = tally.intake
            for rtype, count in engine.not_read().items():
                intake.add_counted(rtype, "ignored", "type_not_read", (), count)
            for ref, origins in engine.duplicates():
                intake.add_duplicate(ref, origins)
            for row in engine.medications():
                medication = Resource(
                    row.rtype,
                    row.ref,
                    orjson.loads(row.raw),
                    Origin(row.file, row.line, row.entry),
                    row.pkey,
                    row.mkey,
                )
                consulted = row.ref in tally.consulted
                intake.add_outcome(medication_outcome(medication, consulted, settings.concept_map))
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
        population = tally.population
        decisions = population.decisions
        summary: dict[str, object] = {
            "protocol": f"{settings.protocol.id} v{settings.protocol.version}",
            "parameters_sha256": settings.protocol.parameters.sha256(),
            "concept_map_sha256": settings.concept_map.sha256,
            "screening_date": settings.screening_date.isoformat(),
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
