"""``nmocart kinetics``: non-compartmental analysis of CAR-T cellular kinetics.

A thin adapter: read the file, call the domain core, render. Input errors go to stderr as
one line per problem (row, column, fix) and exit with status 2, never a traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from nmocart.kinetics.nca import NcaOptions, compute_nca
from nmocart.kinetics.samples import SampleInputError, read_samples
from nmocart.kinetics.table import table_csv, table_json
from nmocart.reports.output_folder import OutputFolderError, check_target, output_folder

app = typer.Typer(
    help="Non-compartmental analysis of CAR-T expansion and persistence.",
    no_args_is_help=True,
)

INPUT_ERROR = 2
"""Exit status for input the analysis cannot use."""


class AucMethodChoice(StrEnum):
    """The AUC methods offered on the command line."""

    LIN_LOG = "lin-up/log-down"
    LINEAR = "linear"


class FormatChoice(StrEnum):
    """Output formats of the per-subject table."""

    CSV = "csv"
    JSON = "json"


def _fail(lines: list[str]) -> NoReturn:
    """Print each problem to stderr and exit with the input-error status."""
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(INPUT_ERROR)


@app.callback()
def _kinetics() -> None:
    """Non-compartmental analysis of CAR-T expansion and persistence."""


@app.command("nca")
def nca_command(
    file: Annotated[Path, typer.Argument(help="Long CSV: subject,time,conc,blq[,analyte,unit,lloq]")],
    auc_method: Annotated[
        AucMethodChoice, typer.Option("--auc-method", help="AUC trapezoid method.")
    ] = AucMethodChoice.LIN_LOG,
    fmt: Annotated[
        FormatChoice, typer.Option("--format", help="Format of the table on stdout.")
    ] = FormatChoice.CSV,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the table, summary, plots and HTML report here."),
    ] = None,
) -> None:
    """Per-subject NCA table (spec section 3) on stdout; with --out also summary and plots."""
    if out is not None:
        try:
            check_target(out)  # a file named as --out is refused before any work
        except OutputFolderError as exc:
            _fail([str(exc)])
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail([f"{file}: no such file; give the path of the sample CSV"])
    except IsADirectoryError:
        _fail([f"{file}: is a directory; give the path of the sample CSV"])
    except UnicodeDecodeError as exc:
        _fail([f"{file}: not UTF-8 text ({exc.reason}); save the CSV as UTF-8"])
    except OSError as exc:
        _fail([f"{file}: cannot be read ({exc.strerror}); check the path and permissions"])
    try:
        samples = read_samples(text)
    except SampleInputError as exc:
        _fail([f"{file}: {p}" for p in exc.problems])
    result = compute_nca(samples.profiles, NcaOptions(auc_method=auc_method.value))
    if out is not None:
        # Written before anything reaches stdout, and atomically: a failure leaves no partial
        # table behind, in the folder or on stdout.
        from nmocart.reports.kinetics import write_outputs

        try:
            with output_folder(out) as staging:
                written = write_outputs(staging, samples, result, source_name=file.name)
        except OutputFolderError as exc:
            _fail([str(exc)])
        except OSError as exc:
            _fail([f"--out {out}: cannot write the outputs ({exc.strerror}); give a writable folder"])
        typer.echo(f"wrote {len(written)} files to {out}", err=True)
    if fmt is FormatChoice.JSON:
        sys.stdout.buffer.write(table_json(samples, result))
        sys.stdout.flush()
    else:
        typer.echo(table_csv(samples, result), nl=False)
