"""``nmocart template`` and ``nmocart import``: the screening record as an Excel workbook and back.

The workbook layout and its reader live in :mod:`nmocart.batch.workbook`; this is the CLI glue.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from nmocart.batch import iter_sources
from nmocart.batch.workbook import WorkbookError, is_workbook, read_workbook_file, write_workbook
from nmocart.cli.output_file import atomic_file
from nmocart.reports.record_guide import field_guide
from nmocart.screening.record import RecordError, ScreeningRecord, parse_record

app = typer.Typer(help="Blank forms for the study team's own data.", no_args_is_help=True)

EXIT_REJECTED = 2


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _write_atomically(target: Path, data: bytes) -> None:
    with atomic_file(target) as stream:
        stream.write(data)


def _shipped_examples() -> list[ScreeningRecord]:
    from nmocart.demo import EXAMPLES, example_bytes

    return [parse_record(example_bytes(name)) for name in EXAMPLES]


@app.command("record")
def record(
    out: Annotated[Path, typer.Option("--out", help="The workbook to write (.xlsx).")],
    sources: Annotated[
        list[str] | None,
        typer.Option("--from", help="Fill it with these records (JSON, NDJSON or - for stdin); repeatable."),
    ] = None,
    examples: Annotated[
        bool, typer.Option("--examples", help="Fill it with the three shipped examples.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the screening-record workbook: one sheet per section, drop-downs, notes.

    Empty by default; ``--examples`` or ``--from`` fill it (the same records give the same bytes).
    """
    if not is_workbook(str(out)):
        _err(f"error: --out {out}: the workbook must end in .xlsx; e.g. --out candidate.xlsx")
        raise typer.Exit(EXIT_REJECTED)
    if out.exists() and not force:
        _err(f"error: --out {out} exists and may hold entered data; choose another name or add --force")
        raise typer.Exit(EXIT_REJECTED)
    records = _shipped_examples() if examples else []
    rejected = 0
    for item in iter_sources(sources or []):
        try:
            if item.read_error is not None:
                raise RecordError([item.read_error], None)
            records.append(parse_record(item.payload))
        except RecordError as exc:
            rejected += 1
            _err(f"rejected {item.source}: {'; '.join(exc.problems)}")
    if rejected:
        _err(f"error: {rejected} record(s) rejected; nothing written")
        raise typer.Exit(EXIT_REJECTED)
    try:
        data = write_workbook(records)
        _write_atomically(out, data)
    except WorkbookError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except OSError as exc:
        _err(f"error: --out {out}: cannot write: {exc.strerror or exc}; choose a writable path")
        raise typer.Exit(EXIT_REJECTED) from None
    _err(f"wrote {out} ({len(records)} candidate(s))")


@app.command("guide")
def guide() -> None:
    """Print the field guide of the screening record (Markdown; docs/record.md is this output)."""
    sys.stdout.write(field_guide())


def import_workbook(
    files: Annotated[
        list[str], typer.Argument(help="Workbooks (.xlsx) in the layout of nmocart template record.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="NDJSON file for the records (default: standard output).")
    ] = None,
) -> None:
    """Convert workbooks to screening records, one JSON line each (the input of nmocart screen).

    A rejected candidate is reported on standard error with the cells to fix and left out of
    the records; the exit status is then 2.
    """
    lines: list[bytes] = []
    rejected = 0
    for path in files:
        if not is_workbook(path):
            rejected += 1
            _err(
                orjson.dumps(
                    {"source": path, "error": "import reads .xlsx workbooks; screen reads JSON"}
                ).decode()
            )
            continue
        for entry in read_workbook_file(path):
            if entry.record is None:
                rejected += 1
                problem: dict[str, object] = {"source": entry.source}
                if entry.candidate_id is not None:
                    problem["candidate_id"] = entry.candidate_id
                problem["error"] = "; ".join(entry.problems)
                _err(orjson.dumps(problem).decode())
            else:
                lines.append(orjson.dumps(entry.record.model_dump(mode="json")) + b"\n")
    data = b"".join(lines)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            _write_atomically(out, data)
        except OSError as exc:
            _err(f"error: --out {out}: cannot write: {exc.strerror or exc}; choose a writable path")
            raise typer.Exit(EXIT_REJECTED) from None
    if rejected:
        _err(f"{rejected} candidate(s) rejected, {len(lines)} imported")
        raise typer.Exit(EXIT_REJECTED)
