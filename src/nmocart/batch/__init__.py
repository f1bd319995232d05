"""Streaming batch evaluation: records in from files or NDJSON, one output line per record.

Records are read lazily, evaluated in bounded chunks (optionally on several processes),
and written in input order, so memory stays flat in the number of records. A record
that cannot be evaluated yields an error line and the run goes on.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
"""Files with these endings hold one record per line; any other file holds one record."""

CHUNK_SIZE = 500
"""Records evaluated per task; a bounded number of tasks is in flight at once."""


class SourceItem(NamedTuple):
    """One raw record and where it came from (``file`` or ``file:line``)."""

    source: str
    payload: bytes
    size: int
    read_error: str | None = None


class Outcome(NamedTuple):
    """The serialised result line of one record and whether it was evaluated.

    ``record_id`` is the candidate or subject id when readable (duplicates are found with
    it); ``crash`` holds the traceback when evaluating the record hit a bug in nmocart.
    """

    line: bytes
    ok: bool
    record_id: str | None = None
    crash: str | None = None


INTERNAL_ERROR = (
    "internal error: a bug in nmocart, not a problem with this record's data; the record was "
    "not evaluated and the traceback is in the crash file named on standard error; please report it"
)
"""The error of a record whose evaluation raised an unexpected exception."""


class FirstSeen:
    """Remembers where each record id first appeared, to reject later duplicates in a batch.

    Memory grows with the number of distinct ids (one string pair each); that is the price
    of naming the first occurrence.
    """

    def __init__(self, id_key: str) -> None:
        self.id_key = id_key
        self._first: dict[str, str] = {}

    def duplicate(self, record_id: str | None, source: str) -> str | None:
        """The error for a repeated id (naming its first source), or None the first time."""
        if record_id is None:
            return None
        first = self._first.get(record_id)
        if first is None:
            self._first[record_id] = source
            return None
        return (
            f"{self.id_key}: {record_id!r} already appears at {first}; give each "
            f"{'candidate' if self.id_key == 'candidate_id' else 'subject'} one record "
            "(remove this one or correct its id)"
        )


Evaluate = Callable[[SourceItem], Outcome]
"""Turns one raw record into its output line. Must be picklable for ``jobs > 1``."""


def error_object(
    source: str, id_key: str, id_value: str | None, problems: Sequence[str]
) -> dict[str, object]:
    """The line of a rejected record: ``{"source", id_key (when readable), "error"}``."""
    out: dict[str, object] = {"source": source}
    if id_value is not None:
        out[id_key] = id_value
    out["error"] = "; ".join(problems)
    return out


def is_ndjson(path: str) -> bool:
    """Whether ``path`` names an NDJSON stream (``-`` or a ``.ndjson``/``.jsonl`` file)."""
    return path == "-" or path.endswith(NDJSON_SUFFIXES)


_BLANK = b" \t\r\n\x00"
"""Stripped from both ends of an NDJSON line (NUL: the other half of a UTF-16 line break)."""


def _lines(stream: BinaryIO, name: str) -> Iterator[SourceItem]:
    """Every non-blank line; a UTF-16 file gives one "save as UTF-8" error per line."""
    for number, raw in enumerate(stream, start=1):
        payload = raw.strip(_BLANK)
        if payload:
            yield SourceItem(f"{name}:{number}", payload, len(raw))


class ClosedStdinError(OSError):
    """Standard input is closed (``<&-``) but ``-`` asks to read records from it."""


def stdin_bytes() -> BinaryIO:
    """The binary standard input; :class:`ClosedStdinError` when the process has none."""
    stream = sys.stdin
    if stream is None or stream.closed:
        raise ClosedStdinError("standard input is closed; pipe the records in or give a file")
    return stream.buffer


def iter_sources(paths: Sequence[str], stdin: BinaryIO | None = None) -> Iterator[SourceItem]:
    """Every record of ``paths`` in order; ``-`` is NDJSON on standard input.

    A file that cannot be read yields an item carrying ``read_error``, which evaluates
    to an error line naming the file, so nothing is silently skipped.
    """
    for path in paths:
        if path == "-":
            try:
                stream = stdin if stdin is not None else stdin_bytes()
                yield from _lines(stream, "<stdin>")
            except OSError as exc:
                yield SourceItem("<stdin>", b"", 0, read_error=f"cannot read standard input: {exc}")
            continue
        try:
            if path.endswith(NDJSON_SUFFIXES):
                with open(path, "rb") as stream:
                    yield from _lines(stream, path)
            else:
                data = Path(path).read_bytes()
                yield SourceItem(path, data, len(data))
        except OSError as exc:
            yield SourceItem(path, b"", 0, read_error=f"cannot read the file: {exc.strerror or exc}")


def known_size(paths: Sequence[str]) -> int | None:
    """Total bytes of ``paths`` when all are regular files, for the progress bar."""
    total = 0
    for path in paths:
        if path == "-":
            return None
        try:
            total += os.stat(path).st_size
        except OSError:
            continue
    return total


def _chunks(items: Iterable[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    chunk: list[SourceItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def guarded(evaluate: Evaluate, item: SourceItem) -> Outcome:
    """``evaluate(item)``, with any unexpected exception turned into that record's error line.

    The last line of defence: input errors are handled by the adapters; anything else is
    a bug, and one record's bug must not lose the records after it.
    """
    try:
        return evaluate(item)
    except Exception:
        return internal_error(item.source)


def internal_error(source: str) -> Outcome:
    """The error line of a record whose evaluation raised; call inside the ``except`` block."""
    line = orjson.dumps({"source": source, "error": INTERNAL_ERROR})
    return Outcome(line, False, None, f"{source}\n{traceback.format_exc()}")


def evaluate_chunk(evaluate: Evaluate, chunk: list[SourceItem]) -> list[Outcome]:
    """Evaluate a chunk of records (runs in a worker process when ``jobs > 1``)."""
    return [guarded(evaluate, item) for item in chunk]


def _ordered_outcomes(
    chunks: Iterator[list[SourceItem]], evaluate: Evaluate, jobs: int
) -> Iterator[tuple[list[SourceItem], list[Outcome]]]:
    if jobs <= 1:
        for chunk in chunks:
            yield chunk, evaluate_chunk(evaluate, chunk)
        return
    window: deque[tuple[list[SourceItem], Future[list[Outcome]]]] = deque()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for chunk in chunks:
            window.append((chunk, pool.submit(evaluate_chunk, evaluate, chunk)))
            if len(window) >= 2 * jobs:
                done_chunk, future = window.popleft()
                yield done_chunk, future.result()
        while window:
            done_chunk, future = window.popleft()
            yield done_chunk, future.result()


@dataclass
class BatchSummary:
    """How many records were evaluated and how many were rejected (``crashes``: bugs hit)."""

    evaluated: int = 0
    rejected: int = 0
    crashes: list[str] = field(default_factory=list)


def reject_duplicate(outcome: Outcome, source: str, seen: FirstSeen) -> Outcome:
    """``outcome``, or an error line when its evaluated record repeats an earlier id."""
    if not outcome.ok:
        return outcome
    problem = seen.duplicate(outcome.record_id, source)
    if problem is None:
        return outcome
    line = orjson.dumps(error_object(source, seen.id_key, outcome.record_id, [problem]))
    return Outcome(line, False, outcome.record_id)


def run_batch(
    items: Iterable[SourceItem],
    evaluate: Evaluate,
    out: BinaryIO,
    *,
    jobs: int = 1,
    progress_total: int | None = None,
    show_progress: bool = False,
    label: str = "records",
    title: str = "processing",
    id_key: str | None = None,
) -> BatchSummary:
    """Evaluate every item and write one line per record to ``out``, in input order.

    With ``id_key``, a record whose id already appeared in the batch becomes an error
    line naming the first occurrence. The progress bar (``show_progress``) goes to stderr,
    never into ``out``.
    """
    summary = BatchSummary()
    seen = FirstSeen(id_key) if id_key is not None else None
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if progress_total is None else TextColumn(""),
        TextColumn("{task.fields[records]} {task.fields[label]}, {task.fields[rejected]} rejected"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
        transient=False,
    )
    with progress:
        task = progress.add_task(title, total=progress_total, records=0, rejected=0, label=label)
        for chunk, evaluated in _ordered_outcomes(_chunks(items, CHUNK_SIZE), evaluate, jobs):
            outcomes = evaluated
            if seen is not None:
                outcomes = [
                    reject_duplicate(o, i.source, seen) for o, i in zip(evaluated, chunk, strict=True)
                ]
            summary.crashes.extend(o.crash for o in outcomes if o.crash is not None)
            out.write(b"\n".join(outcome.line for outcome in outcomes) + b"\n")
            rejected = sum(1 for outcome in outcomes if not outcome.ok)
            summary.rejected += rejected
            summary.evaluated += len(outcomes) - rejected
            progress.update(
                task,
                advance=sum(i.size for i in chunk) if progress_total is not None else len(chunk),
                records=summary.evaluated + summary.rejected,
                rejected=summary.rejected,
            )
        out.flush()
    return summary
