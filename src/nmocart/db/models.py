"""The study database's tables as typed SQLAlchemy 2 models.

Tables holding evidence are append-only (``audit_entry``, ``candidate_version``, ``signature``,
``status_change``, ``upload``): the application only inserts into them, and triggers created by
the migration reject UPDATE and DELETE on both SQLite and PostgreSQL. ``candidate`` and
``user_account`` hold the current state, and every change to them is written to the audit trail in
the same transaction. Record and result JSON are stored as the exact canonical text whose SHA-256
is stored beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "BrowserSession",
    "Candidate",
    "CandidateVersion",
    "Signature",
    "StatusChange",
    "Upload",
    "User",
    "UtcDateTime",
]

GENESIS_HASH = "0" * 64
"""The ``previous_hash`` of the first audit entry."""


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC instant, stored to the microsecond (naive UTC on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Always hand back an aware UTC datetime."""
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the study tables."""


class User(Base):
    """A person's account: role, argon2id password hash, lockout counters. Never deleted."""

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class BrowserSession(Base):
    """A server-side browser session: the SHA-256 of its cookie token, idle and absolute expiry."""

    __tablename__ = "browser_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """An API bearer token: stored as its SHA-256 only, with an expiry."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Candidate(Base):
    """A screening candidate: the latest version number and the screening-log status."""

    __tablename__ = "candidate"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(64), unique=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    status_date: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class CandidateVersion(Base):
    """One immutable saved version of a candidate's record, with its screening result."""

    __tablename__ = "candidate_version"
    __table_args__ = (UniqueConstraint("candidate_pk", "version", name="uq_candidate_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidate.id"))
    version: Mapped[int] = mapped_column(Integer)
    record_json: Mapped[str] = mapped_column(Text)
    record_sha256: Mapped[str] = mapped_column(String(64))
    result_json: Mapped[str] = mapped_column(Text)
    result_sha256: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(20))
    screening_date: Mapped[dt.date] = mapped_column(Date)
    protocol_id: Mapped[str] = mapped_column(String(100))
    protocol_version: Mapped[str] = mapped_column(String(50))
    protocol_parameters_sha256: Mapped[str] = mapped_column(String(64))
    saved_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    saved_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class Signature(Base):
    """An investigator's electronic signature of one version's eligibility decision."""

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("candidate_version.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    meaning: Mapped[str] = mapped_column(Text)
    record_sha256: Mapped[str] = mapped_column(String(64))
    result_sha256: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(20))


class StatusChange(Base):
    """One screening-log status change: new status, its effective date, who, when and why."""

    __tablename__ = "status_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_pk: Mapped[int] = mapped_column(ForeignKey("candidate.id"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class Upload(Base):
    """An immutable safety record (JSON) or kinetics CSV, as uploaded, with its SHA-256."""

    __tablename__ = "upload"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class AuditHead(Base):
    """The single lock row of the audit chain: the last sequence number and hash."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One audit-trail entry, hash-chained to the previous one (append-only)."""

    __tablename__ = "audit_entry"
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(100))
    candidate_id: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(30))
    changes: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
