"""What the export reads (CDISC spec section 1): typed records, the sample CSV and the enrolment.

:class:`StudyInput` is the in-memory form both adapters hand to the exporter: the command line
builds it from files (:func:`read_inputs`), the web application from its database. Every reading
problem becomes one line naming the file, record or row and the fix; all are collected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from nmocart import batch
from nmocart.batch.safety import read_item as read_safety_item
from nmocart.kernel.errors import RecordError
from nmocart.kinetics.samples import DEFAULT_ANALYTE, SampleInputError, SampleTable, read_samples
from nmocart.safety.record import SafetyRecord
from nmocart.screening.protocol import Protocol
from nmocart.screening.record import ScreeningRecord, parse_record

T = TypeVar("T")

ENROLMENT_HEADER = ("candidate_id", "subject_id", "consent_date", "enrolment_date")
"""The exact header of the enrolment CSV."""


class ExportInputError(ValueError):
    """The inputs cannot be exported; ``problems`` has one actionable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem line; the message joins them."""
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A validated record and where it came from (``file`` or ``file:line``)."""

    source: str
    record: T


@dataclass(frozen=True)
class Enrolment:
    """One consented candidate; ``subject_id`` and ``enrolment_date`` are both set when enrolled."""

    row: int
    candidate_id: str
    subject_id: str | None
    consent_date: dt.date
    enrolment_date: dt.date | None


@dataclass(frozen=True)
class SampleCells:
    """One sample row of the kinetics CSV as written (the cells PC reports verbatim)."""

    row: int
    subject: str
    analyte: str
    time: float
    conc: str
    blq: bool
    unit: str
    lloq: str


@dataclass(frozen=True)
class KineticsInput:
    """The sample CSV: its name, the engine's validated table and every row's cells."""

    source: str
    table: SampleTable
    cells: tuple[SampleCells, ...]


@dataclass(frozen=True)
class StudyInput:
    """Everything one export needs, already validated record by record."""

    protocol: Protocol
    screening: tuple[Sourced[ScreeningRecord], ...]
    safety: tuple[Sourced[SafetyRecord], ...]
    kinetics: KineticsInput
    enrolment: tuple[Enrolment, ...] | None
    enrolment_source: str = "enrolment"


def kinetics_from_text(source: str, text: str) -> KineticsInput:
    """Validate the sample CSV with nmocart's kinetics reader and keep each row's cells.

    Raises :class:`ExportInputError` with the reader's row-numbered problems.
    """
    try:
        table = read_samples(text)
    except SampleInputError as exc:
        raise ExportInputError([f"{source}: {p}" for p in exc.problems]) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    index = {name: header.index(name) for name in header}

    def cell(fields: list[str], name: str) -> str:
        return fields[index[name]].strip() if name in index else ""

    cells = []
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            continue
        cells.append(
            SampleCells(
                row=reader.line_num,
                subject=cell(fields, "subject"),
                analyte=cell(fields, "analyte") or DEFAULT_ANALYTE,
                time=float(cell(fields, "time")),
                conc=cell(fields, "conc"),
                blq=cell(fields, "blq") == "1",
                unit=cell(fields, "unit"),
                lloq=cell(fields, "lloq"),
            )
        )
    return KineticsInput(source, table, tuple(cells))


def _date(text: str, where: str, field: str, problems: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(f"{where}: {field} {text!r} is not a calendar date; write YYYY-MM-DD")
        return None


def enrolment_from_text(source: str, text: str) -> tuple[Enrolment, ...]:
    """Parse the enrolment CSV (exact header, ISO dates, both or neither of subject and date)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != ENROLMENT_HEADER:
        raise ExportInputError(
            [f"{source} row 1: the header must be exactly {','.join(ENROLMENT_HEADER)}; correct the header"]
        )
    problems: list[str] = []
    rows: list[Enrolment] = []
    for fields in reader:
        where = f"{source} row {reader.line_num}"
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(ENROLMENT_HEADER):
            problems.append(f"{where}: has {len(fields)} fields, the header 4; make the row match the header")
            continue
        candidate, subject, consent_text, enrolled_text = (f.strip() for f in fields)
        if not candidate:
            problems.append(f"{where}: candidate_id is empty; write the screening candidate_id")
            continue
        if bool(subject) != bool(enrolled_text):
            problems.append(
                f"{where}: only one of subject_id and enrolment_date is filled; fill both (enrolled) "
                "or leave both empty (consented, not enrolled)"
            )
            continue
        if not consent_text:
            problems.append(f"{where}: consent_date is empty; write the date of informed consent")
            continue
        consent = _date(consent_text, where, "consent_date", problems)
        enrolled = _date(enrolled_text, where, "enrolment_date", problems) if enrolled_text else None
        if consent is None or (enrolled_text and enrolled is None):
            continue
        if enrolled is not None and consent > enrolled:
            problems.append(
                f"{where}: consent_date {consent} is after enrolment_date {enrolled}; consent comes "
                "first, correct either date"
            )
            continue
        rows.append(Enrolment(reader.line_num, candidate, subject or None, consent, enrolled))
    if problems:
        raise ExportInputError(problems)
    return tuple(rows)


def _read_text(path: Path, what: str, problems: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(f"{path}: no such file; give the path of the {what}")
    except IsADirectoryError:
        problems.append(f"{path}: is a directory; give the path of the {what}")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text ({exc.reason}); save the {what} as UTF-8")
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror}); check the path and permissions")
    return None


def read_screening(path: Path, problems: list[str]) -> list[Sourced[ScreeningRecord]]:
    """Every screening record of a ``.json`` or NDJSON file, as ``nmocart screen`` reads them."""
    out: list[Sourced[ScreeningRecord]] = []
    for item in batch.iter_sources([str(path)]):
        if item.read_error is not None:
            problems.append(f"{item.source}: {item.read_error}; check the --screening path")
            continue
        try:
            out.append(Sourced(item.source, parse_record(item.payload)))
        except RecordError as exc:
            who = f" (candidate {exc.record_id})" if exc.record_id else ""
            problems.extend(f"{item.source}{who}: {p}" for p in exc.problems)
    return out


def read_safety(path: Path, problems: list[str]) -> list[Sourced[SafetyRecord]]:
    """Every safety record of a ``.json`` or NDJSON file, as ``nmocart safety grade`` reads them."""
    out: list[Sourced[SafetyRecord]] = []
    for item in batch.iter_sources([str(path)]):
        record = read_safety_item(item)
        if isinstance(record, SafetyRecord):
            out.append(Sourced(item.source, record))
            continue
        who = f" (subject {record['subject_id']})" if "subject_id" in record else ""
        problems.append(f"{item.source}{who}: {record['error']}")
    return out


def read_inputs(
    protocol: Protocol,
    screening: Path,
    safety: Path,
    kinetics: Path,
    enrolment: Path | None,
) -> StudyInput:
    """Read and validate every input file; raise :class:`ExportInputError` listing all problems."""
    problems: list[str] = []
    screened = read_screening(screening, problems)
    graded = read_safety(safety, problems)
    samples: KineticsInput | None = None
    text = _read_text(kinetics, "kinetics sample CSV", problems)
    if text is not None:
        try:
            samples = kinetics_from_text(str(kinetics), text)
        except ExportInputError as exc:
            problems.extend(exc.problems)
    enrolled: tuple[Enrolment, ...] | None = None
    if enrolment is not None:
        text = _read_text(enrolment, "enrolment CSV", problems)
        if text is not None:
            try:
                enrolled = enrolment_from_text(str(enrolment), text)
            except ExportInputError as exc:
                problems.extend(exc.problems)
    if problems or samples is None:
        raise ExportInputError(problems)
    return StudyInput(
        protocol,
        tuple(screened),
        tuple(graded),
        samples,
        enrolled,
        str(enrolment) if enrolment is not None else "enrolment",
    )
