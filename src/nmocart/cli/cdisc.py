"""``nmocart cdisc export``: the study's SDTM tabulations (CDISC spec section 1).

A thin adapter: read the files into a :class:`~nmocart.cdisc.inputs.StudyInput`, call
:func:`~nmocart.cdisc.export.export_study`, print errors (one line each, exit 2) or warnings.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nmocart.cdisc.export import ExportValidationError, check_created, default_created, export_study
from nmocart.cdisc.inputs import ExportInputError, read_inputs
from nmocart.cdisc.report import ReportContext, render_report
from nmocart.cdisc.validation import Check
from nmocart.screening.protocol import ProtocolError, load_protocol

app = typer.Typer(help="CDISC SDTM exports: XPT v5, Dataset-JSON 1.1, Define-XML 2.1.", no_args_is_help=True)

INPUT_ERROR = 2


@app.callback()
def _cdisc() -> None:
    """CDISC SDTM exports of the study."""


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.write("nothing was written\n")
    return typer.Exit(INPUT_ERROR)


def _write_report(path: Path | None, context: ReportContext, checks: list[Check]) -> None:
    if path is None:
        return
    try:
        path.write_text(render_report(context, checks), encoding="utf-8")
    except OSError as exc:
        raise _fail([f"--report {path}: cannot write ({exc.strerror}); give a writable file path"]) from None
    sys.stderr.write(f"report: {path}\n")


@app.command("export")
def export_command(
    screening: Annotated[
        Path, typer.Option("--screening", help="Screening records (.json or .ndjson/.jsonl).")
    ],
    safety: Annotated[Path, typer.Option("--safety", help="Safety records (.json or .ndjson/.jsonl).")],
    kinetics_samples: Annotated[
        Path, typer.Option("--kinetics-samples", help="Kinetics sample CSV (subject = safety subject_id).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to create (must not exist or be empty).")],
    enrolment: Annotated[
        Path | None,
        typer.Option("--enrolment", help="CSV candidate_id,subject_id,consent_date,enrolment_date."),
    ] = None,
    protocol_file: Annotated[
        Path | None, typer.Option("--protocol", help="Protocol definition (default: the shipped version 1).")
    ] = None,
    created: Annotated[
        str | None,
        typer.Option(
            "--created",
            help="Creation date-time YYYY-MM-DDThh:mm:ss (default: SOURCE_DATE_EPOCH, else now, UTC).",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write an HTML page of every check made.")
    ] = None,
) -> None:
    """Write xpt/, json/ and define.xml for TI, IE, DM, AE, LB, PC and PP, all or nothing.

    Exit 0 when written; 2 when any input is rejected (one error per problem) and nothing is written.
    """
    try:
        protocol = load_protocol(protocol_file)
    except ProtocolError as exc:
        raise _fail(str(exc).splitlines()) from None
    try:
        stamp = check_created(created) if created is not None else default_created()
        study_input = read_inputs(protocol, screening, safety, kinetics_samples, enrolment)
        result = export_study(study_input, out, stamp)
    except ExportInputError as exc:
        raise _fail(exc.problems) from None
    except ExportValidationError as exc:
        context = _context(protocol.id, protocol.version, protocol.parameters.sha256(), stamp, exc)
        _write_report(report, context, exc.checks)
        raise _fail([str(exc)]) from None
    except OSError as exc:
        raise _fail(
            [f"{out}: cannot write the export ({exc.strerror}); give a writable --out folder"]
        ) from None
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    datasets = [(ds.meta.name, ds.meta.label, len(ds.rows)) for ds in result.study.datasets]
    context = ReportContext(
        protocol.id, protocol.version, protocol.parameters.sha256(), stamp, datasets, result.warnings
    )
    _write_report(report, context, list(result.checks))
    for path in result.files:
        sys.stdout.write(f"{path}\n")


def _context(studyid: str, version: str, sha: str, stamp: str, exc: ExportValidationError) -> ReportContext:
    datasets = [(ds.meta.name, ds.meta.label, len(ds.rows)) for ds in exc.study.datasets]
    return ReportContext(studyid, version, sha, stamp, datasets, exc.study.warnings)
