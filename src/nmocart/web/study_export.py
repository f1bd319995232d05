"""The study's CDISC SDTM export from the database, through ``nmocart.cdisc.export.export_study``.

The export reads the latest version of every candidate, the latest safety upload of every
subject and the latest kinetics CSV; the enrolment (which candidate became which subject, with
consent and enrolment dates) comes as the CDISC enrolment CSV with the request, because the
database does not map candidates to safety subject ids. The result is one ZIP of ``xpt/``,
``json/`` and ``define.xml``; its SHA-256 and the inputs used are written to the audit trail.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from nmocart.cdisc.export import ExportValidationError, export_study
from nmocart.cdisc.inputs import (
    ExportInputError,
    Sourced,
    StudyInput,
    enrolment_from_text,
    kinetics_from_text,
)
from nmocart.db import audit, candidates, uploads
from nmocart.db.accounts import Actor, require
from nmocart.db.database import Database
from nmocart.db.roles import Permission
from nmocart.safety.record import SafetyRecord
from nmocart.screening.record import ScreeningRecord, parse_record
from nmocart.web.clinical import ClinicalInputError, safety_record

EXPORT_PERMISSION = Permission.change_status
"""Who may export: investigators (a study-level data-manager action, like recording enrolment)."""


@dataclass(frozen=True)
class StudyExport:
    """The ZIP archive, its name and SHA-256, and the export's warnings."""

    filename: str
    content: bytes
    sha256: str
    warnings: tuple[str, ...]


def study_input(db: Database, actor: Actor, enrolment_csv: str | None, source: str) -> StudyInput:
    """What the database holds now, as the exporter's input; every problem named, all collected."""
    problems: list[str] = []
    screening: list[Sourced[ScreeningRecord]] = []
    for summary in candidates.list_candidates(db, actor):
        view = candidates.get_version(db, actor, summary.candidate_id, None)
        screening.append(
            Sourced(f"{view.candidate_id} version {view.version}", parse_record(view.record_json))
        )
    latest_safety: dict[str, uploads.UploadView] = {}
    kinetics_upload: uploads.UploadView | None = None
    for upload in uploads.list_uploads(db, actor):
        if upload.kind.value == "safety":
            latest_safety[upload.label] = upload
        else:
            kinetics_upload = upload
    safety: list[Sourced[SafetyRecord]] = []
    for label in sorted(latest_safety):
        found = uploads.get_upload(db, actor, latest_safety[label].upload_id)
        try:
            record = safety_record(found.content or b"")
        except ClinicalInputError as exc:
            problems.extend(f"safety upload {found.upload_id}: {p}" for p in exc.problems)
            continue
        safety.append(Sourced(f"safety upload {found.upload_id} ({found.filename})", record))
    if kinetics_upload is None:
        problems.append("kinetics: no kinetics CSV uploaded; upload the samples CSV under Kinetics first")
    enrolment = None
    if enrolment_csv is not None:
        try:
            enrolment = enrolment_from_text(source, enrolment_csv)
        except ExportInputError as exc:
            problems.extend(exc.problems)
    if problems or kinetics_upload is None:
        raise ExportInputError(problems)
    content = uploads.get_upload(db, actor, kinetics_upload.upload_id).content or b""
    kinetics = kinetics_from_text(kinetics_upload.filename, content.decode("utf-8-sig"))
    return StudyInput(db.protocol, tuple(screening), tuple(safety), kinetics, enrolment, source)


def export_zip(db: Database, actor: Actor, enrolment_csv: str | None, enrolment_name: str) -> StudyExport:
    """Export the study, zip the folder (fixed order, fixed timestamps), audit it, return it."""
    with db.read() as session:
        require(session, actor, EXPORT_PERMISSION)
    created = db.now().strftime("%Y-%m-%dT%H:%M:%S")
    inputs = study_input(db, actor, enrolment_csv, enrolment_name)
    with tempfile.TemporaryDirectory(prefix="nmocart-cdisc-") as folder:
        out = Path(folder) / "sdtm"
        try:
            result = export_study(inputs, out, created)
        except ExportValidationError as exc:
            raise ExportInputError([str(exc)]) from None
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(
                    f"sdtm/{path.relative_to(out).as_posix()}", date_time=(1980, 1, 1, 0, 0, 0)
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    content = buffer.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    filename = f"nmocart-sdtm-{created.replace(':', '')}.zip"
    with db.write() as session:
        who = require(session, actor, EXPORT_PERMISSION)
        audit.append(
            session,
            db,
            actor=who,
            entity="export",
            entity_id=filename,
            action="cdisc_export",
            changes=[
                {"field": "sha256", "old": None, "new": digest},
                {"field": "candidates", "old": None, "new": len(inputs.screening)},
                {"field": "safety_subjects", "old": None, "new": len(inputs.safety)},
                {"field": "kinetics", "old": None, "new": inputs.kinetics.source},
                {
                    "field": "enrolment",
                    "old": None,
                    "new": enrolment_name if enrolment_csv is not None else None,
                },
            ],
        )
    return StudyExport(filename, content, digest, result.warnings)
