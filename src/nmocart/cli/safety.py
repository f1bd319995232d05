"""``nmocart safety``: grade safety records and build the study's safety report."""

from __future__ import annotations

import functools
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from nmocart import batch
from nmocart.batch.safety import evaluate_item, grade_item, read_item
from nmocart.reports.safety import write_report
from nmocart.safety.parameters import load_parameters
from nmocart.safety.record import SafetyRecord

app = typer.Typer(help="Grade CRS, ICANS, labs and ICAHT; build the safety report.", no_args_is_help=True)


class Format(StrEnum):
    """Output format of ``nmocart safety grade``."""

    json = "json"
    text = "text"


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _grade_text(obj: dict[str, Any]) -> str:
    """A short human summary of one graded subject."""
    if "error" in obj:
        return f"{obj.get('subject_id', obj['source'])}: ERROR {obj['error']}"
    lines = [f"subject {obj['subject_id']}"]
    for name in ("crs", "icans"):
        ep = obj[name]
        if ep["max_grade"] is None:
            lines.append(f"  {name.upper()}: not collected")
        elif ep["max_grade"] == 0:
            lines.append(f"  {name.upper()}: none")
        else:
            days = ep["duration_days"]
            lines.append(
                f"  {name.upper()}: max grade {ep['max_grade']}, onset day {ep['onset_day']}, "
                f"{days} day{'' if days == 1 else 's'}"
            )
    if obj["worst_lab_grades"] is None:
        lines.append("  labs: not collected")
    for term, grade in (obj["worst_lab_grades"] or {}).items():
        lines.append(f"  {term}: worst grade {'ungradable' if grade is None else grade}")
    icaht = {k: "unknown" if v is None else v for k, v in obj["icaht"].items()}
    lines.append(f"  ICAHT: early {icaht['early_grade']}, late {icaht['late_grade']}")
    hypo = obj["hypogammaglobulinemia"]
    lines.append(f"  hypogammaglobulinaemia: {'unknown' if hypo is None else 'yes' if hypo else 'no'}")
    return "\n".join(lines)


@app.command()
def grade(
    files: Annotated[list[str], typer.Argument(help="Record files (.json), NDJSON files, or -.")],
    fmt: Annotated[Format, typer.Option("--format", help="json or text.")] = Format.json,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes for NDJSON input.")] = 1,
) -> None:
    """Grade CRS, ICANS, labs, ICAHT and hypogammaglobulinaemia per subject.

    One .json file gives one JSON object; several files or NDJSON (`-` is stdin) give one
    line per record. A bad record gives an error line, the run goes on, and the exit status is 2.
    """
    params = load_parameters()
    single = len(files) == 1 and not batch.is_ndjson(files[0])
    if fmt is Format.json and not single:
        summary = batch.run_batch(
            batch.iter_sources(files),
            functools.partial(evaluate_item, params),
            sys.stdout.buffer,
            jobs=jobs,
            label="subjects",
        )
        if summary.rejected:
            raise typer.Exit(2)
        return
    rejected = 0
    for item in batch.iter_sources(files):
        obj, ok = grade_item(params, item)
        rejected += not ok
        if fmt is Format.text:
            sys.stdout.write(_grade_text(obj) + "\n")
        elif ok:
            sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            _err(orjson.dumps(obj).decode())
    if rejected:
        raise typer.Exit(2)


@app.command()
def report(
    files: Annotated[list[str], typer.Argument(help="Record files (.json), NDJSON files, or -.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and the CSV tables.")],
) -> None:
    """Write the study's safety report (HTML page and CSV tables) for all readable records.

    Bad records are listed on standard error and left out; the exit status is then 2.
    """
    records: list[SafetyRecord] = []
    rejected = 0
    for item in batch.iter_sources(files):
        record = read_item(item)
        if isinstance(record, dict):
            _err(orjson.dumps(record).decode())
            rejected += 1
        else:
            records.append(record)
    try:
        written = write_report(records, load_parameters(), out)
    except OSError as exc:
        _err(
            f"error: cannot write the report into {out}: {exc.strerror or exc}; "
            "choose a writable --out folder"
        )
        raise typer.Exit(2) from None
    for path in written:
        sys.stdout.write(f"{path}\n")
    if rejected:
        raise typer.Exit(2)


@app.command()
def synth(
    subjects: Annotated[int, typer.Option("--subjects", min=1, help="Number of synthetic subjects.")] = 12,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the generator.")] = 20240115,
    out: Annotated[
        Path | None, typer.Option("--out", help="NDJSON file to write (default: standard output).")
    ] = None,
) -> None:
    """Write a seeded synthetic safety study as NDJSON: demonstration data, never clinical data.

    The same subjects and seed give the same bytes (the generator of ``nmocart demo``).
    """
    from nmocart.cli.output_file import atomic_file
    from nmocart.safety.synthetic import synthetic_study

    if out is None:
        for record in synthetic_study(subjects, seed=seed):
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
        sys.stdout.buffer.flush()
        return
    try:
        with atomic_file(out) as stream:
            for record in synthetic_study(subjects, seed=seed):
                stream.write(orjson.dumps(record) + b"\n")
    except OSError as exc:
        _err(f"error: --out {out}: cannot write: {exc.strerror or exc}; choose a writable path")
        raise typer.Exit(2) from None
    _err(f"wrote {out} ({subjects} subjects, seed {seed})")
