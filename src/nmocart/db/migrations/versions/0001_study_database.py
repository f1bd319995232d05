"""The study database: accounts, sessions, tokens, candidates, versions, signatures, log, uploads, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Evidence tables are append-only: triggers reject UPDATE and DELETE on ``audit_entry``,
``candidate_version``, ``signature``, ``status_change`` and ``upload`` (SQLite: ``RAISE(ABORT)``;
PostgreSQL: a PL/pgSQL function raising an exception).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nmocart.db.models import GENESIS_HASH, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_entry", "candidate_version", "signature", "status_change", "upload")
"""Tables whose rows can never be changed or removed."""


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _user_fk(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, sa.ForeignKey("user_account.id"), nullable=False)


def upgrade() -> None:
    """Create every table, the audit chain's head row and the append-only triggers."""
    op.create_table(
        "user_account",
        _id(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_login_at", UtcDateTime, nullable=True),
        sa.CheckConstraint(
            "role IN ('coordinator', 'investigator', 'monitor', 'admin')", name="ck_user_account_role"
        ),
    )
    op.create_table(
        "browser_session",
        _id(),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        _user_fk("user_id"),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_browser_session_user_id", "browser_session", ["user_id"])
    op.create_table(
        "api_token",
        _id(),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        _user_fk("user_id"),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_table(
        "candidate",
        _id(),
        sa.Column("candidate_id", sa.String(64), nullable=False, unique=True),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_date", sa.Date, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        _user_fk("created_by"),
    )
    op.create_table(
        "candidate_version",
        _id(),
        sa.Column("candidate_pk", sa.Integer, sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("result_sha256", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("screening_date", sa.Date, nullable=False),
        sa.Column("protocol_id", sa.String(100), nullable=False),
        sa.Column("protocol_version", sa.String(50), nullable=False),
        sa.Column("protocol_parameters_sha256", sa.String(64), nullable=False),
        sa.Column("saved_at", UtcDateTime, nullable=False),
        _user_fk("saved_by"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.UniqueConstraint("candidate_pk", "version", name="uq_candidate_version"),
        sa.CheckConstraint("version >= 1", name="ck_candidate_version_positive"),
    )
    op.create_table(
        "signature",
        _id(),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("candidate_version.id"), nullable=False),
        _user_fk("user_id"),
        sa.Column("printed_name", sa.String(200), nullable=False),
        sa.Column("signed_at", UtcDateTime, nullable=False),
        sa.Column("meaning", sa.Text, nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("result_sha256", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
    )
    op.create_index("ix_signature_version_id", "signature", ["version_id"])
    op.create_table(
        "status_change",
        _id(),
        sa.Column("candidate_pk", sa.Integer, sa.ForeignKey("candidate.id"), nullable=False),
        sa.Column("old_status", sa.String(20), nullable=True),
        sa.Column("new_status", sa.String(20), nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
        _user_fk("changed_by"),
    )
    op.create_index("ix_status_change_candidate_pk", "status_change", ["candidate_pk"])
    op.create_table(
        "upload",
        _id(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", UtcDateTime, nullable=False),
        _user_fk("uploaded_by"),
        sa.CheckConstraint("kind IN ('safety', 'kinetics')", name="ck_upload_kind"),
    )
    head = op.create_table(
        "audit_head",
        _id(),
        sa.Column("last_sequence", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "last_sequence": 0, "last_hash": GENESIS_HASH}])
    op.create_table(
        "audit_entry",
        sa.Column("sequence", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("candidate_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_entry_recorded_at", "audit_entry", ["recorded_at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_candidate_id", "audit_entry", ["candidate_id"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION nmocart_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'nmocart: % on % is not allowed; the table is append-only',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END;
            $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION nmocart_reject_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION nmocart_reject_change()"
            )
        return
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'nmocart: {operation} on {table} is not allowed; "
                "the table is append-only'); END"
            )
