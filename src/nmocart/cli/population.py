"""``nmocart prescreen`` and ``nmocart fhir synth``: population pre-screening and its synthetic data."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nmocart.fhir import synth as synth_core

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
