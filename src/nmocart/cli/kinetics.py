"""``nmocart kinetics``: non-compartmental analysis of CAR-T cellular kinetics.

A thin adapter: read the file, call the domain core, render. Input errors go to stderr as
one line per problem (row, column, fix) and exit with status 2, never a traceback. A
subject with a problem is left out of the table (its problems on stderr, exit 2); the
other subjects are analysed. The table on stdout is computed streaming, chunk by chunk
(:mod:`nmocart.batch.kinetics`), so memory does not grow with the file.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer

from nmocart.batch import ClosedStdinError, stdin_bytes
from nmocart.batch.kinetics import FileIndex, json_document, spool_stdin, stream_nca
from nmocart.cli.exits import EXIT_BUG, EXIT_REJECTED, report_bug
from nmocart.kernel.json_text import looks_utf16
from nmocart.kinetics.nca import NcaOptions, compute_nca
from nmocart.kinetics.samples import MAX_PROBLEMS, Problem, SampleInputError, read_usable_samples
from nmocart.kinetics.table import COLUMNS, TIME_UNIT, table_csv, table_json
from nmocart.reports.output_folder import OutputFolderError, check_target, output_folder

app = typer.Typer(
    help="Non-compartmental analysis of CAR-T expansion and persistence.",
    no_args_is_help=True,
)

INPUT_ERROR = EXIT_REJECTED
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


@contextlib.contextmanager
def _input_file(file: str) -> Iterator[Path]:
    """The CSV to read: the named file, or standard input spooled to a temporary file."""
    if file != "-":
        path = Path(file)
        if path.is_dir():
            _fail([f"{file}: is a directory; give the path of the sample CSV"])
        if not path.exists():
            _fail([f"{file}: no such file; give the path of the sample CSV"])
        try:
            with open(path, "rb") as stream:
                head = stream.read(4)
        except OSError:
            head = b""
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or looks_utf16(head):
            _fail([f"{file}: the file is UTF-16 encoded; save the file as UTF-8"])
        yield path
        return
    try:
        spooled = spool_stdin(stdin_bytes())
    except ClosedStdinError as exc:
        _fail([f"-: {exc}"])
    except OSError as exc:
        _fail([f"-: cannot read standard input ({exc.strerror or exc}); pipe the CSV in or give a file"])
    try:
        yield spooled
    finally:
        spooled.unlink(missing_ok=True)


def _report(name: str, problems: list[Problem], count: int, rejected: int) -> None:
    """The problems of the subjects left out, on stderr (at most ``MAX_PROBLEMS`` lines)."""
    for problem in problems[:MAX_PROBLEMS]:
        typer.echo(f"error: {name}: {problem.text}", err=True)
    if count > MAX_PROBLEMS:
        typer.echo(f"error: {name}: ... and {count - MAX_PROBLEMS} more problems", err=True)
    typer.echo(
        f"{rejected} subject(s) left out of the table because of the problems above; "
        "correct them and run again",
        err=True,
    )


def _left_out(problems: list[Problem] | set[str | None]) -> int:
    """How many subjects were left out (rows without a readable subject are not subjects)."""
    subjects = problems if isinstance(problems, set) else {p.subject for p in problems}
    return len(subjects - {None})


@app.command("nca")
def nca_command(
    file: Annotated[
        str, typer.Argument(help="Long CSV: subject,time,conc,blq[,analyte,unit,lloq]; - reads stdin.")
    ],
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
    options = NcaOptions(auc_method=auc_method.value)
    name = "<stdin>" if file == "-" else file
    try:
        with _input_file(file) as path:
            if out is not None:
                _with_outputs(path, name, options, fmt, out)
                return
            _streamed(path, name, options, fmt)
    except SampleInputError as exc:
        _fail([f"{name}: {p}" for p in exc.problems])
    except UnicodeDecodeError as exc:
        _fail([f"{name}: not UTF-8 text ({exc.reason}); save the file as UTF-8"])
    except OSError as exc:
        _fail([f"{name}: cannot be read ({exc.strerror or exc}); check the path and permissions"])


def _streamed(path: Path, name: str, options: NcaOptions, fmt: FormatChoice) -> None:
    """The table on stdout, computed chunk by chunk."""
    if fmt is FormatChoice.CSV:
        out = sys.stdout
        header_written = False

        def emit(line: str) -> None:
            nonlocal header_written
            if not header_written:
                out.write(_CSV_HEADER)
                header_written = True
            out.write(line)

        tables, info = stream_nca(path, options, emit)
        if not header_written:
            out.write(_CSV_HEADER)
        for _, line in tables.csv_rows:
            out.write(line + "\n")
        out.flush()
    else:
        tables, info = stream_nca(path, options, None)
        records = [record for _, record in tables.records]
        for piece in json_document(options, records, TIME_UNIT):
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
    _finish(name, info)


def _finish(name: str, info: FileIndex) -> None:
    """Problems and bugs on stderr, then exit 70 (a subject hit a bug) or 2 (input problems)."""
    if info.crashes:
        report_bug(info.crashes, f"{len(info.crashes)} subject(s) could not be analysed and are left out")
    if info.problem_count:
        _report(name, info.problems, info.problem_count, _left_out(info.bad_subjects))
    if info.crashes:
        raise typer.Exit(EXIT_BUG)
    if info.problem_count:
        raise typer.Exit(INPUT_ERROR)


def _with_outputs(path: Path, name: str, options: NcaOptions, fmt: FormatChoice, out: Path) -> None:
    """With --out: the whole file in memory (plots and the report need every profile)."""
    text = path.read_text(encoding="utf-8-sig")
    samples, problems = read_usable_samples(text)
    if samples.profiles.n == 0:
        _report(name, problems, len(problems), _left_out(problems))
        _fail([f"{name}: no subject is left to analyse; nothing was written to {out}"])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = compute_nca(samples.profiles, options)
    # Written before anything reaches stdout, so a failure leaves no partial table behind.
    from nmocart.reports.kinetics import write_outputs

    try:  # atomically: a failure leaves no partial outputs behind
        with output_folder(out) as staging:
            written = write_outputs(staging, samples, result, source_name=Path(name).name)
    except OutputFolderError as exc:
        _fail([str(exc)])
    except OSError as exc:
        _fail([f"--out {out}: cannot write the outputs ({exc.strerror or exc}); give a writable folder"])
    typer.echo(f"wrote {len(written)} files to {out}", err=True)
    if fmt is FormatChoice.JSON:
        sys.stdout.buffer.write(table_json(samples, result))
        sys.stdout.flush()
    else:
        typer.echo(table_csv(samples, result), nl=False)
    if problems:
        _report(name, problems, len(problems), _left_out(problems))
        raise typer.Exit(INPUT_ERROR)


_CSV_HEADER = ",".join(COLUMNS) + "\n"
