"""Exit statuses, and what happens when nmocart itself fails.

0: everything was evaluated; 2 (``EXIT_REJECTED``): a record was rejected or the input
could not be used; 70 (``EXIT_BUG``): an internal error, one line on stderr and the
traceback in a crash file; 130: interrupted.

An unexpected exception is a bug, never the user's input: the user gets one line saying
so and naming the crash file that holds the traceback (to attach to a bug report), and
the documented exit status ``EXIT_BUG`` (70, ``EX_SOFTWARE`` of sysexits.h).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer

from nmocart.batch import BatchSummary

EXIT_REJECTED = 2
"""Exit status when any record was rejected or the input could not be used."""

EXIT_BUG = 70
"""Exit status of an internal error (a bug in nmocart): ``EX_SOFTWARE``."""

CRASH_DIR_VARIABLE = "NMOCART_CRASH_DIR"
"""Environment variable naming the folder for crash files (default: the temp folder)."""


def crash_dir() -> Path:
    """Where crash files go: ``$NMOCART_CRASH_DIR`` or the system's temp folder."""
    return Path(os.environ.get(CRASH_DIR_VARIABLE) or tempfile.gettempdir())


def write_crash_file(tracebacks: Sequence[str]) -> Path | None:
    """Save the tracebacks to ``nmocart-crash-<utc>-<pid>.txt``; None when that fails too."""
    from nmocart import __version__

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = crash_dir() / f"nmocart-crash-{stamp}-{os.getpid()}.txt"
    header = f"nmocart {__version__}, Python {sys.version.split()[0]}\ncommand: {' '.join(sys.argv)}\n\n"
    try:
        path.write_text(header + "\n".join(tracebacks), encoding="utf-8")
    except OSError:
        return None
    return path


def report_bug(tracebacks: Sequence[str], what: str) -> None:
    """Write the crash file and say so on stderr in one line (the caller exits ``EXIT_BUG``)."""
    path = write_crash_file(tracebacks)
    where = f"the traceback is saved in {path}" if path is not None else "the traceback could not be saved"
    sys.stderr.write(f"error: internal error (a bug in nmocart): {what}; {where}; please report it\n")


def report_exception(exc: BaseException) -> None:
    """``report_bug`` for the exception being handled."""
    text = "".join(traceback.format_exception(exc))
    report_bug([text], f"{type(exc).__name__}")


def finish_batch(summary: BatchSummary, *, summarise: bool = True) -> None:
    """After a batch: the stderr summary, then exit 2 (rejections) or 70 (a bug was hit).

    ``summarise`` False skips the count line (one input file: its error already said it all).
    """
    if summary.crashes:
        report_bug(summary.crashes, f"{len(summary.crashes)} record(s) could not be evaluated")
    if summary.rejected and summarise:
        sys.stderr.write(f"{summary.rejected} record(s) rejected, {summary.evaluated} evaluated\n")
    if summary.crashes:
        raise typer.Exit(EXIT_BUG)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)
