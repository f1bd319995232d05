"""``nmocart prescreen`` and ``nmocart fhir synth``: population pre-screening and its synthetic data."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nmocart.fhir import synth as synth_core

if TYPE_CHECKING:
    from nmocart.population.run import Engine

EXIT_REJECTED = 2
"""Exit status when any input could not be used (kept equal to the root app's)."""


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _date(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _stderr().print(f"[bold red]error:[/] {option}: {text!r} is not a calendar date; write YYYY-MM-DD")
        raise typer.Exit(EXIT_REJECTED) from None


def synth(
    patients: Annotated[int, typer.Option("--patients", min=0, help="How many patients to write.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the <type>.ndjson files.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed: the same seed gives the same bytes.")] = 1,
    export_date: Annotated[
        str,
        typer.Option("--export-date", help="Date of the simulated export; nothing is dated after it."),
    ] = synth_core.DEFAULT_EXPORT_DATE.isoformat(),
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."),
    ] = None,
) -> None:
    """Write a seeded synthetic hospital population as FHIR R4 Bulk Data NDJSON (one file per type)."""
    export = _date("--export-date", export_date)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(
        TextColumn("[bold]synthesising"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("patients"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    with bar:
        task = bar.add_task("synth", total=patients)
        summary = synth_core.write_population(
            out, patients, seed, export, on_patient=lambda n: bar.advance(task, n)
        )
    _stderr().print(
        f"wrote {summary.patients} patients ({summary.nmosd} with NMOSD), "
        f"{sum(summary.resources.values())} resources, {summary.bytes_written / 1e6:.1f} MB in {out}/"
    )


class EngineName(StrEnum):
    """The engines of ``nmocart prescreen``."""

    duckdb = "duckdb"
    spark = "spark"


def prescreen(
    paths: Annotated[
        list[Path], typer.Argument(help="FHIR NDJSON (.ndjson, .ndjson.gz), Bundles (.json), folders.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for every output (replaced atomically).")],
    screening_date: Annotated[
        str | None,
        typer.Option("--screening-date", help="Default screening date YYYY-MM-DD (default: today, printed)."),
    ] = None,
    engine: Annotated[
        EngineName, typer.Option("--engine", help="duckdb (embedded) or spark.")
    ] = EngineName.duckdb,
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL (default local[*]).")
    ] = "local[*]",
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Worker processes / engine threads.")] = max(
        1, os.cpu_count() or 1
    ),
    concept_map_file: Annotated[
        Path | None,
        typer.Option("--concept-map", help="A site's concept map CSV (default: shipped version 1)."),
    ] = None,
    protocol_file: Annotated[
        Path | None, typer.Option("--protocol", help="A protocol definition JSON file (default: version 1).")
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."),
    ] = None,
) -> None:
    """Pre-screen a whole FHIR population against the protocol's 19 criteria.

    Writes results.ndjson, attrition.csv, worklist.csv, coverage.csv, report.html and the intake
    files (records.ndjson, sources.ndjson, intake-report.json). Exit status 0 when everything was
    read and screened, 2 when anything was reported (parse errors, rejected patients, orphans, ...).
    """
    from nmocart.cli.fhir import concept_map_option, screening_date_option
    from nmocart.population.assess import RunSettings
    from nmocart.population.run import run_prescreen
    from nmocart.screening.protocol import ProtocolError, load_protocol

    day = screening_date_option(screening_date)
    concept_map_option(concept_map_file)
    try:
        load_protocol(protocol_file)
    except ProtocolError as exc:
        _stderr().print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED) from None
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        _stderr().print(f"[bold red]error:[/] no such file or folder: {', '.join(missing)}; check the path")
        raise typer.Exit(EXIT_REJECTED)
    settings = RunSettings(
        day,
        str(concept_map_file) if concept_map_file else None,
        str(protocol_file) if protocol_file else None,
    )
    factory = _engine_factory(engine, jobs, spark_master)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(
        TextColumn("[bold]pre-screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("patients"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    with bar:
        task = bar.add_task("prescreen", total=None)
        run = run_prescreen(
            factory,
            [str(p) for p in paths],
            settings,
            out,
            jobs,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    report, tally = run.report, run.tally
    patients = report["patients"]
    console = _stderr()
    console.print(
        f"{patients['read']} patients read, {tally.screened} screened "
        f"({tally.decisions['eligible']} eligible, {tally.decisions['incomplete']} incomplete, "
        f"{tally.decisions['ineligible']} ineligible), {len(patients['rejected'])} rejected; "
        f"{run.parse_errors} parse errors, {len(report['orphans'])} orphan resources, "
        f"{len(report['duplicate_ids'])} duplicate ids"
    )
    console.print(f"wrote {out}/")
    if run.reported:
        raise typer.Exit(EXIT_REJECTED)


def _engine_factory(engine: EngineName, jobs: int, spark_master: str) -> Callable[[Path], Engine]:
    if engine is EngineName.duckdb:
        from nmocart.population.duckdb_engine import DuckDBEngine

        return lambda scratch: DuckDBEngine(scratch, jobs)
    from nmocart.population.spark_engine import SparkEngine

    return lambda scratch: SparkEngine(scratch, jobs, spark_master)
