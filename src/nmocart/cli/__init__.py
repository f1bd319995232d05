"""The ``nmocart`` command line: a thin adapter that parses, calls the core, and renders."""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.text import Text

from nmocart import __version__, batch
from nmocart.batch import workbook
from nmocart.batch.screening import evaluate_item, screen_item
from nmocart.cli import cdisc as cdisc_cli
from nmocart.cli import db as db_cli
from nmocart.cli import exits
from nmocart.cli import fhir as fhir_cli
from nmocart.cli import kinetics as kinetics_cli
from nmocart.cli import population as population_cli
from nmocart.cli import safety as safety_cli
from nmocart.cli import serve as serve_cli
from nmocart.cli import template as template_cli
from nmocart.cli.exits import finish_batch
from nmocart.reports import screening as screening_report
from nmocart.reports.output_folder import OutputFolderError, check_target, final_paths, output_folder
from nmocart.screening.eligibility import ScreeningResult
from nmocart.screening.protocol import Protocol, ProtocolError, load_protocol
from nmocart.screening.record import ScreeningRecord

app = typer.Typer(
    name="nmocart",
    help="CD19 CAR-T for NMOSD (NCT05828212): screening, safety grading, cellular kinetics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(safety_cli.app, name="safety")
app.add_typer(kinetics_cli.app, name="kinetics")
app.add_typer(cdisc_cli.app, name="cdisc")
app.add_typer(template_cli.app, name="template")
app.command("import")(template_cli.import_workbook)
app.add_typer(fhir_cli.app, name="fhir")
app.add_typer(db_cli.db_app, name="db")
app.add_typer(db_cli.user_app, name="user")
app.add_typer(db_cli.audit_app, name="audit")
app.command("prescreen")(population_cli.prescreen)
app.command("serve")(serve_cli.serve)
protocol_app = typer.Typer(help="Show the protocol definition in force.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")

EXIT_REJECTED = exits.EXIT_REJECTED


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"nmocart {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """CD19 CAR-T for NMOSD (NCT05828212): screening, safety grading, cellular kinetics."""


class ScreenFormat(StrEnum):
    """Output formats of ``nmocart screen``."""

    json = "json"
    text = "text"
    html = "html"


class SchemaName(StrEnum):
    """Record formats whose JSON Schema can be printed."""

    record = "record"
    safety = "safety"


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error on stderr and return the exit to raise."""
    _stderr().print(Text.assemble(("error:", "bold red"), f" {message}"), soft_wrap=True)
    return typer.Exit(EXIT_REJECTED)


def _check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a file before any work is done."""
    try:
        check_target(out)
    except OutputFolderError as exc:
        raise fail(str(exc)) from None


def _protocol(path: Path | None) -> Protocol:
    try:
        return load_protocol(path)
    except ProtocolError as exc:
        raise fail(str(exc)) from None


def _as_of(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"--as-of: {text!r} is not a calendar date; write YYYY-MM-DD") from None


ProtocolOption = Annotated[
    Path | None,
    typer.Option("--protocol", help="A protocol definition JSON file (default: the shipped version 1)."),
]


@app.command()
def screen(
    files: Annotated[
        list[str],
        typer.Argument(
            help="Record files (one JSON object each), .ndjson/.jsonl files, .xlsx workbooks, or - (stdin)."
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: each record's screening_date)."),
    ] = None,
    output_format: Annotated[
        ScreenFormat,
        typer.Option("--format", help="json (NDJSON for several records), text or html."),
    ] = ScreenFormat.json,
    protocol_file: ProtocolOption = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Worker processes for NDJSON batches.")] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="html only: write one page per candidate into this folder (atomically)."),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."),
    ] = None,
) -> None:
    """Screen candidates against the protocol's 19 eligibility criteria.

    Exit status 0 when every record was evaluated, 2 when any was rejected.
    """
    protocol = _protocol(protocol_file)
    reference = _as_of(as_of)
    if out is not None:
        if output_format is not ScreenFormat.html:
            raise fail(
                f"--out is only used with --format html (one page per candidate); "
                f"drop --out or add --format html (--format {output_format.value} prints to stdout)"
            )
        _check_out(out)
    single = len(files) == 1 and not batch.is_ndjson(files[0]) and not workbook.is_workbook(files[0])
    if output_format is ScreenFormat.json and not single:
        show = sys.stderr.isatty() if progress is None else progress
        summary = batch.run_batch(
            workbook.screening_sources(files),
            partial(evaluate_item, protocol, reference),
            sys.stdout.buffer,
            jobs=jobs,
            progress_total=batch.known_size(files),
            show_progress=show,
            label="candidates",
            title="screening",
            id_key="candidate_id",
        )
        finish_batch(summary)
        return
    results: list[ScreeningResult] = []
    sources: list[str] = []
    rejected = 0
    seen = batch.FirstSeen("candidate_id")
    crashes: list[str] = []
    for item in workbook.screening_sources(files):
        outcome: ScreeningResult | dict[str, object]
        try:
            outcome = screen_item(protocol, reference, item)
        except Exception:
            failed = batch.internal_error(item.source)
            crashes.append(failed.crash or "")
            outcome = orjson.loads(failed.line)
        if isinstance(outcome, ScreeningResult):
            problem = seen.duplicate(outcome.candidate_id, item.source)
            if problem is not None:
                outcome = batch.error_object(item.source, "candidate_id", outcome.candidate_id, [problem])
        if isinstance(outcome, ScreeningResult):
            results.append(outcome)
            sources.append(item.source)
            continue
        rejected += 1
        if output_format is ScreenFormat.json:
            sys.stdout.buffer.write(orjson.dumps(outcome, option=orjson.OPT_INDENT_2) + b"\n")
        problem = f"{item.source}: {outcome['error']}"
        _stderr().print(Text.assemble(("rejected", "bold red"), f" {problem}"), soft_wrap=True)
    if output_format is ScreenFormat.json:
        for result in results:
            sys.stdout.buffer.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    elif output_format is ScreenFormat.text:
        console = Console(highlight=False)
        for result in results:
            screening_report.print_checklist(console, result)
    elif out is not None:
        pages = [f"{result.candidate_id}.html".casefold() for result in results]
        for name in sorted({p for p in pages if pages.count(p) > 1}):
            raise fail(
                f"--out: several candidates would be written to the same page {name!r} (their ids "
                "differ only in upper/lower case); give them ids that differ in letters, not only case"
            )
        try:
            with output_folder(out) as staging:  # all pages or none
                for result, source in zip(results, sources, strict=True):
                    page = f"{result.candidate_id}.html"
                    html = screening_report.html_pages([result], [source])
                    (staging / page).write_text(html, encoding="utf-8")
        except OutputFolderError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            why = exc.strerror or exc
            raise fail(f"--out {out}: cannot write ({why}); choose a writable folder") from None
        for result in results:
            _stderr().print(Text(f"wrote {out / f'{result.candidate_id}.html'}"))
    elif results:
        sys.stdout.write(screening_report.html_pages(results, sources))
    finish_batch(batch.BatchSummary(len(results), rejected, crashes), summarise=len(files) > 1)


@app.command()
def schema(
    name: Annotated[SchemaName, typer.Argument(help="record (screening) or safety.")],
) -> None:
    """Print the JSON Schema of a record format, generated from the validating models."""
    if name is SchemaName.record:
        document = ScreeningRecord.model_json_schema()
    else:
        from nmocart.safety.record import SafetyRecord

        document = SafetyRecord.model_json_schema()
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


class ProtocolFormat(StrEnum):
    """Output formats of ``nmocart protocol show``."""

    json = "json"
    text = "text"


@protocol_app.command("show")
def protocol_show(
    protocol_file: ProtocolOption = None,
    output_format: Annotated[ProtocolFormat, typer.Option("--format")] = ProtocolFormat.json,
) -> None:
    """Print the protocol definition: criteria with their verbatim text, and the parameters."""
    protocol = _protocol(protocol_file)
    if output_format is ProtocolFormat.json:
        document = protocol.model_dump(mode="json")
        document["parameters_sha256"] = protocol.parameters.sha256()
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.table import Table

    console = Console(highlight=False)
    # a protocol file is user data: its text goes to rich as Text, never parsed as markup
    console.print(Text.assemble((protocol.id, "bold"), f" version {protocol.version}  {protocol.registry}"))
    console.print(Text(protocol.title))
    console.print(Text(f"parameters sha256 {protocol.parameters.sha256()}\n"))
    criteria = Table("Id", "Kind", "Protocol text", show_lines=True)
    for c in protocol.criteria:
        criteria.add_row(Text(c.id), Text(c.kind), Text(c.text))
    console.print(criteria)
    params = Table("Parameter", "Value", "Meaning")
    fields = type(protocol.parameters).model_fields
    for key, value in protocol.parameters.model_dump(mode="json").items():
        params.add_row(Text(key), Text(orjson.dumps(value).decode()), Text(fields[key].description or ""))
    console.print(params)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for everything the demo writes.")] = Path(
        "demo-output"
    ),
) -> None:
    """Run the main job on the embedded defaults: screening, safety and kinetics demos."""
    from nmocart import demo as demo_module

    console = Console(highlight=False)
    _check_out(out)
    try:
        with output_folder(out) as staging:  # everything or nothing under --out
            written = final_paths(demo_module.run(staging, console, shown_as=out), staging, out)
    except OutputFolderError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"--out {out}: cannot write ({exc.strerror or exc}); choose a writable folder") from None
    console.print(Text(f"\nWrote {len(written)} files under {out}/", style="bold"))
    for path in written:
        console.print(Text(f"  {path}"))


def main() -> None:
    """Entry point of the ``nmocart`` script: an unexpected exception is reported as a bug.

    Exit statuses: 0 everything evaluated, 2 input rejected, 70 internal error (a bug; the
    traceback is saved to a crash file), 130 interrupted.
    """
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; stop quietly.
        _silence_stdout()
        raise SystemExit(0) from None
    except Exception as exc:
        exits.report_exception(exc)
        raise SystemExit(exits.EXIT_BUG) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
