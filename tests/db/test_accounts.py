"""Accounts: creation rules, argon2id, lockout, sessions, API tokens, role checks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from nmocart.db import accounts, audit
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from nmocart.db.models import ApiToken, BrowserSession, User
from nmocart.db.roles import POLICY, ROLE_PERMISSIONS, Permission, Role, allowed
from tests.db.conftest import OPERATOR, PASSWORDS, Clock, make_user


def test_new_accounts_store_only_an_argon2id_hash(db: Database) -> None:
    info = accounts.add_user(db, OPERATOR, "jdoe", "monitor", "  Dr Jane Doe ", "a long enough secret")
    assert (info.username, info.role, info.full_name, info.active) == (
        "jdoe",
        Role.monitor,
        "Dr Jane Doe",
        True,
    )
    with db.read() as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$")
    assert "a long enough secret" not in stored


def test_there_are_no_default_accounts(db: Database) -> None:
    assert accounts.list_users(db, OPERATOR) == []
    for role, password in PASSWORDS.items():
        with pytest.raises(AuthenticationError):
            accounts.authenticate(db, role, password)


@pytest.mark.parametrize(
    ("username", "role", "full_name", "password", "message"),
    [
        ("J", "monitor", "Jane", "a long enough secret", "username: 'J' is not allowed"),
        ("jane doe", "monitor", "Jane", "a long enough secret", "username: 'jane doe' is not allowed"),
        ("jane", "boss", "Jane", "a long enough secret", "role: 'boss' is not a role"),
        ("jane", "monitor", "   ", "a long enough secret", "full name: empty"),
        ("jane", "monitor", "Jane", "x" * (POLICY.min_password_length - 1), "password: shorter than"),
        ("jane", "monitor", "Jane", " a long enough secret", "password: starts or ends with white space"),
    ],
)
def test_add_user_rejects_bad_input_naming_the_field(
    db: Database, username: str, role: str, full_name: str, password: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        accounts.add_user(db, OPERATOR, username, role, full_name, password)
    assert accounts.list_users(db, OPERATOR) == []


def test_password_of_exactly_the_minimum_length_is_accepted(db: Database) -> None:
    accounts.add_user(db, OPERATOR, "jane", "monitor", "Jane", "x" * POLICY.min_password_length)
    assert accounts.authenticate(db, "jane", "x" * POLICY.min_password_length).username == "jane"


def test_duplicate_username_is_a_conflict(db: Database, monitor: Actor) -> None:
    with pytest.raises(ConflictError, match="'monitor' already exists"):
        accounts.add_user(db, OPERATOR, "monitor", "admin", "Other", "another long secret")


def test_only_admins_manage_accounts(db: Database, admin: Actor, investigator: Actor) -> None:
    accounts.add_user(db, admin, "newbie", "coordinator", "New Bie", "a long enough secret")
    assert accounts.set_role(db, admin, "newbie", "monitor", "moved to monitoring").role == Role.monitor
    for actor in (investigator,):
        with pytest.raises(ForbiddenError, match="may not manage accounts"):
            accounts.add_user(db, actor, "other", "admin", "Other", "a long enough secret")
        with pytest.raises(ForbiddenError):
            accounts.list_users(db, actor)
        with pytest.raises(ForbiddenError):
            accounts.disable_user(db, actor, "newbie", "no")


def test_role_permissions_follow_the_issue() -> None:
    coordinator = ROLE_PERMISSIONS[Role.coordinator]
    investigator = ROLE_PERMISSIONS[Role.investigator]
    assert coordinator < investigator
    assert investigator - coordinator == {Permission.sign, Permission.change_status}
    monitor = ROLE_PERMISSIONS[Role.monitor]
    assert Permission.read_audit in monitor
    assert not monitor & {
        Permission.edit_candidates,
        Permission.sign,
        Permission.change_status,
        Permission.upload_data,
        Permission.manage_accounts,
    }
    assert ROLE_PERMISSIONS[Role.admin] == {Permission.manage_accounts, Permission.read_screening_log}
    assert not allowed("nobody", Permission.read_candidates)


def test_authenticate_checks_the_password_and_records_the_login(db: Database, clock: Clock) -> None:
    make_user(db, "coordinator")
    actor = accounts.authenticate(db, "coordinator", PASSWORDS["coordinator"])
    assert (actor.username, actor.role) == ("coordinator", Role.coordinator)
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        accounts.authenticate(db, "coordinator", PASSWORDS["coordinator"] + "x")
    with pytest.raises(AuthenticationError, match="wrong user name or password"):
        accounts.authenticate(db, "nobody", PASSWORDS["coordinator"])
    assert accounts.list_users(db, OPERATOR)[0].last_login_at == clock.now


def _failed_logins(db: Database, username: str) -> int:
    with db.read() as session:
        return session.scalars(select(User.failed_logins).where(User.username == username)).one()


def test_lockout_after_the_configured_number_of_failures(db: Database, clock: Clock) -> None:
    make_user(db, "coordinator")
    good = PASSWORDS["coordinator"]
    for attempt in range(1, POLICY.max_failed_logins):
        with pytest.raises(AuthenticationError) as caught:
            accounts.authenticate(db, "coordinator", "wrong password!")
        assert not isinstance(caught.value, AccountLockedError)
        assert _failed_logins(db, "coordinator") == attempt
    with pytest.raises(AccountLockedError, match="account locked after"):
        accounts.authenticate(db, "coordinator", "wrong password!")
    # locked: even the right password is refused until the lockout ends
    clock.advance(minutes=POLICY.lockout_minutes, seconds=-1)
    with pytest.raises(AccountLockedError):
        accounts.authenticate(db, "coordinator", good)
    clock.advance(seconds=1)
    assert accounts.authenticate(db, "coordinator", good).username == "coordinator"
    actions = [r.action for r in audit.audit_trail(db, OPERATOR)]
    assert actions.count("login_failed") == POLICY.max_failed_logins - 1
    assert actions.count("locked") == 1


def test_a_successful_login_resets_the_failure_count(db: Database) -> None:
    make_user(db, "coordinator")
    for _ in range(POLICY.max_failed_logins - 1):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(db, "coordinator", "wrong password!")
    accounts.authenticate(db, "coordinator", PASSWORDS["coordinator"])
    assert _failed_logins(db, "coordinator") == 0
    with pytest.raises(AuthenticationError) as caught:
        accounts.authenticate(db, "coordinator", "wrong password!")
    assert not isinstance(caught.value, AccountLockedError)


def test_disabled_accounts_cannot_log_in_or_act(db: Database, coordinator: Actor) -> None:
    grant = accounts.create_session(db, coordinator)
    token = accounts.issue_token(db, "coordinator", PASSWORDS["coordinator"])
    accounts.disable_user(db, OPERATOR, "coordinator", "left the study")
    entry = audit.audit_trail(db, OPERATOR)[-1]
    assert (entry.action, entry.reason) == ("disable", "left the study")
    assert {c["field"]: c["new"] for c in entry.changes} == {
        "active": False,
        "sessions_ended": 1,
        "tokens_revoked": 1,
    }
    with pytest.raises(AuthenticationError, match="disabled"):
        accounts.authenticate(db, "coordinator", PASSWORDS["coordinator"])
    assert accounts.lookup_session(db, grant.token) is None
    assert accounts.lookup_token(db, token.token) is None
    with pytest.raises(ConflictError, match="already disabled"):
        accounts.disable_user(db, OPERATOR, "coordinator", "again")
    with pytest.raises(InvalidInputError, match="reason: required"):
        accounts.disable_user(db, OPERATOR, "coordinator", " ")
    with pytest.raises(NotFoundError, match="no account 'ghost'"):
        accounts.set_role(db, OPERATOR, "ghost", "admin", "x")


def test_role_changes_take_effect_on_the_next_action(db: Database, admin: Actor) -> None:
    """A stale actor object does not keep its old powers: the stored role is checked."""
    accounts.set_role(db, OPERATOR, "admin", "monitor", "no longer administers")
    with pytest.raises(ForbiddenError, match="role monitor may not manage accounts"):
        accounts.list_users(db, admin)
    with pytest.raises(ConflictError, match="already has role monitor"):
        accounts.set_role(db, OPERATOR, "admin", "monitor", "again")


def test_sessions_end_after_the_idle_timeout(db: Database, clock: Clock, coordinator: Actor) -> None:
    grant = accounts.create_session(db, coordinator)
    info = accounts.lookup_session(db, grant.token)
    assert info is not None
    assert (info.actor, info.csrf_token) == (coordinator, grant.csrf_token)
    clock.advance(minutes=POLICY.session_idle_minutes - 1)
    assert accounts.lookup_session(db, grant.token) is not None  # refreshes the idle timer
    clock.advance(minutes=POLICY.session_idle_minutes - 1)
    assert accounts.lookup_session(db, grant.token) is not None
    clock.advance(minutes=POLICY.session_idle_minutes, seconds=1)
    assert accounts.lookup_session(db, grant.token) is None
    assert accounts.lookup_session(db, "not-a-token") is None


def test_sessions_end_at_the_absolute_limit_and_at_logout(
    db: Database, clock: Clock, coordinator: Actor
) -> None:
    grant = accounts.create_session(db, coordinator)
    step = dt.timedelta(minutes=POLICY.session_idle_minutes - 1)
    while clock.now + step < dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC) + dt.timedelta(
        hours=POLICY.session_absolute_hours
    ):
        clock.now += step
        assert accounts.lookup_session(db, grant.token) is not None
    clock.now += step
    assert accounts.lookup_session(db, grant.token) is None
    other = accounts.create_session(db, coordinator)
    accounts.end_session(db, other.token)
    accounts.end_session(db, other.token)
    assert accounts.lookup_session(db, other.token) is None
    assert [r.action for r in audit.audit_trail(db, OPERATOR)].count("logout") == 1


def test_api_tokens_expire_and_are_stored_hashed(db: Database, clock: Clock, monitor: Actor) -> None:
    grant = accounts.issue_token(db, "monitor", PASSWORDS["monitor"])
    assert grant.expires_at == clock.now + dt.timedelta(days=POLICY.api_token_days)
    assert accounts.lookup_token(db, grant.token) == monitor
    with db.read() as session:
        stored = session.scalars(select(ApiToken.token_sha256)).one()
        sessions = session.scalars(select(BrowserSession)).all()
    assert grant.token not in stored
    assert len(stored) == 64
    assert sessions == []
    clock.advance(days=POLICY.api_token_days, seconds=-1)
    assert accounts.lookup_token(db, grant.token) == monitor
    clock.advance(seconds=1)
    assert accounts.lookup_token(db, grant.token) is None
    with pytest.raises(AuthenticationError):
        accounts.issue_token(db, "monitor", "wrong password!")


def test_revoked_tokens_stop_working(db: Database, monitor: Actor, coordinator: Actor) -> None:
    grant = accounts.issue_token(db, "monitor", PASSWORDS["monitor"])
    with pytest.raises(NotFoundError):
        accounts.revoke_token(db, coordinator, grant.token)
    accounts.revoke_token(db, monitor, grant.token)
    assert accounts.lookup_token(db, grant.token) is None


def test_production_hasher_uses_the_policy() -> None:
    digest = accounts.password_hasher(POLICY).hash("x" * 12)
    p = POLICY
    expected = f"$argon2id$v=19$m={p.argon2_memory_kib},t={p.argon2_time_cost},p={p.argon2_parallelism}$"
    assert digest.startswith(expected)
    assert (POLICY.argon2_memory_kib, POLICY.argon2_time_cost) >= (65536, 3)


def test_a_login_rehashes_a_password_stored_with_other_parameters(db: Database) -> None:
    make_user(db, "monitor")
    from argon2 import PasswordHasher, Type

    with db.write() as session:
        user = session.scalars(select(User)).one()
        user.password_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1, type=Type.ID).hash(
            PASSWORDS["monitor"]
        )
    accounts.authenticate(db, "monitor", PASSWORDS["monitor"])
    with db.read() as session:
        assert session.scalars(select(User.password_hash)).one().startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_a_password_changed_between_check_and_record_is_checked_again(db: Database) -> None:
    """argon2id runs before the write lock; a hash replaced meanwhile is not trusted blindly."""
    make_user(db, "monitor")
    attempt = accounts.try_password(db, PASSWORDS["monitor"], username="monitor")
    assert attempt.matched
    with db.write() as session:
        user = session.scalars(select(User)).one()
        user.password_hash = accounts._hasher().hash("a brand new password")
    with db.write() as session:
        user_row, failure = accounts.record_attempt(session, db, attempt, PASSWORDS["monitor"], "login")
    assert user_row is not None
    assert isinstance(failure, AuthenticationError)
    assert _failed_logins(db, "monitor") == 1
    assert not accounts.try_password(db, "whatever it is", username="nobody").matched


def test_the_reset_of_the_failure_count_and_lock_is_audited(db: Database, clock: Clock) -> None:
    """Every change of an account's lockout state leaves an entry: each entry's old value is the
    value the entry before left (no unexplained jumps in the trail)."""
    make_user(db, "coordinator")
    good = PASSWORDS["coordinator"]
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(db, "coordinator", "wrong password!")
    accounts.authenticate(db, "coordinator", good)
    for _ in range(POLICY.max_failed_logins):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(db, "coordinator", "wrong password!")
    clock.advance(minutes=POLICY.lockout_minutes)
    accounts.authenticate(db, "coordinator", good)
    accounts.authenticate(db, "coordinator", good)  # nothing to reset: no entry
    state: dict[str, object] = {"failed_logins": 0, "locked_until": None}
    entries = [r for r in audit.audit_trail(db, OPERATOR) if r.entity_id == "coordinator"]
    for entry in entries[1:]:  # the first creates the account
        for change in entry.changes:
            if change["field"] in state:
                assert change["old"] == state[change["field"]], (entry.sequence, change)
                state[change["field"]] = change["new"]
    assert state == {"failed_logins": 0, "locked_until": None}
    assert _failed_logins(db, "coordinator") == 0
    assert [r.action for r in entries].count("lockout_reset") == 2
