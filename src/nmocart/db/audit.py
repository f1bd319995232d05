"""The hash-chained, append-only audit trail: append, verify, filter, export.

Each entry's hash is the SHA-256 of a canonical serialisation: the compact JSON array
``[sequence, recorded_at, actor, entity, entity_id, candidate_id, action, changes, reason,
previous_hash]`` (``recorded_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``changes`` the stored JSON
text verbatim). ``previous_hash`` is the hash of the entry before (64 zeros for the first), so
changing, inserting or removing any entry breaks the chain at that point.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine, String, literal_column, select
from sqlalchemy.orm import Session

from nmocart.db.database import Database
from nmocart.db.errors import is_storable

if TYPE_CHECKING:
    from nmocart.db.accounts import Actor, SystemOperator
from nmocart.db.models import GENESIS_HASH, AuditEntry, AuditHead

__all__ = [
    "AuditFilter",
    "AuditRow",
    "ChainReport",
    "append",
    "audit_csv",
    "audit_trail",
    "canonical_json",
    "entry_hash",
    "neutralise_cell",
    "query_entries",
    "timestamp_text",
    "verify_chain",
]


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys: the one text form hashed and stored."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def timestamp_text(moment: dt.datetime) -> str:
    """A UTC instant as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (fixed width, sorts as time).

    A naive datetime is taken as UTC (how SQLite stores the audit times).
    """
    offset = moment.utcoffset()
    if offset is not None:
        moment = (moment - offset).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def entry_hash(
    sequence: int,
    recorded_at: dt.datetime,
    actor: str,
    entity: str,
    entity_id: str,
    candidate_id: str | None,
    action: str,
    changes: str,
    reason: str | None,
    previous_hash: str,
) -> str:
    """The SHA-256 of one entry's canonical serialisation (see the module docstring)."""
    return _hash_of(
        sequence,
        timestamp_text(recorded_at),
        actor,
        entity,
        entity_id,
        candidate_id,
        action,
        changes,
        reason,
        previous_hash,
    )


def _hash_of(
    sequence: int,
    recorded_at: str,
    actor: str,
    entity: str,
    entity_id: str,
    candidate_id: str | None,
    action: str,
    changes: str,
    reason: str | None,
    previous_hash: str,
) -> str:
    payload = orjson.dumps(
        [
            sequence,
            recorded_at,
            actor,
            entity,
            entity_id,
            candidate_id,
            action,
            changes,
            reason,
            previous_hash,
        ]
    )
    return hashlib.sha256(payload).hexdigest()


def append(
    session: Session,
    db: Database,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    changes: object,
    reason: str | None = None,
    candidate_id: str | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry in ``session``'s transaction (which must come from ``db.write()``).

    ``changes`` is JSON-able, usually ``[{"field", "old", "new"}, ...]``; it is stored as
    canonical JSON. The chain head row serialises appends across processes.
    """
    head = session.get(AuditHead, 1)
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by nmocart db upgrade")
    moment = at if at is not None else db.now()
    text = canonical_json(changes)
    sequence = head.last_sequence + 1
    digest = entry_hash(
        sequence, moment, actor, entity, entity_id, candidate_id, action, text, reason, head.last_hash
    )
    entry = AuditEntry(
        sequence=sequence,
        recorded_at=moment,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        candidate_id=candidate_id,
        action=action,
        changes=text,
        reason=reason,
        previous_hash=head.last_hash,
        entry_hash=digest,
    )
    session.add(entry)
    head.last_sequence = sequence
    head.last_hash = digest
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: entries checked and the first problem, if any."""

    entries: int
    first_bad_sequence: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when every entry's content and link matched."""
        return self.problem is None


_RECORDED_TEXT = {
    # the canonical time text computed by the database itself: no per-row conversion in Python
    "postgresql": "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC here)
    "sqlite": "replace(recorded_at, ' ', 'T') || 'Z'",
}


def _verify_columns(dialect: str) -> tuple[Any, ...]:
    return (
        AuditEntry.sequence,
        literal_column(_RECORDED_TEXT[dialect], String),
        *_VERIFY_COLUMNS,
    )


_VERIFY_COLUMNS = (
    AuditEntry.actor,
    AuditEntry.entity,
    AuditEntry.entity_id,
    AuditEntry.candidate_id,
    AuditEntry.action,
    AuditEntry.changes,
    AuditEntry.reason,
    AuditEntry.previous_hash,
    AuditEntry.entry_hash,
)


def verify_chain(engine: Engine, batch: int = 20_000) -> ChainReport:
    """Walk the whole chain in sequence order, streaming rows; stop at the first mismatch.

    Checks, per entry: the sequence number follows the one before, ``previous_hash`` equals
    the previous entry's hash, and the stored hash equals the recomputed one. At the end the
    head row must name the last entry (so removing entries from the end is detected too).
    Everything is read in one snapshot (REPEATABLE READ on PostgreSQL, one read transaction on
    SQLite), so entries appended while it runs cannot confuse it.
    """
    expected_previous = GENESIS_HASH
    expected_sequence = 1
    count = 0
    options: dict[str, Any] = {"stream_results": True, "yield_per": batch}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as connection, connection.begin():
        head = connection.execute(select(AuditHead.last_sequence, AuditHead.last_hash)).first()
        rows = connection.execute(select(*_verify_columns(engine.dialect.name)).order_by(AuditEntry.sequence))
        for row in (row for partition in rows.partitions() for row in partition):
            sequence = row[0]
            if sequence != expected_sequence:
                return ChainReport(
                    count,
                    sequence,
                    f"entry {sequence}: expected sequence number {expected_sequence}; "
                    f"entries {expected_sequence}..{sequence - 1} are missing",
                )
            if row[9] != expected_previous:
                return ChainReport(
                    count,
                    sequence,
                    f"entry {sequence}: previous_hash does not match the hash of entry {sequence - 1}",
                )
            digest = _hash_of(*row[:10])
            if digest != row[10]:
                return ChainReport(
                    count, sequence, f"entry {sequence}: content does not match its hash (altered)"
                )
            expected_previous = digest
            expected_sequence += 1
            count += 1
        rows.close()
    if head is None:
        return ChainReport(count, None, "the audit head row is missing")
    if head[0] != count or head[1] != expected_previous:
        return ChainReport(
            count,
            count + 1,
            f"the chain ends at entry {count} but the head records entry {head[0]}; "
            "entries were removed from the end",
        )
    return ChainReport(count, None, None)


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show: by candidate, by user, by UTC date range (inclusive)."""

    candidate_id: str | None = None
    actor: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the web layer and the CSV show it."""

    sequence: int
    recorded_at: dt.datetime
    actor: str
    entity: str
    entity_id: str
    candidate_id: str | None
    action: str
    changes: Any
    reason: str | None
    previous_hash: str
    entry_hash: str

    def as_dict(self) -> dict[str, object]:
        """JSON shape of the API."""
        return {
            "sequence": self.sequence,
            "recorded_at": timestamp_text(self.recorded_at),
            "actor": self.actor,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "candidate_id": self.candidate_id,
            "action": self.action,
            "changes": self.changes,
            "reason": self.reason,
            "previous_hash": self.previous_hash,
            "entry_hash": self.entry_hash,
        }


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def query_entries(session: Session, where: AuditFilter) -> list[AuditRow]:
    """Entries matching ``where`` in sequence order (no permission check: see the service)."""
    if not all(is_storable(text) for text in (where.candidate_id or "", where.actor or "")):
        return []  # nothing stored can contain NUL or a lone surrogate (see ``storable_text``)
    statement = select(AuditEntry).order_by(AuditEntry.sequence)
    if where.candidate_id is not None:
        statement = statement.where(AuditEntry.candidate_id == where.candidate_id)
    if where.actor is not None:
        statement = statement.where(AuditEntry.actor == where.actor)
    if where.since is not None:
        statement = statement.where(AuditEntry.recorded_at >= _utc_midnight(where.since))
    if where.until is not None:
        statement = statement.where(
            AuditEntry.recorded_at < _utc_midnight(where.until + dt.timedelta(days=1))
        )
    if where.offset:
        statement = statement.offset(where.offset)
    if where.limit is not None:
        statement = statement.limit(where.limit)
    return [_row(entry) for entry in session.scalars(statement)]


def audit_trail(
    db: Database, actor: Actor | SystemOperator, where: AuditFilter | None = None
) -> list[AuditRow]:
    """The audit trail, filtered (monitors; see ``candidate_audit`` for one candidate's history)."""
    from nmocart.db.accounts import require
    from nmocart.db.roles import Permission

    with db.read() as session:
        require(session, actor, Permission.read_audit)
        return query_entries(session, where if where is not None else AuditFilter())


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        entry.sequence,
        entry.recorded_at,
        entry.actor,
        entry.entity,
        entry.entity_id,
        entry.candidate_id,
        entry.action,
        orjson.loads(entry.changes),
        entry.reason,
        entry.previous_hash,
        entry.entry_hash,
    )


_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: str) -> str:
    """OWASP CSV-injection defence: prefix ``'`` to a cell starting with = + - @ tab or CR."""
    return "'" + value if value.startswith(_DANGEROUS_START) else value


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text (RFC 4180, CRLF line ends) with every text cell neutralised against injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else neutralise_cell(str(cell)) for cell in row])
    return out.getvalue()


AUDIT_CSV_HEADER = (
    "sequence",
    "recorded_at_utc",
    "actor",
    "entity",
    "entity_id",
    "candidate_id",
    "action",
    "changes",
    "reason",
    "previous_hash",
    "entry_hash",
)


def audit_csv(rows: Iterable[AuditRow]) -> str:
    """The audit entries as CSV; ``changes`` as canonical JSON text."""
    return write_csv(AUDIT_CSV_HEADER, _csv_cells(rows))


def _csv_cells(rows: Iterable[AuditRow]) -> Iterator[tuple[object, ...]]:
    for r in rows:
        yield (
            r.sequence,
            timestamp_text(r.recorded_at),
            r.actor,
            r.entity,
            r.entity_id,
            r.candidate_id,
            r.action,
            canonical_json(r.changes),
            r.reason,
            r.previous_hash,
            r.entry_hash,
        )
