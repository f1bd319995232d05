"""Candidates: screened versions, reasons, optimistic locking (also racing), diffs, roles."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from nmocart.db import audit, candidates
from nmocart.db.accounts import Actor
from nmocart.db.candidates import FieldChange, json_diff
from nmocart.db.database import Database
from nmocart.db.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from nmocart.db.models import CandidateVersion
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import RecordError, parse_record
from tests.db.conftest import OPERATOR, example, make_user
from tests.db.racing import save_on_base


def _with_note(record: bytes | dict[str, Any], note: str) -> dict[str, Any]:
    data = orjson.loads(record) if isinstance(record, bytes) else dict(record)
    data["investigator"] = {**(data.get("investigator") or {}), "notes": note}
    return data


@pytest.mark.parametrize("name", ["eligible", "ineligible", "incomplete"])
def test_create_stores_the_canonical_record_and_the_cli_result(
    db: Database, coordinator: Actor, name: str
) -> None:
    raw = example(name)
    view = candidates.create_candidate(db, coordinator, raw)
    record = parse_record(raw)
    expected = orjson.dumps(screen(record, load_protocol()).as_dict()).decode()
    assert view.result_json == expected
    assert view.result == orjson.loads(expected)
    assert view.decision == name
    assert view.record == orjson.loads(view.record_json) == record.model_dump(mode="json")
    assert view.record_sha256 == hashlib.sha256(view.record_json.encode()).hexdigest()
    assert view.result_sha256 == hashlib.sha256(expected.encode()).hexdigest()
    assert view.protocol == load_protocol().stamp
    assert (view.version, view.latest_version, view.status, view.saved_by) == (
        1,
        1,
        "screening",
        "coordinator",
    )
    assert view.signatures == ()
    assert not view.latest_signed


def test_invalid_records_get_the_cli_messages(db: Database, coordinator: Actor) -> None:
    data = orjson.loads(example("eligible"))
    data["labs"][0]["unit"] = "furlongs"
    with pytest.raises(RecordError) as cli:
        parse_record(orjson.dumps(data))
    with pytest.raises(InvalidInputError) as caught:
        candidates.create_candidate(db, coordinator, data)
    assert caught.value.problems == cli.value.problems
    assert str(caught.value).startswith("labs[0].unit: 'furlongs'")
    with pytest.raises(InvalidInputError, match="fix the JSON syntax"):
        candidates.create_candidate(db, coordinator, b"{not json")
    assert candidates.list_candidates(db, coordinator) == []


def test_an_existing_candidate_id_is_a_conflict(db: Database, coordinator: Actor) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    with pytest.raises(ConflictError, match="'SCR-0001' already exists"):
        candidates.create_candidate(db, coordinator, example("eligible"))


def test_every_save_is_a_new_screened_version_and_old_ones_stay(db: Database, coordinator: Actor) -> None:
    first = candidates.create_candidate(db, coordinator, example("incomplete"))
    cid = first.candidate_id
    second = candidates.save_version(db, coordinator, cid, _with_note(example("incomplete"), "v2"), 1, "note")
    assert (second.version, second.latest_version, second.reason) == (2, 2, "note")
    old = candidates.get_version(db, coordinator, cid, 1)
    assert old.record_json == first.record_json
    assert (old.version, old.latest_version, old.is_latest) == (1, 2, False)
    assert candidates.get_version(db, coordinator, cid).version == 2
    listed = candidates.list_versions(db, coordinator, cid)
    assert [(v.version, v.reason, v.saved_by) for v in listed] == [
        (1, None, "coordinator"),
        (2, "note", "coordinator"),
    ]
    with pytest.raises(NotFoundError, match="has no version 3"):
        candidates.get_version(db, coordinator, cid, 3)
    with pytest.raises(NotFoundError, match="no candidate 'SCR-9999'"):
        candidates.get_version(db, coordinator, "SCR-9999")


def test_a_change_that_settles_missing_data_changes_the_decision(db: Database, coordinator: Actor) -> None:
    """The incomplete example completed with the eligible example's data is screened again."""
    candidates.create_candidate(db, coordinator, example("incomplete"))
    completed = orjson.loads(example("eligible"))
    completed["candidate_id"] = "SCR-0003"
    view = candidates.save_version(db, coordinator, "SCR-0003", completed, 1, "missing data received")
    assert (view.decision, view.result["decision"]) == ("eligible", "eligible")
    assert candidates.get_version(db, coordinator, "SCR-0003", 1).decision == "incomplete"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_change_after_version_one_requires_a_reason(
    db: Database, coordinator: Actor, reason: str | None
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    with pytest.raises(InvalidInputError, match="reason: required"):
        candidates.save_version(db, coordinator, "SCR-0001", _with_note(example("eligible"), "x"), 1, reason)
    assert candidates.get_version(db, coordinator, "SCR-0001").version == 1


def test_a_stale_base_version_is_a_conflict_and_writes_nothing(db: Database, coordinator: Actor) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    candidates.save_version(db, coordinator, "SCR-0001", _with_note(example("eligible"), "first"), 1, "a")
    entries = len(audit.audit_trail(db, OPERATOR))
    with pytest.raises(ConflictError, match=r"base_version: 1 is not the latest version \(2\)"):
        candidates.save_version(
            db, coordinator, "SCR-0001", _with_note(example("eligible"), "second"), 1, "b"
        )
    with pytest.raises(ConflictError, match="base_version: 3"):
        candidates.save_version(
            db, coordinator, "SCR-0001", _with_note(example("eligible"), "second"), 3, "b"
        )
    latest = candidates.get_version(db, coordinator, "SCR-0001")
    assert (latest.version, latest.record["investigator"]["notes"]) == (2, "first")
    assert len(audit.audit_trail(db, OPERATOR)) == entries


def test_the_candidate_id_cannot_change_and_identical_saves_are_refused(
    db: Database, coordinator: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    moved = _with_note(example("eligible"), "x")
    moved["candidate_id"] = "SCR-0042"
    with pytest.raises(InvalidInputError, match="candidate_id: 'SCR-0042' differs"):
        candidates.save_version(db, coordinator, "SCR-0001", moved, 1, "rename")
    with pytest.raises(InvalidInputError, match="record: identical to version 1"):
        candidates.save_version(db, coordinator, "SCR-0001", example("eligible"), 1, "same")


def test_roles_reading_and_editing_candidates(
    db: Database, coordinator: Actor, investigator: Actor, monitor: Actor, admin: Actor
) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    for reader in (coordinator, investigator, monitor):
        assert candidates.get_version(db, reader, "SCR-0001").version == 1
        assert len(candidates.list_candidates(db, reader)) == 1
    for outsider in (monitor, admin):
        with pytest.raises(ForbiddenError):
            candidates.create_candidate(db, outsider, example("ineligible"))
        with pytest.raises(ForbiddenError):
            candidates.save_version(db, outsider, "SCR-0001", _with_note(example("eligible"), "x"), 1, "r")
    for action in (
        lambda: candidates.get_version(db, admin, "SCR-0001"),
        lambda: candidates.list_candidates(db, admin),
        lambda: candidates.list_versions(db, admin, "SCR-0001"),
        lambda: candidates.diff_versions(db, admin, "SCR-0001", 1, 1),
        lambda: candidates.candidate_audit(db, admin, "SCR-0001"),
    ):
        with pytest.raises(ForbiddenError, match="role admin may not read candidates"):
            action()


def test_diff_between_any_two_versions(db: Database, coordinator: Actor) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    data = orjson.loads(example("eligible"))
    data["labs"][0]["value"] = data["labs"][0]["value"] + 0.25
    data["labs"].append({"date": "2026-03-01", "test": "hbsag", "result": "negative"})
    candidates.save_version(db, coordinator, "SCR-0001", data, 1, "lab added")
    changes = candidates.diff_versions(db, coordinator, "SCR-0001", 1, 2)
    added = len(data["labs"]) - 1
    assert [(c.path, c.kind) for c in changes] == [("/labs/0/value", "changed"), (f"/labs/{added}", "added")]
    assert changes[1].new == {**data["labs"][-1], "value": None, "unit": None, "upper_limit": None}
    backwards = candidates.diff_versions(db, coordinator, "SCR-0001", 2, 1)
    assert [(c.path, c.kind) for c in backwards] == [
        ("/labs/0/value", "changed"),
        (f"/labs/{added}", "removed"),
    ]
    assert candidates.diff_versions(db, coordinator, "SCR-0001", 2, 2) == []


def test_every_save_writes_audit_entries_with_field_changes(db: Database, coordinator: Actor) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    candidates.save_version(db, coordinator, "SCR-0001", _with_note(example("eligible"), "new"), 1, "why")
    rows = candidates.candidate_audit(db, coordinator, "SCR-0001")
    assert [(r.entity, r.action, r.reason) for r in rows] == [
        ("candidate", "create", None),
        ("status", "set_status", "candidate created"),
        ("candidate", "update", "why"),
    ]
    update = {c["field"]: (c["old"], c["new"]) for c in rows[2].changes}
    assert update["/investigator/notes"][1] == "new"
    assert update["version"] == (1, 2)
    assert rows[0].actor == "coordinator"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _resolve(document: Any, pointer: str) -> Any:
    if pointer == "":
        return document
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        document = document[int(key)] if isinstance(document, list) else document[key]
    return document


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_json_diff_is_empty_exactly_for_equal_documents_and_its_paths_resolve(old: Any, new: Any) -> None:
    changes = json_diff(old, new)
    same = orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(new, option=orjson.OPT_SORT_KEYS)
    assert (changes == []) == same
    for change in changes:
        assert isinstance(change, FieldChange)
        if change.kind != "added":
            assert orjson.dumps(_resolve(old, change.path)) == orjson.dumps(change.old)
        if change.kind != "removed":
            assert orjson.dumps(_resolve(new, change.path)) == orjson.dumps(change.new)


def test_json_diff_tells_false_from_zero_and_escapes_pointers() -> None:
    assert json_diff({"a/b": 0}, {"a/b": False}) == [FieldChange("/a~1b", "changed", 0, False)]
    assert json_diff({"m~n": [1]}, {"m~n": [1, 2]}) == [FieldChange("/m~0n/1", "added", None, 2)]


def _version_rows(db: Database) -> list[int]:
    with db.read() as session:
        return list(session.scalars(select(CandidateVersion.version).order_by(CandidateVersion.version)))


def test_two_threads_editing_the_same_base_one_wins_one_conflicts(db: Database, coordinator: Actor) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(note: str) -> None:
        barrier.wait()
        try:
            candidates.save_version(
                db, coordinator, "SCR-0001", _with_note(example("eligible"), note), 1, note
            )
            outcomes.append("ok:" + note)
        except ConflictError:
            outcomes.append("conflict:" + note)

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "ok"]
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("ok"))
    assert candidates.get_version(db, coordinator, "SCR-0001").record["investigator"]["notes"] == winner
    assert _version_rows(db) == [1, 2]
    assert audit.verify_chain(db.engine).ok


def test_processes_racing_on_one_base_version_never_overwrite(db: Database, db_url: str) -> None:
    coordinator = make_user(db, "coordinator")
    candidates.create_candidate(db, coordinator, example("eligible"))
    context = multiprocessing.get_context("spawn")
    racers = 3
    barrier = context.Barrier(racers)
    results = context.Queue()
    record = orjson.loads(example("eligible"))
    processes = [
        context.Process(
            target=save_on_base, args=(db_url, coordinator.user_id, record, f"n{i}", barrier, results)
        )
        for i in range(racers)
    ]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(o[0] for o in outcomes) == ["conflict"] * (racers - 1) + ["ok"]
    winner = next(o for o in outcomes if o[0] == "ok")
    latest = candidates.get_version(db, coordinator, "SCR-0001")
    assert (latest.version, latest.record["investigator"]["notes"]) == (2, winner[1])
    assert _version_rows(db) == [1, 2]
    assert audit.verify_chain(db.engine).ok


def test_the_unique_version_constraint_backs_up_the_check(db: Database, coordinator: Actor) -> None:
    """Even a writer that skipped the base-version check cannot insert a second version 1."""
    candidates.create_candidate(db, coordinator, example("eligible"))
    with db.engine.connect() as connection:
        columns = "candidate_pk, version, record_json, record_sha256, result_json, result_sha256, decision, "
        columns += (
            "screening_date, protocol_id, protocol_version, protocol_parameters_sha256, saved_at, saved_by"
        )
        with pytest.raises(IntegrityError, match=r"(?i)unique"):
            connection.execute(
                text(f"INSERT INTO candidate_version ({columns}) SELECT {columns} FROM candidate_version")
            )
        connection.rollback()
    with db.read() as session:
        assert session.scalar(select(func.count(CandidateVersion.id))) == 1
