"""Reading FHIR R4 input (spec fhir.md section 1): Bulk Data NDJSON, Bundles, directories of them.

Every resource comes out with where it was read (file, line, Bundle entry) and its patient
and medication references already resolved to keys, so that any engine can group resources
by patient with plain columns. Nothing here is fatal: a line or file that cannot be read is a
:class:`ParseError` with file and line, and reading goes on.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

__all__ = [
    "READ_TYPES",
    "FileReport",
    "InputReader",
    "Origin",
    "ParseError",
    "Resource",
    "input_files",
    "input_files_named",
    "patient_id_of_reference",
    "resource_from_body",
]

READ_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Medication",
        "QuestionnaireResponse",
    }
)
"""Resource types the intake reads; every other type is counted and ignored (``type_not_read``)."""

MEDICATION_USERS = frozenset({"MedicationRequest", "MedicationStatement", "MedicationAdministration"})
"""Resource types that may point to a Medication through ``medicationReference``."""

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl")
JSON_SUFFIXES = (".json",)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_HISTORY = re.compile(r"/_history/[^/]*$")


class Origin(NamedTuple):
    """Where a resource was read: the file, its NDJSON line (0 in a ``.json`` file) and Bundle entry path."""

    file: str
    line: int
    entry: str

    def describe(self) -> str:
        """``file:line`` plus the Bundle entry when there is one."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.entry}" if self.entry else where


class ParseError(NamedTuple):
    """A line, entry or file that is not a readable FHIR resource."""

    file: str
    line: int
    entry: str
    error: str

    def as_dict(self) -> dict[str, object]:
        """The report's ``{file, line, entry, error}`` object."""
        return {"file": self.file, "line": self.line, "entry": self.entry, "error": self.error}


class Resource(NamedTuple):
    """One FHIR resource as read, with its keys resolved for grouping.

    ``ref`` is ``<type>/<id>``, else the Bundle entry's ``fullUrl``, else ``<type>@<file>:<line>``.
    ``patient_key`` is the patient's candidate id: for a Patient its own usable id (None when it
    has none), for other types the id its ``subject`` resolves to (None when it does not).
    ``medication_key`` is the ``ref`` of the Medication that ``medicationReference`` points to
    (None when there is no reference, it is contained ``#id``, or it cannot be resolved).
    """

    resource_type: str
    ref: str
    body: Mapping[str, Any]
    origin: Origin
    patient_key: str | None
    medication_key: str | None


@dataclass
class FileReport:
    """What one input file gave: lines (NDJSON) or entries (JSON) read, resources, parse errors."""

    file: str
    format: str
    read: int = 0
    resources: int = 0
    entries_without_resource: int = 0
    errors: list[ParseError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The report's per-file object."""
        return {
            "file": self.file,
            "format": self.format,
            "read": self.read,
            "resources": self.resources,
            "entries_without_resource": self.entries_without_resource,
            "parse_errors": [e.as_dict() for e in self.errors],
        }


def _usable_id(value: object) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def patient_id_of_reference(reference: object) -> str | None:
    """The Patient id of a literal reference ``Patient/<id>`` or ``.../Patient/<id>[/_history/v]``."""
    if not isinstance(reference, str) or not reference or reference.startswith(("#", "urn:")):
        return None
    parts = _HISTORY.sub("", reference.split("?", 1)[0]).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return _usable_id(parts[-1])
    return None


def _medication_key_of_reference(reference: str) -> str | None:
    parts = _HISTORY.sub("", reference.split("?", 1)[0]).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Medication" and _usable_id(parts[-1]):
        return f"Medication/{parts[-1]}"
    return None


def own_ref(body: Mapping[str, Any], full_url: str | None, origin: Origin) -> str:
    """The source reference of a resource (spec section 7): ``<type>/<id>``, else ``fullUrl``."""
    rtype = body.get("resourceType")
    rid = body.get("id")
    if isinstance(rid, str) and rid:
        return f"{rtype}/{rid}"
    if full_url:
        return full_url
    return f"{rtype}@{origin.file}:{origin.line}"


def _patient_own_key(body: Mapping[str, Any], full_url: str | None) -> str | None:
    usable = _usable_id(body.get("id"))
    if usable is not None:
        return usable
    if body.get("id") is None and full_url and full_url.startswith("urn:uuid:"):
        return _usable_id(full_url[len("urn:uuid:") :])
    return None


def _reference_of(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference:
            return reference
    return None


def resource_from_body(
    body: Mapping[str, Any],
    origin: Origin,
    full_url: str | None = None,
    bundle_index: Mapping[str, Mapping[str, Any]] | None = None,
) -> Resource:
    """Resolve the keys of one resource (``bundle_index``: its Bundle's entries by ``fullUrl``)."""
    rtype = str(body.get("resourceType"))
    ref = own_ref(body, full_url, origin)
    if rtype == "Patient":
        return Resource(rtype, ref, body, origin, _patient_own_key(body, full_url), None)
    patient_key: str | None = None
    subject = _reference_of(body, "subject")
    if subject is not None:
        if subject.startswith("urn:uuid:"):
            target = bundle_index.get(subject) if bundle_index else None
            if target is not None and target.get("resourceType") == "Patient":
                patient_key = _patient_own_key(target, subject)
        else:
            patient_key = patient_id_of_reference(subject)
    medication_key: str | None = None
    if rtype in MEDICATION_USERS:
        reference = _reference_of(body, "medicationReference")
        if reference is not None and not reference.startswith("#"):
            if reference.startswith("urn:uuid:"):
                target = bundle_index.get(reference) if bundle_index else None
                if target is not None and target.get("resourceType") == "Medication":
                    medication_key = own_ref(target, reference, origin)
            else:
                medication_key = _medication_key_of_reference(reference)
    return Resource(rtype, ref, body, origin, patient_key, medication_key)


def input_files(paths: Iterable[str | Path]) -> Iterator[tuple[str, str | None]]:
    """Each input file and its format (``ndjson``/``json``; None for a file that is neither)."""
    for path, fmt, _ in input_files_named(paths):
        yield path, fmt


def input_files_named(paths: Iterable[str | Path]) -> Iterator[tuple[str, str | None, bool]]:
    """Each input file, its format (``ndjson``/``json``; None: neither) and whether it was named.

    A directory stands for the NDJSON and JSON files directly inside it, in code-point order
    of their names; other files inside a directory are passed over (listed as skipped).
    """
    for raw in paths:
        path = str(raw)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                inner = os.path.join(path, name)
                if os.path.isdir(inner):
                    continue
                yield inner, _format_of(name), False
        else:
            yield path, _format_of(path), True


def _format_of(name: str) -> str | None:
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    return None


def _open(path: str) -> BinaryIO:
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _parse(payload: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "utf-8" in message.lower() or "surrogate" in message.lower():
            return None, f"not UTF-8: {message}; re-export the file as UTF-8"
        return None, f"not JSON: {message}"
    if not isinstance(value, dict):
        return None, f"not a JSON object but {type(value).__name__}; each line must be one FHIR resource"
    if not isinstance(value.get("resourceType"), str):
        return None, "no string resourceType; this is not a FHIR resource"
    return value, None


class InputReader:
    """Streams the resources of the input paths, keeping one :class:`FileReport` per file."""

    def __init__(self) -> None:
        """Start with no files read."""
        self.files: list[FileReport] = []
        self.skipped: list[dict[str, str]] = []
        self.bundles = 0

    @property
    def parse_errors(self) -> list[ParseError]:
        """Every parse error so far, file by file."""
        return [e for f in self.files for e in f.errors]

    def read(self, paths: Iterable[str | Path]) -> Iterator[Resource]:
        """Every resource of ``paths`` (Bundles unpacked), in file, line and entry order."""
        for path, fmt, named in input_files_named(paths):
            if fmt is None and not named:
                self.skipped.append({"file": path, "reason": "not .ndjson, .ndjson.gz, .jsonl or .json"})
                continue
            if fmt is None:
                report = FileReport(path, "unknown")
                report.errors.append(
                    ParseError(path, 0, "", "not a FHIR file: name it .ndjson, .ndjson.gz, .jsonl or .json")
                )
                self.files.append(report)
                continue
            report = FileReport(path, fmt)
            self.files.append(report)
            if fmt == "ndjson":
                yield from self._ndjson(path, report)
            else:
                yield from self._json(path, report)

    def _ndjson(self, path: str, report: FileReport) -> Iterator[Resource]:
        number = 0
        try:
            with _open(path) as stream:
                for number, raw in enumerate(stream, start=1):
                    payload = raw.strip()
                    if not payload:
                        continue
                    report.read += 1
                    body, error = _parse(payload)
                    if body is None:
                        report.errors.append(ParseError(path, number, "", error or "unreadable"))
                        continue
                    yield from self._unpack(body, Origin(path, number, ""), None, None, report)
        except (OSError, EOFError, zlib.error) as exc:
            report.errors.append(
                ParseError(path, number + 1, "", f"cannot read the file past here: {exc}; check the file")
            )

    def _json(self, path: str, report: FileReport) -> Iterator[Resource]:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            report.errors.append(ParseError(path, 0, "", f"cannot read the file: {exc.strerror or exc}"))
            return
        body, error = _parse(data)
        if body is None:
            report.errors.append(ParseError(path, 1, "", error or "unreadable"))
            return
        yield from self._unpack(body, Origin(path, 0, ""), None, None, report)

    def _unpack(
        self,
        body: dict[str, Any],
        origin: Origin,
        full_url: str | None,
        bundle_index: Mapping[str, Mapping[str, Any]] | None,
        report: FileReport,
    ) -> Iterator[Resource]:
        if body.get("resourceType") != "Bundle":
            report.resources += 1
            yield resource_from_body(body, origin, full_url, bundle_index)
            return
        self.bundles += 1
        entries = body.get("entry")
        if entries is None:
            return
        if not isinstance(entries, list):
            report.errors.append(
                ParseError(origin.file, origin.line, origin.entry, "Bundle.entry is not a list")
            )
            return
        index: dict[str, Mapping[str, Any]] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str):
                inner = entry.get("resource")
                if isinstance(inner, dict):
                    index[entry["fullUrl"]] = inner
        for position, entry in enumerate(entries):
            where = f"{origin.entry}.entry[{position}]" if origin.entry else f"entry[{position}]"
            if origin.line == 0:
                report.read += 1
            inner_origin = Origin(origin.file, origin.line, where)
            if not isinstance(entry, dict) or "resource" not in entry:
                report.entries_without_resource += 1
                continue
            inner = entry["resource"]
            if not isinstance(inner, dict) or not isinstance(inner.get("resourceType"), str):
                report.errors.append(
                    ParseError(origin.file, origin.line, where, "entry.resource has no string resourceType")
                )
                continue
            url = entry.get("fullUrl")
            yield from self._unpack(inner, inner_origin, url if isinstance(url, str) else None, index, report)
