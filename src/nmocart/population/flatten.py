"""What the engines share: the flat resource row, the input accounting, the intake-reader path.

Bulk Data NDJSON is read by the engine itself. A file the engine cannot take line by line
without losing information (a Bundle ``.json`` file, a Bundle or a resource without a usable
``id`` on an NDJSON line, a line that is not UTF-8 JSON) is read instead by the FHIR intake's
reader (:class:`nmocart.fhir.resources.InputReader`), which resolves ``urn:uuid`` references
inside Bundles, names resources without ids by file and line, and reports every parse error
with its file and line; its rows then join the engine's rows before grouping.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from nmocart.fhir.resources import READ_TYPES, FileReport, InputReader, Resource, input_files

__all__ = [
    "FLAT_COLUMNS",
    "FileReport",
    "FlatRow",
    "InputAccount",
    "input_files",
    "read_with_intake",
    "row_of",
    "split_inputs",
]

ID_PATTERN = r"[-A-Za-z0-9.]{1,64}"
"""A usable FHIR id (spec section 1); the same pattern as the intake's reader."""

PATIENT_REFERENCE = r"(?:^|/)Patient/([-A-Za-z0-9.]{1,64})\z"
"""A literal Patient reference once the query and a trailing ``/_history/<v>`` are removed."""

MEDICATION_REFERENCE = r"(?:^|/)Medication/([-A-Za-z0-9.]{1,64})\z"
"""A literal Medication reference, same normalisation."""

HISTORY_SUFFIX = r"/_history/[^/]*\z"
"""A trailing version segment of a reference, dropped before resolving it."""

MEDICATION_USERS = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")
READ_TYPE_LIST = tuple(sorted(READ_TYPES))


class FlatRow(NamedTuple):
    """One resource as the engines carry it: keys for grouping, provenance, the raw JSON text.

    ``pkey`` is the patient key (a Patient's own usable id, else the id its subject resolves to),
    ``mkey`` the ``ref`` of the Medication its ``medicationReference`` points to.
    """

    rtype: str
    ref: str
    file: str
    line: int
    entry: str
    pkey: str | None
    mkey: str | None
    raw: str


FLAT_COLUMNS = FlatRow._fields


def row_of(resource: Resource) -> FlatRow:
    """The flat row of a resource read by the intake's reader."""
    origin = resource.origin
    return FlatRow(
        resource.resource_type,
        resource.ref,
        origin.file,
        origin.line,
        origin.entry,
        resource.patient_key,
        resource.medication_key,
        orjson.dumps(resource.body).decode(),
    )


@dataclass
class InputAccount:
    """The input side of the intake report: files, parse errors, and the engine's counts.

    ``reports`` are the intake reader's per-file reports (files read through it) and the
    engine's (files it read itself: lines read and resources, no errors by construction).
    """

    reports: dict[str, FileReport] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    bundles: int = 0

    def ordered_reports(self) -> list[FileReport]:
        """Per-file reports in input order (the order of :func:`input_files`)."""
        return list(self.reports.values())


def split_inputs(paths: Iterable[str]) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """(NDJSON files for the engine, JSON files for the intake reader, files skipped)."""
    ndjson: list[str] = []
    bundles: list[str] = []
    skipped: list[dict[str, str]] = []
    for path, fmt in input_files(paths):
        if fmt == "ndjson":
            ndjson.append(path)
        elif fmt == "json":
            bundles.append(path)
        else:
            skipped.append({"file": path, "reason": "not .ndjson, .ndjson.gz, .jsonl or .json"})
    return ndjson, bundles, skipped


def read_with_intake(paths: list[str], account: InputAccount) -> Iterator[FlatRow]:
    """The rows of files read by the intake's reader, recording their file reports."""
    reader = InputReader()
    for resource in reader.read(paths):
        yield row_of(resource)
    for report in reader.files:
        account.reports[report.file] = report
    account.bundles += reader.bundles
    account.skipped.extend(reader.skipped)
