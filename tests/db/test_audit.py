"""The audit trail: hash chain, tamper evidence, append-only enforcement, filters, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import threading
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from nmocart.db import accounts, audit, candidates, uploads
from nmocart.db.accounts import Actor
from nmocart.db.audit import AuditFilter
from nmocart.db.database import Database
from nmocart.db.errors import ForbiddenError
from nmocart.db.models import GENESIS_HASH
from tests.db.conftest import OPERATOR, Clock, example, kinetics_csv, make_user


def _some_history(db: Database, clock: Clock) -> Actor:
    coordinator = make_user(db, "coordinator")
    candidates.create_candidate(db, coordinator, example("eligible"))
    clock.advance(days=1)
    candidates.create_candidate(db, coordinator, example("incomplete"))
    clock.advance(days=1)
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = "second look"
    candidates.save_version(db, coordinator, "SCR-0001", data, 1, "reviewed")
    return coordinator


def _unguarded(connection: Connection, dialect: str) -> None:
    """What someone with raw database access could do: switch the append-only triggers off."""
    if dialect == "postgresql":
        connection.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER audit_entry_no_update"))
        connection.execute(text("DROP TRIGGER audit_entry_no_delete"))


def test_the_chain_links_every_entry_to_the_one_before(db: Database, clock: Clock) -> None:
    _some_history(db, clock)
    rows = audit.audit_trail(db, OPERATOR)
    assert [r.sequence for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].previous_hash == GENESIS_HASH
    for before, after in itertools.pairwise(rows):
        assert after.previous_hash == before.entry_hash
    for r in rows:
        recomputed = audit.entry_hash(
            r.sequence,
            r.recorded_at,
            r.actor,
            r.entity,
            r.entity_id,
            r.candidate_id,
            r.action,
            audit.canonical_json(r.changes),
            r.reason,
            r.previous_hash,
        )
        assert recomputed == r.entry_hash
    report = audit.verify_chain(db.engine)
    assert (report.ok, report.entries, report.first_bad_sequence) == (True, len(rows), None)


def test_the_database_rejects_updates_and_deletes_of_entries(db: Database, clock: Clock) -> None:
    _some_history(db, clock)
    for statement in (
        "UPDATE audit_entry SET reason = 'rewritten' WHERE sequence = 3",
        "DELETE FROM audit_entry WHERE sequence = 3",
        "UPDATE candidate_version SET decision = 'eligible'",
        "DELETE FROM candidate_version",
        "DELETE FROM status_change",
    ):
        with db.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    assert audit.verify_chain(db.engine).ok


def test_truncating_the_evidence_tables_is_rejected(db: Database, clock: Clock) -> None:
    """TRUNCATE fires no row trigger: PostgreSQL needs a statement trigger; SQLite has no TRUNCATE."""
    _some_history(db, clock)
    postgres = db.dialect == "postgresql"
    refusal = "TRUNCATE on .* is not allowed; the table is append-only" if postgres else "syntax"
    cascade = " CASCADE" if db.dialect == "postgresql" else ""
    for table in ("audit_entry", "candidate_version", "signature", "status_change", "upload"):
        with db.engine.connect() as connection:
            with pytest.raises(DBAPIError, match=refusal):
                connection.execute(text(f"TRUNCATE {table}{cascade}"))
            connection.rollback()
    assert audit.verify_chain(db.engine).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [("reason", "'rewritten'"), ("actor", "'someone-else'"), ("changes", "'[]'"), ("entity_id", "'X'")],
)
def test_verify_names_the_first_entry_whose_content_was_edited(
    db: Database, clock: Clock, column: str, value: str
) -> None:
    _some_history(db, clock)
    with db.engine.begin() as connection:
        _unguarded(connection, db.dialect)
        connection.execute(text(f"UPDATE audit_entry SET {column} = {value} WHERE sequence = 4"))
    report = audit.verify_chain(db.engine)
    assert (report.ok, report.first_bad_sequence, report.entries) == (False, 4, 3)
    assert report.problem == "entry 4: content does not match its hash (altered)"


def test_verify_detects_a_rehashed_entry_by_the_broken_link(db: Database, clock: Clock) -> None:
    """Recomputing the edited entry's own hash does not help: the next entry's link breaks."""
    _some_history(db, clock)
    rows = audit.audit_trail(db, OPERATOR)
    target = rows[2]
    forged = audit.entry_hash(
        target.sequence,
        target.recorded_at,
        "intruder",
        target.entity,
        target.entity_id,
        target.candidate_id,
        target.action,
        audit.canonical_json(target.changes),
        target.reason,
        target.previous_hash,
    )
    with db.engine.begin() as connection:
        _unguarded(connection, db.dialect)
        connection.execute(
            text("UPDATE audit_entry SET actor = 'intruder', entry_hash = :h WHERE sequence = 3"),
            {"h": forged},
        )
    report = audit.verify_chain(db.engine)
    assert report.first_bad_sequence == 4
    assert report.problem == "entry 4: previous_hash does not match the hash of entry 3"


def test_verify_detects_removed_entries_in_the_middle_and_at_the_end(db: Database, clock: Clock) -> None:
    _some_history(db, clock)
    count = audit.verify_chain(db.engine).entries
    with db.engine.begin() as connection:
        _unguarded(connection, db.dialect)
        connection.execute(text(f"DELETE FROM audit_entry WHERE sequence = {count}"))
    report = audit.verify_chain(db.engine)
    assert report.first_bad_sequence == count
    assert f"the chain ends at entry {count - 1} but the head records entry {count}" in str(report.problem)
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE sequence = 2"))
    report = audit.verify_chain(db.engine)
    assert (report.first_bad_sequence, report.entries) == (3, 1)
    assert report.problem == "entry 3: expected sequence number 2; entries 2..2 are missing"


def test_filters_by_candidate_user_and_date(db: Database, clock: Clock) -> None:
    _some_history(db, clock)
    everything = audit.audit_trail(db, OPERATOR)
    one = audit.audit_trail(db, OPERATOR, AuditFilter(candidate_id="SCR-0001"))
    assert {r.candidate_id for r in one} == {"SCR-0001"}
    assert [r.action for r in one] == ["create", "set_status", "update"]
    by_user = audit.audit_trail(db, OPERATOR, AuditFilter(actor="cli:test"))
    assert [(r.entity, r.action) for r in by_user] == [("user", "create")]
    first_day = dt.date(2026, 3, 2)
    day_one = audit.audit_trail(db, OPERATOR, AuditFilter(since=first_day, until=first_day))
    assert {r.recorded_at.date() for r in day_one} == {first_day}
    later = audit.audit_trail(db, OPERATOR, AuditFilter(since=first_day + dt.timedelta(days=1)))
    assert len(day_one) + len(later) == len(everything)
    page = audit.audit_trail(db, OPERATOR, AuditFilter(limit=2, offset=1))
    assert [r.sequence for r in page] == [2, 3]


def test_only_monitors_read_the_whole_trail(db: Database, clock: Clock) -> None:
    coordinator = _some_history(db, clock)
    monitor = make_user(db, "monitor")
    admin = make_user(db, "admin")
    investigator = make_user(db, "investigator")
    assert audit.audit_trail(db, monitor)
    for actor in (coordinator, admin, investigator):
        with pytest.raises(ForbiddenError, match="may not read audit"):
            audit.audit_trail(db, actor)
    assert candidates.candidate_audit(db, coordinator, "SCR-0001")


def test_csv_export_keeps_every_entry_and_neutralises_formulas(db: Database, clock: Clock) -> None:
    coordinator = _some_history(db, clock)
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = "=HYPERLINK('http://evil')"
    candidates.save_version(db, coordinator, "SCR-0001", data, 2, "@SUM(1+1)")
    rows = audit.audit_trail(db, OPERATOR)
    parsed = list(csv.DictReader(io.StringIO(audit.audit_csv(rows))))
    assert [int(r["sequence"]) for r in parsed] == [r.sequence for r in rows]
    assert parsed[-1]["reason"] == "'@SUM(1+1)"
    assert orjson.loads(parsed[-1]["changes"]) == rows[-1].changes
    assert parsed[-1]["entry_hash"] == rows[-1].entry_hash


def test_state_changes_everywhere_write_entries(db: Database, clock: Clock) -> None:
    coordinator = make_user(db, "coordinator")
    accounts.create_session(db, coordinator)
    uploads.store_upload(db, coordinator, "kinetics", "k.csv", kinetics_csv())
    actions = [(r.entity, r.action) for r in audit.audit_trail(db, OPERATOR)]
    assert actions == [("user", "create"), ("user", "login"), ("upload", "upload")]


def test_concurrent_writers_keep_one_unbroken_chain(db: Database, clock: Clock) -> None:
    coordinator = make_user(db, "coordinator")
    base = orjson.loads(example("eligible"))
    errors: list[BaseException] = []

    def create(index: int) -> None:
        try:
            for n in range(5):
                record = {**base, "candidate_id": f"T{index}-{n}"}
                candidates.create_candidate(db, coordinator, record)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = audit.verify_chain(db.engine)
    assert report.ok
    assert report.entries == 1 + 4 * 5 * 2


def test_timestamp_text_is_fixed_width_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert audit.timestamp_text(dt.datetime(2026, 3, 2, 10, 0, tzinfo=paris)) == "2026-03-02T09:00:00.000000Z"
    assert audit.timestamp_text(dt.datetime(2026, 3, 2, 9, 0, 0, 7)) == "2026-03-02T09:00:00.000007Z"
    assert audit.timestamp_text(dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)) == (
        "2026-12-31T23:59:59.999999Z"
    )


_entry_fields = st.tuples(
    st.integers(1, 2**40),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.none() | st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=16),
    st.none() | st.text(max_size=8),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)


@settings(max_examples=300)
@given(_entry_fields, _entry_fields)
def test_entry_hash_differs_whenever_any_field_differs(
    first: tuple[Any, ...], second: tuple[Any, ...]
) -> None:
    """The canonical serialisation is unambiguous: no two different entries share a hash."""
    same = first == second
    assert (audit.entry_hash(*first) == audit.entry_hash(*second)) == same
