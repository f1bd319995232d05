"""Streaming NCA of a sample CSV of any length: memory bounded by a chunk, not by the file.

Two passes over the file (standard input is first spooled to a temporary file):

1. check every row in chunks of rows (the same vectorised checks as
   :func:`nmocart.kinetics.samples.read_samples`), and learn each subject's row count, the
   order in which the profiles first appear, and the widest profile;
2. compute the NCA chunk by chunk, each chunk holding whole subjects.

Rows of a subject need not be contiguous. When they are, and the profiles first appear
subject by subject (the usual export), pass 2 reads the file in order and writes each
chunk's table rows at once. Otherwise pass 2 first distributes the rows into temporary
chunk files (whole subjects per chunk) and keeps the small table rows until the end to
write them in the order the profiles first appear. Either way the output is byte for byte
that of the whole-file computation: every chunk is padded to the whole file's widest
profile, since the engine's row sums (numpy pairwise summation) depend on the padded width.

A subject with any problem is left out of the table and its problems are reported; the
other subjects are analysed as if it were not in the file.
"""

from __future__ import annotations

import csv
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from nmocart.kinetics.nca import NcaOptions, NcaResult, Profiles, compute_nca
from nmocart.kinetics.samples import (
    Problem,
    SampleInputError,
    SampleTable,
    check_rows,
    first_row,
    parse_header,
    quotes_closed,
    row_shape_problem,
    usable_table,
)
from nmocart.kinetics.table import table_csv, table_records

CHUNK_ROWS = 200_000
"""Rows analysed at once (whole subjects; a chunk exceeds this only by its last subject)."""

MAX_KEPT_PROBLEMS = 10_000
"""Problem texts kept for the report (all are counted, and every bad subject is left out)."""

MAX_CHUNK_FILES = 256
"""Non-contiguous input is spread over at most this many temporary chunk files."""


@dataclass
class FileIndex:
    """What pass 1 learns about the file (memory: one entry per subject and per profile)."""

    index: dict[str, int]
    width: int
    subject_rows: dict[str, int] = field(default_factory=dict)
    profile_rank: dict[tuple[str, str], int] = field(default_factory=dict)
    profile_kept: dict[tuple[str, str], int] = field(default_factory=dict)
    first_unit: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    bad_subjects: set[str | None] = field(default_factory=set)
    rows: int = 0
    in_order: bool = True

    def add_problems(self, found: list[Problem]) -> None:
        """Record problems: every subject is remembered, the texts up to ``MAX_KEPT_PROBLEMS``."""
        self.problem_count += len(found)
        self.bad_subjects.update(p.subject for p in found)
        room = MAX_KEPT_PROBLEMS - len(self.problems)
        if room > 0:
            self.problems.extend(found[:room])

    @property
    def pad_width(self) -> int:
        """The widest profile's number of samples at or after time 0 (the engine's padding)."""
        return max(self.profile_kept.values(), default=1)


def _rows(
    path: Path, index: dict[str, int], width: int, problems: list[Problem]
) -> Iterator[tuple[int, list[str]]]:
    """(file row, fields) of every non-blank, well-shaped data row; shape problems recorded."""
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(quotes_closed(stream, problems, index["subject"]))
        first_row(reader)
        try:
            for fields in reader:
                if not fields or (not fields[0].strip() and not "".join(fields).strip()):
                    continue
                shape = row_shape_problem(fields, width, reader.line_num, index)
                if shape is not None:
                    problems.append(shape)
                    continue
                yield reader.line_num, fields
        except csv.Error as exc:
            raise SampleInputError(
                [f"row {reader.line_num}: not valid CSV ({exc}); fix the quoting"]
            ) from None


def _batches(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[tuple[list[int], list[list[str]]]]:
    numbers: list[int] = []
    fields: list[list[str]] = []
    for number, row in rows:
        numbers.append(number)
        fields.append(row)
        if len(fields) >= size:
            yield numbers, fields
            numbers, fields = [], []
    if fields:
        yield numbers, fields


def index_file(path: Path, chunk_rows: int = CHUNK_ROWS) -> FileIndex:
    """Pass 1: check every row, learn subjects, profile order and the padding width."""
    with open(path, encoding="utf-8-sig", newline="") as stream:
        header_problems: list[Problem] = []
        index, width = parse_header(
            first_row(csv.reader(quotes_closed(itertools.islice(stream, 1), header_problems)))
        )
    if header_problems:
        raise SampleInputError([header_problems[0].text])
    info = FileIndex(index, width)
    last_subject: str | None = None
    shape_problems: list[Problem] = []
    for numbers, rows in _batches(_rows(path, index, width, shape_problems), chunk_rows):
        found: list[Problem] = []
        cols = check_rows(index, rows, numbers, info.first_unit, found)
        info.add_problems(shape_problems + found)
        shape_problems.clear()
        kept = (cols.time >= 0).tolist()
        for subject, analyte, at_or_after_0 in zip(cols.subject, cols.analyte, kept, strict=True):
            info.rows += 1
            if subject != last_subject:
                # Contiguous subjects also mean profiles first appear subject by subject.
                if subject in info.subject_rows:
                    info.in_order = False
                last_subject = subject
            info.subject_rows[subject] = info.subject_rows.get(subject, 0) + 1
            key = (subject, analyte)
            if key not in info.profile_rank:
                info.profile_rank[key] = len(info.profile_rank)
                info.profile_kept[key] = 0
            if at_or_after_0:
                info.profile_kept[key] += 1
    info.add_problems(shape_problems)
    if info.rows == 0 and not info.problems:
        raise SampleInputError(["row 2: the file has no samples; add one row per sample"])
    return info


def _pad_to(profiles: Profiles, width: int) -> Profiles:
    """``profiles`` plus one all-BLQ placeholder profile of ``width`` samples at times 0..width-1."""
    n = profiles.n
    return Profiles(
        n=n + 1,
        profile=np.concatenate((profiles.profile, np.full(width, n, dtype=np.intp))),
        time=np.concatenate((profiles.time, np.arange(width, dtype=np.float64))),
        conc=np.concatenate((profiles.conc, np.zeros(width))),
        measurable=np.concatenate((profiles.measurable, np.zeros(width, dtype=np.bool_))),
    )


def _without_last(result: NcaResult) -> NcaResult:
    n = result.n - 1
    return replace(
        result,
        n=n,
        values={name: values[:n] for name, values in result.values.items()},
        notes=result.notes[:n],
        measurable_at_last_sample=result.measurable_at_last_sample[:n],
    )


def compute_padded(table: SampleTable, options: NcaOptions, width: int) -> NcaResult:
    """The NCA of ``table`` exactly as if computed with profiles ``width`` samples wide."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _without_last(compute_nca(_pad_to(table.profiles, width), options))


@dataclass
class Tables:
    """The analysed chunks' output, in the order the profiles first appear in the file."""

    csv_rows: list[tuple[int, str]] = field(default_factory=list)
    records: list[tuple[int, dict[str, object]]] = field(default_factory=list)


def _chunks_in_order(
    path: Path, info: FileIndex, chunk_rows: int
) -> Iterator[tuple[list[int], list[list[str]]]]:
    """Whole-subject chunks read straight from a file whose subjects are contiguous."""
    bad = info.bad_subjects
    j = info.index["subject"]
    numbers: list[int] = []
    rows: list[list[str]] = []
    current: str | None = None
    for number, fields in _rows(path, info.index, info.width, []):
        subject = fields[j].strip()
        if subject in bad or not subject:
            continue
        if subject != current and len(rows) >= chunk_rows:
            yield numbers, rows
            numbers, rows = [], []
        current = subject
        numbers.append(number)
        rows.append(fields)
    if rows:
        yield numbers, rows


def _chunks_spread(
    path: Path, info: FileIndex, chunk_rows: int, folder: Path
) -> Iterator[tuple[list[int], list[list[str]]]]:
    """Whole-subject chunks of a file whose subjects are interleaved, via temporary files."""
    bad = info.bad_subjects
    total = sum(n for s, n in info.subject_rows.items() if s not in bad)
    size = max(chunk_rows, -(-total // MAX_CHUNK_FILES))
    chunk_of: dict[str, int] = {}
    filled, chunk = 0, 0
    for subject, n in info.subject_rows.items():
        if subject in bad or not subject:
            continue
        if filled >= size:
            chunk, filled = chunk + 1, 0
        chunk_of[subject] = chunk
        filled += n
    if not chunk_of:
        return
    j = info.index["subject"]
    with ExitStack() as stack:
        writers = [
            csv.writer(
                stack.enter_context(open(folder / f"chunk-{k}.csv", "w", encoding="utf-8", newline=""))
            )
            for k in range(chunk + 1)
        ]
        for number, fields in _rows(path, info.index, info.width, []):
            k = chunk_of.get(fields[j].strip())
            if k is not None:
                writers[k].writerow([number, *fields])
    for k in range(chunk + 1):
        part = folder / f"chunk-{k}.csv"
        with open(part, encoding="utf-8", newline="") as stream:
            numbered = list(csv.reader(stream))
        part.unlink()
        yield [int(r[0]) for r in numbered], [r[1:] for r in numbered]


def stream_nca(
    path: Path,
    options: NcaOptions,
    emit_csv: Callable[[str], None] | None,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[Tables, FileIndex]:
    """Pass 2: analyse ``path`` chunk by chunk; returns what is not yet written, and pass 1's index.

    With ``emit_csv`` and input in order, table rows are passed to it as each chunk is done
    (nothing accumulates); otherwise they are collected with their profile rank.
    """
    info = index_file(path, chunk_rows)
    width = info.pad_width
    tables = Tables()
    streaming = emit_csv is not None and info.in_order
    with tempfile.TemporaryDirectory(prefix="nmocart-nca-") as tmp:
        chunks = (
            _chunks_in_order(path, info, chunk_rows)
            if info.in_order
            else _chunks_spread(path, info, chunk_rows, Path(tmp))
        )
        for numbers, rows in chunks:
            cols = check_rows(info.index, rows, numbers, dict(info.first_unit), [])
            duplicates: list[Problem] = []
            table = usable_table(cols, info.first_unit, duplicates)
            info.add_problems(duplicates)
            if table.profiles.n == 0:
                continue
            result = compute_padded(table, options, width)
            ranks = [info.profile_rank[(s, a)] for s, a in zip(table.subject, table.analyte, strict=True)]
            if emit_csv is not None:
                lines = table_csv(table, result).splitlines()[1:]
                if streaming:
                    for line in lines:
                        emit_csv(line + "\n")
                else:
                    tables.csv_rows.extend(zip(ranks, lines, strict=True))
            else:
                tables.records.extend(zip(ranks, table_records(table, result), strict=True))
    tables.csv_rows.sort(key=lambda pair: pair[0])
    tables.records.sort(key=lambda pair: pair[0])
    info.problems.sort(key=lambda p: p.row)
    return tables, info


def json_document(options: NcaOptions, records: list[dict[str, object]], time_unit: str) -> Iterator[bytes]:
    """The JSON table in pieces, byte for byte what ``table_json`` writes for the same records."""
    head = {
        "auc_method": options.auc_method,
        "auc_0_28_interval": [0.0, options.auc_interval_end],
        "time_unit": time_unit,
        "profiles": records if not records else [None],
    }
    framed = orjson.dumps(head, option=orjson.OPT_INDENT_2) + b"\n"
    if not records:
        yield framed
        return
    before, after = framed.split(b"\n    null\n", 1)
    yield before + b"\n"
    for k, record in enumerate(records):
        body = orjson.dumps(record, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    ")
        yield b"    " + body + (b",\n" if k < len(records) - 1 else b"\n")
    yield after


def spool_stdin(stream: IO[bytes], folder: str | None = None) -> Path:
    """Copy standard input to a temporary file (two passes need to read it twice)."""
    fd, name = tempfile.mkstemp(prefix="nmocart-stdin-", suffix=".csv", dir=folder)
    with os.fdopen(fd, "wb") as out:
        while block := stream.read(1 << 20):
            out.write(block)
    return Path(name)
