"""Investigator e-signatures: who may sign, the password check, binding, invalidation by edits."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from nmocart.db import accounts, candidates, signatures
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
)
from nmocart.db.models import User
from nmocart.db.roles import POLICY
from tests.db.conftest import PASSWORDS, Clock, example

ELIGIBLE = signatures.standard_meaning("eligible")


def _edit(db: Database, actor: Actor, note: str, base: int) -> None:
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = note
    candidates.save_version(db, actor, "SCR-0001", data, base, f"note {note}")


def test_a_signature_binds_printed_name_time_meaning_and_the_exact_hashes(
    db: Database, clock: Clock, investigator: Actor
) -> None:
    view = candidates.create_candidate(db, investigator, example("eligible"))
    signed = signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE)
    assert signed.printed_name == "Dr Investigator"
    assert signed.signed_at == clock.now
    assert signed.meaning == "I confirm the eligibility decision: eligible"
    assert signed.record_sha256 == hashlib.sha256(view.record_json.encode()).hexdigest()
    assert signed.result_sha256 == hashlib.sha256(view.result_json.encode()).hexdigest()
    assert (signed.version, signed.decision) == (1, "eligible")
    current = candidates.get_version(db, investigator, "SCR-0001")
    assert current.signatures == (signed,)
    assert current.latest_signed


def test_a_later_edit_leaves_the_signature_on_its_version_and_the_current_one_unsigned(
    db: Database, investigator: Actor, coordinator: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    first = signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE)
    _edit(db, coordinator, "after signing", 1)
    state = signatures.signature_state(db, coordinator, "SCR-0001")
    assert (state.latest_version, state.latest_signed) == (2, False)
    assert state.signatures == (first,)
    assert state.stale == (first,)
    assert candidates.get_version(db, coordinator, "SCR-0001", 1).signatures == (first,)
    assert not candidates.get_version(db, coordinator, "SCR-0001").latest_signed
    assert [v.signed for v in candidates.list_versions(db, coordinator, "SCR-0001")] == [True, False]
    second = signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE, version=2)
    state = signatures.signature_state(db, coordinator, "SCR-0001")
    assert state.latest_signed
    assert state.signatures == (first, second)


def test_only_investigators_sign(
    db: Database, coordinator: Actor, monitor: Actor, admin: Actor, investigator: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    for actor, role in ((coordinator, "coordinator"), (monitor, "monitor"), (admin, "admin")):
        with pytest.raises(ForbiddenError, match=f"role {role} may not sign"):
            signatures.sign(db, actor, "SCR-0001", PASSWORDS[role], ELIGIBLE)
    assert not signatures.signature_state(db, investigator, "SCR-0001").signatures


def test_a_wrong_password_refuses_and_counts_toward_lockout(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    for attempt in range(1, POLICY.max_failed_logins):
        with pytest.raises(AuthenticationError) as caught:
            signatures.sign(db, investigator, "SCR-0001", "not my password", ELIGIBLE)
        assert not isinstance(caught.value, AccountLockedError)
        with db.read() as session:
            assert session.scalars(select(User.failed_logins)).one() == attempt
    with pytest.raises(AccountLockedError):
        signatures.sign(db, investigator, "SCR-0001", "not my password", ELIGIBLE)
    with pytest.raises(AccountLockedError):
        signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE)
    with pytest.raises(AccountLockedError):
        accounts.authenticate(db, "investigator", PASSWORDS["investigator"])
    assert not signatures.signature_state(db, investigator, "SCR-0001").signatures


def test_the_meaning_must_match_the_decision_and_not_be_empty(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("incomplete"))
    with pytest.raises(InvalidInputError, match=r"does not match the decision of version 1 \(incomplete\)"):
        signatures.sign(db, investigator, "SCR-0003", PASSWORDS["investigator"], ELIGIBLE)
    with pytest.raises(InvalidInputError, match="meaning: empty"):
        signatures.sign(db, investigator, "SCR-0003", PASSWORDS["investigator"], "   ")
    with pytest.raises(InvalidInputError, match="meaning: longer than"):
        signatures.sign(db, investigator, "SCR-0003", PASSWORDS["investigator"], "x" * 501)
    signed = signatures.sign(
        db, investigator, "SCR-0003", PASSWORDS["investigator"], "I have reviewed  the data collected so far"
    )
    assert signed.meaning == "I have reviewed the data collected so far"


def test_signing_a_version_that_is_no_longer_the_latest_is_refused(
    db: Database, investigator: Actor, coordinator: Actor
) -> None:
    candidates.create_candidate(db, coordinator, example("eligible"))
    _edit(db, coordinator, "changed meanwhile", 1)
    with pytest.raises(ConflictError, match=r"version 1 is not the latest \(2\)"):
        signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE, version=1)


def test_signatures_cannot_be_edited_or_removed_in_the_database(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], ELIGIBLE)
    for statement in ("UPDATE signature SET meaning = 'forged'", "DELETE FROM signature"):
        with db.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    assert signatures.signature_state(db, investigator, "SCR-0001").signatures[0].meaning == ELIGIBLE
