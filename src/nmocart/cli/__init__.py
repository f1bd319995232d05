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

from nmocart import batch
from nmocart.batch import workbook
from nmocart.batch.screening import evaluate_item, screen_item
from nmocart.cli import cdisc as cdisc_cli
from nmocart.cli import db as db_cli
from nmocart.cli import kinetics as kinetics_cli
from nmocart.cli import safety as safety_cli
from nmocart.cli import serve as serve_cli
from nmocart.cli import template as template_cli
from nmocart.reports import screening as screening_report
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
app.add_typer(db_cli.db_app, name="db")
app.add_typer(db_cli.user_app, name="user")
app.add_typer(db_cli.audit_app, name="audit")
app.command("serve")(serve_cli.serve)
app.add_typer(cdisc_cli.app, name="cdisc")
app.add_typer(template_cli.app, name="template")
app.command("import")(template_cli.import_workbook)
protocol_app = typer.Typer(help="Show the protocol definition in force.", no_args_is_help=True)
app.add_typer(protocol_app, name="protocol")

EXIT_REJECTED = 2
"""Exit status when any record was rejected or the input could not be used."""


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
    _stderr().print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(EXIT_REJECTED)


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
        typer.Option("--out", help="html: write one page per candidate into this folder."),
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
        )
        if summary.rejected:
            _stderr().print(
                f"{summary.rejected} record(s) rejected, {summary.evaluated} evaluated", style="red"
            )
            raise typer.Exit(EXIT_REJECTED)
        return
    results: list[ScreeningResult] = []
    sources: list[str] = []
    rejected = 0
    for item in workbook.screening_sources(files):
        outcome = screen_item(protocol, reference, item)
        if isinstance(outcome, ScreeningResult):
            results.append(outcome)
            sources.append(item.source)
            continue
        rejected += 1
        if output_format is ScreenFormat.json:
            sys.stdout.buffer.write(orjson.dumps(outcome, option=orjson.OPT_INDENT_2) + b"\n")
        _stderr().print(f"[bold red]rejected[/] {item.source}: {outcome['error']}", soft_wrap=True)
    if output_format is ScreenFormat.json:
        for result in results:
            sys.stdout.buffer.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    elif output_format is ScreenFormat.text:
        console = Console(highlight=False)
        for result in results:
            screening_report.print_checklist(console, result)
    elif out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for result, source in zip(results, sources, strict=True):
            page = out / f"{result.candidate_id}.html"
            page.write_text(screening_report.html_pages([result], [source]), encoding="utf-8")
            _stderr().print(f"wrote {page}")
    elif results:
        sys.stdout.write(screening_report.html_pages(results, sources))
    if rejected:
        raise typer.Exit(EXIT_REJECTED)


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
    console.print(f"[bold]{protocol.id}[/] version {protocol.version}  {protocol.registry}")
    console.print(protocol.title)
    console.print(f"parameters sha256 {protocol.parameters.sha256()}\n")
    criteria = Table("Id", "Kind", "Protocol text", show_lines=True)
    for c in protocol.criteria:
        criteria.add_row(c.id, c.kind, c.text)
    console.print(criteria)
    params = Table("Parameter", "Value", "Meaning")
    fields = type(protocol.parameters).model_fields
    for key, value in protocol.parameters.model_dump(mode="json").items():
        params.add_row(key, orjson.dumps(value).decode(), fields[key].description or "")
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
    written = demo_module.run(out, console)
    console.print(f"\n[bold]Wrote {len(written)} files under {out}/[/]")
    for path in written:
        console.print(f"  {path}")


def main() -> None:
    """Entry point of the ``nmocart`` script."""
    app()
