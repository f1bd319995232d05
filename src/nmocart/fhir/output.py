"""What the intake writes (spec fhir.md section 7): records, sources and the intake report.

:class:`IntakeTally` counts every resource exactly once (``read = used + unmapped + ignored``)
and can be merged across workers; :class:`IntakeWriter` writes ``records.ndjson`` and
``sources.ndjson`` as patients arrive in ``candidate_id`` order. Output bytes depend only on
the input's content: lists are sorted, keys in a fixed order, no clock, no locale.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from nmocart.fhir.concept_map import ConceptMap
from nmocart.fhir.intake import PatientIntake, ResourceOutcome
from nmocart.fhir.resources import FileReport, Origin, Resource

__all__ = [
    "IntakeTally",
    "IntakeWriter",
    "OutcomeCounter",
    "OutcomeKey",
    "record_line",
    "sources_line",
    "write_json",
]

RECORDS = "records.ndjson"
SOURCES = "sources.ndjson"
REPORT = "intake-report.json"


@dataclass
class _TypeCount:
    read: int = 0
    used: int = 0
    unmapped: int = 0
    ignored: Counter[str] = field(default_factory=Counter)

    def absorb(self, other: _TypeCount) -> None:
        self.read += other.read
        self.used += other.used
        self.unmapped += other.unmapped
        self.ignored.update(other.ignored)

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "used": self.used,
            "unmapped": self.unmapped,
            "ignored": dict(sorted(self.ignored.items())),
        }


def _where(origin: Origin) -> dict[str, object]:
    return {"file": origin.file, "line": origin.line, "entry": origin.entry}


@dataclass
class IntakeTally:
    """The accounting of a run: per type, per code, patients, warnings, orphans, duplicates.

    Add each :class:`PatientIntake` with :meth:`add_intake` and each resource counted outside a
    patient (``type_not_read``, ``orphan``, Medications) with :meth:`add_outcome`; tallies made
    in several workers combine with :meth:`merge`.
    """

    types: dict[str, _TypeCount] = field(default_factory=dict)
    codes: dict[tuple[str, str, str], _TypeCount] = field(default_factory=dict)
    displays: dict[tuple[str, str, str], str] = field(default_factory=dict)
    unmapped_units: Counter[tuple[str, str]] = field(default_factory=Counter)
    patients_read: int = 0
    records_built: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, object]] = field(default_factory=list)

    def add_outcome(self, outcome: ResourceOutcome) -> None:
        """Count one resource once, under its type and under each of its codings."""
        self.add_counted(outcome.resource_type, outcome.status, outcome.reason, outcome.codes, 1)

    def add_counted(
        self,
        resource_type: str,
        status: str,
        reason: str,
        codes: tuple[tuple[str, str, str], ...],
        count: int,
    ) -> None:
        """Count ``count`` resources that share a type, status, reason and codings, in one step.

        The same counts as :meth:`add_outcome` called ``count`` times with outcomes of those
        fields (which resources they were, and where, does not enter the counts): engines
        tally a chunk of patients' outcomes by these fields first (:class:`OutcomeCounter`), and
        ``type_not_read`` resources are counted per type.
        """
        counts = [self.types.setdefault(resource_type, _TypeCount())]
        keys: dict[tuple[str, str, str], None] = {}
        for system, code, display in codes:
            key = (resource_type, system, code)
            keys[key] = None  # one count per (system, code) and resource, whatever the displays
            if display and (key not in self.displays or display < self.displays[key]):
                self.displays[key] = display
        counts.extend(self.codes.setdefault(key, _TypeCount()) for key in keys)
        for tally in counts:
            tally.read += count
            if status == "used":
                tally.used += count
            elif status == "unmapped":
                tally.unmapped += count
            else:
                tally.ignored[reason] += count

    def add_intake(self, intake: PatientIntake, outcomes: OutcomeCounter | None = None) -> None:
        """Count one patient's resources, its record or rejection, and its warnings.

        With ``outcomes``, the patient's resource outcomes are collected there (to be added
        in bulk with :meth:`OutcomeCounter.add_to`) instead of being counted one by one.
        """
        self.patients_read += sum(1 for o in intake.outcomes if o.resource_type == "Patient")
        if outcomes is None:
            for outcome in intake.outcomes:
                self.add_outcome(outcome)
        else:
            outcomes.add(intake.outcomes)
        if intake.record is not None:
            self.records_built += 1
        else:
            for outcome in intake.outcomes:
                if outcome.resource_type == "Patient":
                    self.rejected.append(
                        {"patient": intake.candidate_id or outcome.ref, "reason": intake.rejection or ""}
                    )
        self.warnings.extend(intake.warnings)
        self.unmapped_units.update(intake.unmapped_units)

    def add_orphan(self, resource: Resource) -> None:
        """Count a resource whose subject is not a Patient of this run, and list where it is."""
        subject = resource.body.get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        self.add_outcome(
            ResourceOutcome(resource.resource_type, resource.ref, "ignored", "orphan", (), resource.origin)
        )
        self.orphans.append(
            {
                "resource": resource.ref,
                **_where(resource.origin),
                "subject": reference if isinstance(reference, str) else None,
            }
        )

    def add_duplicate(self, ref: str, origins: Iterable[Origin]) -> None:
        """List a resource id that occurs more than once, with every copy's place."""
        self.duplicates.append({"resource": ref, "copies": [_where(o) for o in sorted(origins)]})

    def merge(self, other: IntakeTally) -> None:
        """Add another worker's tally into this one."""
        for rtype, count in other.types.items():
            self.types.setdefault(rtype, _TypeCount()).absorb(count)
        for key, count in other.codes.items():
            self.codes.setdefault(key, _TypeCount()).absorb(count)
        for key, display in other.displays.items():
            if key not in self.displays or display < self.displays[key]:
                self.displays[key] = display
        self.unmapped_units.update(other.unmapped_units)
        self.patients_read += other.patients_read
        self.records_built += other.records_built
        self.rejected.extend(other.rejected)
        self.warnings.extend(other.warnings)
        self.orphans.extend(other.orphans)
        self.duplicates.extend(other.duplicates)

    def unmapped_codes(self) -> list[dict[str, object]]:
        """Spec section 7: ``[{resource_type, system, code, display, count}]``, by count, system, code."""
        rows = [
            {
                "resource_type": key[0],
                "system": key[1],
                "code": key[2],
                "display": self.displays.get(key, ""),
                "count": count.unmapped,
            }
            for key, count in self.codes.items()
            if count.unmapped
        ]
        rows.sort(key=lambda r: (-int(r["count"]), str(r["system"]), str(r["code"]), str(r["resource_type"])))  # type: ignore[call-overload]
        return rows

    def coverage_rows(self) -> list[dict[str, object]]:
        """Per resource type (system and code empty) and per (type, system, code): the counts."""
        rows: list[dict[str, object]] = []
        for rtype, count in sorted(self.types.items()):
            rows.append({"resource_type": rtype, "system": "", "code": "", "display": "", **count.as_dict()})
        for key, count in sorted(self.codes.items()):
            rows.append(
                {
                    "resource_type": key[0],
                    "system": key[1],
                    "code": key[2],
                    "display": self.displays.get(key, ""),
                    **count.as_dict(),
                }
            )
        return rows

    @property
    def problems(self) -> int:
        """Input problems that cost a patient or a resource: rejections, orphans, duplicates."""
        return len(self.rejected) + len(self.orphans) + len(self.duplicates)

    def report(
        self,
        concept_map: ConceptMap,
        default_date: dt.date,
        files: Iterable[FileReport],
        skipped: Iterable[Mapping[str, str]] = (),
        bundles: int = 0,
    ) -> dict[str, Any]:
        """The ``intake-report.json`` document (spec section 7), deterministic."""
        return {
            "concept_map_sha256": concept_map.sha256,
            "concept_map": concept_map.source,
            "screening_date_default": default_date.isoformat(),
            "files": [f.as_dict() for f in sorted(files, key=lambda f: f.file)],
            "skipped_files": list(skipped),
            "bundles": bundles,
            "patients": {
                "read": self.patients_read,
                "records_built": self.records_built,
                "rejected": sorted(self.rejected, key=lambda r: (r["patient"], r["reason"])),
            },
            "resources": {rtype: count.as_dict() for rtype, count in sorted(self.types.items())},
            "unmapped_codes": self.unmapped_codes(),
            "unmapped_units": [
                {"target": target, "unit": unit, "count": n}
                for (target, unit), n in sorted(self.unmapped_units.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "warnings": sorted(
                self.warnings, key=lambda w: (w["patient"], w["resource"], w["kind"], w["detail"])
            ),
            "orphans": sorted(
                self.orphans,
                key=lambda o: (str(o["resource"]), str(o["file"]), int(o["line"]), str(o["entry"])),
            ),
            "duplicate_ids": sorted(self.duplicates, key=lambda d: str(d["resource"])),
        }


OutcomeKey = tuple[str, str, str, tuple[tuple[str, str, str], ...]]
"""What the counts of a resource outcome depend on: type, status, reason, codings."""


@dataclass
class OutcomeCounter:
    """Resource outcomes counted by :data:`OutcomeKey`, to be added to an :class:`IntakeTally` in bulk.

    A population has a few hundred distinct keys for millions of resources, so counting
    keys first and adding each key once (:meth:`IntakeTally.add_counted`) gives the same
    tally for a fraction of the work.
    """

    counts: Counter[OutcomeKey] = field(default_factory=Counter)

    def add(self, outcomes: Iterable[ResourceOutcome]) -> None:
        """Count outcomes under their keys."""
        self.counts.update((o.resource_type, o.status, o.reason, o.codes) for o in outcomes)

    def add_to(self, tally: IntakeTally) -> None:
        """Add every counted outcome to ``tally`` and start again from zero."""
        for (rtype, status, reason, codes), count in self.counts.items():
            tally.add_counted(rtype, status, reason, codes, count)
        self.counts.clear()


def record_line(intake: PatientIntake) -> bytes:
    """The ``records.ndjson`` line of a built patient: its record's JSON text and a newline."""
    if intake.record is None:
        raise ValueError(f"patient {intake.candidate_id} has no record")
    text = intake.record_json if intake.record_json is not None else orjson.dumps(intake.record)
    return text + b"\n"


def sources_line(intake: PatientIntake) -> bytes:
    """The ``sources.ndjson`` line of a built patient: ``{"candidate_id", "sources"}`` and a newline."""
    return orjson.dumps({"candidate_id": intake.candidate_id, "sources": intake.sources}) + b"\n"


def write_json(path: Path, document: object) -> None:
    """Write a JSON document, indented, keys in the order given, trailing newline."""
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


class IntakeWriter:
    """Writes ``records.ndjson`` and ``sources.ndjson``; give it patients in ``candidate_id`` order."""

    def __init__(self, out_dir: Path) -> None:
        """Open both files in ``out_dir`` (created when missing)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        self._records: IO[bytes] = (out_dir / RECORDS).open("wb")
        self._sources: IO[bytes] = (out_dir / SOURCES).open("wb")
        self._last: str | None = None

    def add(self, intake: PatientIntake) -> None:
        """Write one built patient's record and sources lines (rejected patients write nothing)."""
        if intake.record is None or intake.candidate_id is None:
            return
        if self._last is not None and intake.candidate_id <= self._last:
            raise ValueError(f"records out of candidate_id order: {intake.candidate_id} after {self._last}")
        self._last = intake.candidate_id
        self._records.write(record_line(intake))
        self._sources.write(sources_line(intake))

    def close(self) -> None:
        """Flush and close both files."""
        self._records.close()
        self._sources.close()

    def __enter__(self) -> IntakeWriter:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        self.close()
