"""``nmocart fhir``: FHIR R4 intake commands (spec fhir.md).

``records`` builds screening records from FHIR; ``synth`` (the synthetic population) is
registered below by its own module.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from nmocart.fhir.concept_map import ConceptMap, ConceptMapError, load_concept_map
from nmocart.fhir.grouping import run_intake

app = typer.Typer(help="FHIR R4 intake: screening records from EHR exports.", no_args_is_help=True)

EXIT_REPORTED = 2
"""Exit status when anything was reported: parse errors, rejected patients, orphans, duplicate ids."""


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def screening_date_option(text: str | None) -> dt.date:
    """The run's default screening date ``D``: the option's date, else today (printed either way)."""
    if text is None:
        day = dt.date.today()
        _stderr().print(f"screening date (default, today): {day.isoformat()}")
        return day
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        _stderr().print(
            f"[bold red]error:[/] --screening-date: {text!r} is not a calendar date; write YYYY-MM-DD"
        )
        raise typer.Exit(EXIT_REPORTED) from None
    _stderr().print(f"screening date: {day.isoformat()}")
    return day


def concept_map_option(path: Path | None) -> ConceptMap:
    """The map of ``--concept-map``, or the shipped version 1; a bad file exits 2 naming its problems."""
    try:
        return load_concept_map(path)
    except ConceptMapError as exc:
        _stderr().print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_REPORTED) from None


ScreeningDateOption = Annotated[
    str | None,
    typer.Option("--screening-date", help="Default screening date YYYY-MM-DD (default: today, printed)."),
]
ConceptMapOption = Annotated[
    Path | None,
    typer.Option("--concept-map", help="A site's concept map CSV (default: the shipped version 1)."),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress", help="Progress bar on stderr (default: when stderr is a terminal)."
    ),
]


@app.command()
def records(
    paths: Annotated[
        list[Path], typer.Argument(help="NDJSON (.ndjson, .ndjson.gz), Bundle (.json) files or folders.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for records.ndjson, sources.ndjson, intake-report.json.")
    ],
    screening_date: ScreeningDateOption = None,
    concept_map_file: ConceptMapOption = None,
    progress: ProgressOption = None,
) -> None:
    """Build one screening record per FHIR Patient, with provenance and an intake report.

    Exit status 0 when everything was read and built, 2 when anything was reported
    (parse errors, rejected patients, orphan resources, duplicate ids).
    """
    day = screening_date_option(screening_date)
    concept_map = concept_map_option(concept_map_file)
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        _stderr().print(f"[bold red]error:[/] no such file or folder: {', '.join(missing)}; check the path")
        raise typer.Exit(EXIT_REPORTED)
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
    )
    tasks: dict[str, TaskID] = {}

    def advance(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        run = run_intake([str(p) for p in paths], day, concept_map, out, advance if show else None)
    report = run.report
    patients = report["patients"]
    console = _stderr()
    console.print(
        f"{patients['read']} patients read, {patients['records_built']} records built,"
        f" {len(patients['rejected'])} rejected; {run.parse_errors} parse errors,"
        f" {len(report['orphans'])} orphan resources, {len(report['duplicate_ids'])} duplicate ids,"
        f" {len(report['warnings'])} warnings, {len(report['unmapped_codes'])} unmapped codes",
        soft_wrap=True,
    )
    console.print(
        f"wrote {out / 'records.ndjson'}, {out / 'sources.ndjson'}, {out / 'intake-report.json'}",
        soft_wrap=True,
    )
    if run.reported:
        raise typer.Exit(EXIT_REPORTED)


# ---- `nmocart fhir synth` (population's module) registers its command on `app` below this line.

from nmocart.cli import population as population_cli  # noqa: E402 (registered after the group exists)

app.command("synth")(population_cli.synth)
