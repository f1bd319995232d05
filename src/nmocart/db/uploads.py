"""Safety records and kinetics CSV files stored as immutable uploads (who, when, SHA-256).

Each upload is validated by the same parser the CLI uses before it is stored, so what is stored
can always be graded (``nmocart.safety.grade``) or analysed (``nmocart.kinetics.nca``) by the
web layer through the existing report code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from nmocart.batch.safety import parse_record as parse_safety_record
from nmocart.db import audit
from nmocart.db.accounts import Actor, require
from nmocart.db.database import Database
from nmocart.db.errors import InvalidInputError, NotFoundError, storable_text
from nmocart.db.models import Upload, User
from nmocart.db.roles import Permission
from nmocart.kernel.errors import RecordError
from nmocart.kinetics.samples import SampleInputError, read_samples

__all__ = ["MAX_UPLOAD_BYTES", "UploadKind", "UploadView", "get_upload", "list_uploads", "store_upload"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""Largest accepted upload (20 MiB)."""


class UploadKind(StrEnum):
    """What an upload holds."""

    safety = "safety"
    kinetics = "kinetics"


@dataclass(frozen=True)
class UploadView:
    """An upload's provenance; ``content`` holds the exact bytes when asked for."""

    upload_id: int
    kind: UploadKind
    label: str
    filename: str
    sha256: str
    size: int
    uploaded_at: dt.datetime
    uploaded_by: str
    content: bytes | None = None


def _kind(kind: str) -> UploadKind:
    try:
        return UploadKind(kind)
    except ValueError:
        raise InvalidInputError(f"kind: {kind!r} is not an upload kind; use safety or kinetics") from None


def _validate(kind: UploadKind, content: bytes, filename: str) -> str:
    """Check the content with the CLI's parser; return the label (subject id or file name)."""
    if kind is UploadKind.safety:
        try:
            record = parse_safety_record(content)
        except RecordError as exc:
            raise InvalidInputError(str(exc), exc.problems) from None
        return record.subject_id
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError(f"{filename}: not UTF-8 text; save the CSV as UTF-8") from None
    try:
        table = read_samples(text)
    except SampleInputError as exc:
        raise InvalidInputError(str(exc).replace("\n", "; "), exc.problems) from None
    subjects = sorted(set(table.subject))
    shown = ", ".join(subjects[:5]) + (f" and {len(subjects) - 5} more" if len(subjects) > 5 else "")
    return f"{filename} ({len(subjects)} subject{'s' if len(subjects) != 1 else ''}: {shown})"


def store_upload(db: Database, actor: Actor, kind: str, filename: str, content: bytes) -> UploadView:
    """Validate and store one upload; refused with :class:`InvalidInputError` naming the problem."""
    chosen = _kind(kind)
    name = storable_text("filename", filename.strip()) or "upload"
    if len(name) > 255:
        raise InvalidInputError("filename: longer than 255 characters; rename the file")
    if not content:
        raise InvalidInputError(f"{name}: the file is empty; choose the right file")
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"{name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB; split it")
    label = storable_text("subject", _validate(chosen, content, name)[:200])
    digest = hashlib.sha256(content).hexdigest()
    with db.write() as session:
        who = require(session, actor, Permission.upload_data)
        now = db.now()
        upload = Upload(
            kind=chosen.value,
            label=label,
            filename=name,
            content=content,
            sha256=digest,
            uploaded_at=now,
            uploaded_by=actor.user_id,
        )
        session.add(upload)
        session.flush()
        audit.append(
            session,
            db,
            actor=who,
            entity="upload",
            entity_id=str(upload.id),
            action="upload",
            changes=[
                {"field": "kind", "old": None, "new": chosen.value},
                {"field": "label", "old": None, "new": label},
                {"field": "filename", "old": None, "new": name},
                {"field": "sha256", "old": None, "new": digest},
                {"field": "size", "old": None, "new": len(content)},
            ],
            at=now,
        )
        return UploadView(upload.id, chosen, label, name, digest, len(content), now, who)


def list_uploads(db: Database, actor: Actor, kind: str | None = None) -> list[UploadView]:
    """Uploads (without content), newest last; optionally one kind only."""
    with db.read() as session:
        require(session, actor, Permission.read_uploads)
        statement = select(
            Upload.id,
            Upload.kind,
            Upload.label,
            Upload.filename,
            Upload.sha256,
            func.length(Upload.content),
            Upload.uploaded_at,
            User.username,
        ).join(User, User.id == Upload.uploaded_by)
        if kind is not None:
            statement = statement.where(Upload.kind == _kind(kind).value)
        rows = session.execute(statement.order_by(Upload.id))
        return [
            UploadView(i, UploadKind(k), label, filename, sha, int(size), at, who)
            for i, k, label, filename, sha, size, at, who in rows
        ]


def get_upload(db: Database, actor: Actor, upload_id: int) -> UploadView:
    """One upload with its exact content (checked against its stored SHA-256)."""
    with db.read() as session:
        require(session, actor, Permission.read_uploads)
        row = session.execute(
            select(Upload, User.username)
            .join(User, User.id == Upload.uploaded_by)
            .where(Upload.id == upload_id)
        ).first()
        if row is None:
            raise NotFoundError(f"upload: no upload {upload_id}")
        upload, who = row
        if hashlib.sha256(upload.content).hexdigest() != upload.sha256:
            raise RuntimeError(f"upload {upload_id}: content does not match its stored SHA-256")
        return UploadView(
            upload.id,
            UploadKind(upload.kind),
            upload.label,
            upload.filename,
            upload.sha256,
            len(upload.content),
            upload.uploaded_at,
            who,
            upload.content,
        )
