"""Accounts: argon2id passwords, roles, lockout, browser sessions and API tokens.

No account exists until someone with access to the database creates one (``nmocart user add``);
there are no default accounts or passwords. Passwords are only ever kept as argon2id hashes;
session and API tokens are random (256 bits) and only their SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nmocart.db import audit
from nmocart.db.database import Database
from nmocart.db.errors import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    is_storable,
    storable_text,
)
from nmocart.db.models import ApiToken, BrowserSession, User
from nmocart.db.roles import POLICY, AccountPolicy, Permission, Role, allowed

__all__ = [
    "Actor",
    "ApiTokenGrant",
    "PasswordAttempt",
    "SessionGrant",
    "SystemOperator",
    "UserInfo",
    "acting_user",
    "add_user",
    "authenticate",
    "create_session",
    "disable_user",
    "end_session",
    "issue_token",
    "list_users",
    "lookup_session",
    "lookup_token",
    "record_attempt",
    "require",
    "require_user",
    "revoke_token",
    "set_role",
    "try_password",
]

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
"""User names: 2-64 of lower-case letters, digits, ``.``, ``_``, ``-``, starting with a letter."""


@dataclass(frozen=True)
class Actor:
    """A logged-in person acting through the web or the API."""

    user_id: int
    username: str
    full_name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        """Whether this actor's role allows ``permission``."""
        return allowed(self.role, permission)


@dataclass(frozen=True)
class SystemOperator:
    """Someone at the server's command line (``nmocart user ...``), who holds the database itself."""

    name: str

    @classmethod
    def from_os(cls) -> SystemOperator:
        """The operator named after the operating-system login (``cli:alice``)."""
        try:
            login = getpass.getuser()
        except (KeyError, OSError):
            login = "unknown"
        return cls(f"cli:{login}")


Operator = Actor | SystemOperator


def operator_name(operator: Operator) -> str:
    """How the audit trail names who acted."""
    return operator.username if isinstance(operator, Actor) else operator.name


@dataclass(frozen=True)
class UserInfo:
    """An account as listed (never the password hash)."""

    user_id: int
    username: str
    full_name: str
    role: Role
    active: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None


def password_hasher(policy: AccountPolicy) -> PasswordHasher:
    """The argon2id hasher with the policy's cost parameters."""
    return PasswordHasher(
        time_cost=policy.argon2_time_cost,
        memory_cost=policy.argon2_memory_kib,
        parallelism=policy.argon2_parallelism,
        type=Type.ID,
    )


@cache
def _hasher() -> PasswordHasher:
    return password_hasher(POLICY)


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def acting_user(session: Session, actor: Actor) -> User:
    """The actor's account as stored now: refuses disabled accounts (the role is re-read too)."""
    user = session.get(User, actor.user_id)
    if user is None or not user.active:
        raise ForbiddenError(f"account {actor.username!r} is disabled; ask an administrator")
    return user


def require(session: Session, operator: Operator, permission: Permission) -> str:
    """Check ``permission`` against the operator's current stored role; return the audit name."""
    if isinstance(operator, SystemOperator):
        return operator.name
    return require_user(session, operator, permission).username


def require_user(session: Session, actor: Actor, permission: Permission) -> User:
    """Check ``permission`` against the actor's current stored role; return the stored account.

    Holding on to the returned object keeps it in the session's (weak) identity map, so a later
    ``session.get(User, actor.user_id)`` in the same session costs no second query.
    """
    user = acting_user(session, actor)
    if not allowed(user.role, permission):
        raise ForbiddenError(f"role {user.role} may not {permission.value.replace('_', ' ')}")
    return user


def _actor(user: User) -> Actor:
    return Actor(user.id, user.username, user.full_name, Role(user.role))


_ACTOR_COLUMNS = (User.id, User.username, User.full_name, User.role, User.active)
"""What every authenticated request reads about its user: plain columns (no ORM object to build)."""


def _check_password_rules(password: str) -> None:
    if len(password) < POLICY.min_password_length:
        raise InvalidInputError(
            f"password: shorter than {POLICY.min_password_length} characters; choose a longer one"
        )
    if password != password.strip():
        raise InvalidInputError("password: starts or ends with white space; remove it")
    if not is_storable(password):
        raise InvalidInputError("password: contains a NUL character or a lone UTF-16 surrogate; remove it")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        words = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"role: {role!r} is not a role; use one of {words}") from None


def _info(user: User) -> UserInfo:
    return UserInfo(
        user.id,
        user.username,
        user.full_name,
        Role(user.role),
        user.active,
        user.locked_until,
        user.created_at,
        user.last_login_at,
    )


def add_user(
    db: Database, operator: Operator, username: str, role: str, full_name: str, password: str
) -> UserInfo:
    """Create an account; ``full_name`` is the printed name shown with the user's signatures."""
    if not USERNAME.match(username):
        raise InvalidInputError(
            f"username: {username!r} is not allowed; use 2-64 lower-case letters, digits, . _ - "
            "starting with a letter"
        )
    chosen = _role(role)
    full_name = storable_text("full name", full_name.strip())
    if not full_name:
        raise InvalidInputError("full name: empty; give the person's printed name (used in signatures)")
    _check_password_rules(password)
    digest = _hasher().hash(password)
    with db.write() as session:
        name = require(session, operator, Permission.manage_accounts)
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ConflictError(f"username: {username!r} already exists; choose another")
        now = db.now()
        user = User(
            username=username,
            full_name=full_name,
            role=chosen.value,
            password_hash=digest,
            active=True,
            failed_logins=0,
            locked_until=None,
            created_at=now,
            last_login_at=None,
        )
        session.add(user)
        session.flush()
        audit.append(
            session,
            db,
            actor=name,
            entity="user",
            entity_id=username,
            action="create",
            changes=[
                {"field": "full_name", "old": None, "new": full_name},
                {"field": "role", "old": None, "new": chosen.value},
                {"field": "active", "old": None, "new": True},
            ],
            at=now,
        )
        return _info(user)


def list_users(db: Database, operator: Operator) -> list[UserInfo]:
    """Every account, by user name."""
    with db.read() as session:
        require(session, operator, Permission.manage_accounts)
        return [_info(u) for u in session.scalars(select(User).order_by(User.username))]


def _stored_user(session: Session, username: str) -> User:
    found = select(User).where(User.username == username)
    user = session.scalar(found) if is_storable(username) else None
    if user is None:
        raise NotFoundError(f"username: no account {username!r}; see nmocart user list")
    return user


def _need_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise InvalidInputError("reason: required; say why")
    return storable_text("reason", reason.strip())


def disable_user(db: Database, operator: Operator, username: str, reason: str) -> UserInfo:
    """Disable an account (kept forever for attribution); ends its sessions and tokens."""
    why = _need_reason(reason)
    with db.write() as session:
        name = require(session, operator, Permission.manage_accounts)
        user = _stored_user(session, username)
        if not user.active:
            raise ConflictError(f"username: {username!r} is already disabled")
        now = db.now()
        user.active = False
        ended = session.execute(
            update(BrowserSession)
            .where(BrowserSession.user_id == user.id, BrowserSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        revoked = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        audit.append(
            session,
            db,
            actor=name,
            entity="user",
            entity_id=username,
            action="disable",
            changes=[
                {"field": "active", "old": True, "new": False},
                {"field": "sessions_ended", "old": None, "new": _rowcount(ended)},
                {"field": "tokens_revoked", "old": None, "new": _rowcount(revoked)},
            ],
            reason=why,
            at=now,
        )
        return _info(user)


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) else 0


def set_role(db: Database, operator: Operator, username: str, role: str, reason: str) -> UserInfo:
    """Change an account's role (takes effect on its next action)."""
    chosen = _role(role)
    why = _need_reason(reason)
    with db.write() as session:
        name = require(session, operator, Permission.manage_accounts)
        user = _stored_user(session, username)
        if user.role == chosen.value:
            raise ConflictError(f"role: {username!r} already has role {chosen.value}")
        old = user.role
        user.role = chosen.value
        audit.append(
            session,
            db,
            actor=name,
            entity="user",
            entity_id=username,
            action="set_role",
            changes=[{"field": "role", "old": old, "new": chosen.value}],
            reason=why,
        )
        return _info(user)


@dataclass(frozen=True)
class PasswordAttempt:
    """The outcome of the (slow) argon2id check, made before any lock is taken."""

    user_id: int | None
    password_hash: str | None
    matched: bool


def try_password(
    db: Database, password: str, *, username: str | None = None, user_id: int | None = None
) -> PasswordAttempt:
    """Check a password against the stored hash outside the write lock (argon2id is slow).

    An unknown user costs the same hash work as a known one: no user-name oracle. The result
    is recorded by :func:`record_attempt` inside the write transaction.
    """
    with db.read() as session:
        statement = select(User.id, User.password_hash)
        if user_id is not None:
            statement = statement.where(User.id == user_id)
        elif username is not None and is_storable(username):
            statement = statement.where(User.username == username)
        else:
            statement = statement.where(User.id.is_(None))
        row = session.execute(statement).first()
    if row is None:
        _verify_hash(_dummy_hash(), password)
        return PasswordAttempt(None, None, False)
    found_id, digest = row
    return PasswordAttempt(found_id, digest, _verify_hash(digest, password))


def record_attempt(
    session: Session, db: Database, attempt: PasswordAttempt, password: str, purpose: str
) -> tuple[User | None, AuthenticationError | None]:
    """Apply lockout bookkeeping for a checked password inside a write transaction.

    Returns the user and the error to raise (None when the password was right). The
    bookkeeping (failed-login counter, lock, audit entry) is written in ``session``: the caller
    must let its transaction commit and raise the error afterwards.
    """
    now = db.now()
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if user is None:
        return None, AuthenticationError("wrong user name or password")
    if user.locked_until is not None and user.locked_until > now:
        return user, _locked(user.locked_until)
    if attempt.matched and user.password_hash != attempt.password_hash:
        # the password changed between the check and now: check again against the new hash
        attempt = PasswordAttempt(user.id, user.password_hash, _verify_hash(user.password_hash, password))
    if attempt.matched:
        if not user.active:
            return user, AuthenticationError(f"account {user.username!r} is disabled; ask an administrator")
        if user.failed_logins or user.locked_until is not None:
            reset: list[dict[str, object]] = []
            if user.failed_logins:
                reset.append({"field": "failed_logins", "old": user.failed_logins, "new": 0})
            if user.locked_until is not None:
                reset.append(
                    {"field": "locked_until", "old": audit.timestamp_text(user.locked_until), "new": None}
                )
            user.failed_logins = 0
            user.locked_until = None
            audit.append(
                session,
                db,
                actor=user.username,
                entity="user",
                entity_id=user.username,
                action="lockout_reset",
                changes=reset,
                reason=f"correct password ({purpose})",
            )
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hasher().hash(password)  # the policy's parameters changed (rare)
        return user, None
    user.failed_logins += 1
    changes: list[dict[str, object]] = [
        {"field": "failed_logins", "old": user.failed_logins - 1, "new": user.failed_logins}
    ]
    action = f"{purpose}_failed"
    failure = AuthenticationError("wrong user name or password")
    if user.failed_logins >= POLICY.max_failed_logins:
        old_lock = user.locked_until
        user.locked_until = now + dt.timedelta(minutes=POLICY.lockout_minutes)
        user.failed_logins = 0
        changes = [
            {"field": "failed_logins", "old": POLICY.max_failed_logins - 1, "new": 0},
            {
                "field": "locked_until",
                "old": None if old_lock is None else audit.timestamp_text(old_lock),
                "new": audit.timestamp_text(user.locked_until),
            },
        ]
        action = "locked"
        failure = _locked(user.locked_until)
    audit.append(
        session,
        db,
        actor=user.username,
        entity="user",
        entity_id=user.username,
        action=action,
        changes=changes,
    )
    return user, failure


def _locked(until: dt.datetime) -> AccountLockedError:
    return AccountLockedError(
        f"account locked after {POLICY.max_failed_logins} failed logins until "
        f"{audit.timestamp_text(until)}; wait or ask an administrator"
    )


def _verify_hash(digest: str, password: str) -> bool:
    try:
        return _hasher().verify(digest, password)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):  # a lone surrogate: never right
        return False


def authenticate(db: Database, username: str, password: str) -> Actor:
    """Check a user name and password with lockout; the returned actor is who acts."""
    attempt = try_password(db, password, username=username)
    with db.write() as session:
        user, failure = record_attempt(session, db, attempt, password, "login")
        if failure is None:
            assert user is not None
            user.last_login_at = db.now()
            actor = _actor(user)
    if failure is not None:
        raise failure
    return actor


@dataclass(frozen=True)
class SessionGrant:
    """A new browser session: the cookie value (shown once), its CSRF token and the actor."""

    token: str
    csrf_token: str
    actor: Actor


def create_session(db: Database, actor: Actor) -> SessionGrant:
    """Start a browser session for an authenticated actor."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.write() as session:
        user = acting_user(session, actor)
        now = db.now()
        session.add(
            BrowserSession(
                token_sha256=_token_sha256(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                ended_at=None,
            )
        )
        audit.append(
            session,
            db,
            actor=user.username,
            entity="user",
            entity_id=user.username,
            action="login",
            changes=[],
        )
    return SessionGrant(token, csrf, actor)


@dataclass(frozen=True)
class SessionInfo:
    """A live browser session: who, and the CSRF token its forms must carry."""

    actor: Actor
    csrf_token: str


def lookup_session(db: Database, token: str) -> SessionInfo | None:
    """The live session for a cookie value, or None (unknown, ended, idle or too old).

    Refreshes the idle timer (written at most every ``session_touch_seconds``).
    """
    digest = _token_sha256(token)
    now = db.now()
    with db.read() as session:
        row = session.execute(
            select(
                BrowserSession.ended_at,
                BrowserSession.last_seen_at,
                BrowserSession.created_at,
                BrowserSession.csrf_token,
                *_ACTOR_COLUMNS,
            )
            .join(User, User.id == BrowserSession.user_id)
            .where(BrowserSession.token_sha256 == digest)
        ).first()
        if row is None:
            return None
        ended_at, last_seen_at, created_at, csrf_token, user_id, username, full_name, role, active = row
        if (
            ended_at is not None
            or not active
            or now - last_seen_at > dt.timedelta(minutes=POLICY.session_idle_minutes)
            or now - created_at > dt.timedelta(hours=POLICY.session_absolute_hours)
        ):
            return None
        info = SessionInfo(Actor(user_id, username, full_name, Role(role)), csrf_token)
        stale = now - last_seen_at > dt.timedelta(seconds=POLICY.session_touch_seconds)
    if stale:
        with db.write() as session:
            session.execute(
                update(BrowserSession)
                .where(BrowserSession.token_sha256 == digest, BrowserSession.last_seen_at < now)
                .values(last_seen_at=now)
            )
    return info


def end_session(db: Database, token: str) -> None:
    """Log out: end the session (idempotent; the first call is audited)."""
    with db.write() as session:
        row = session.execute(
            select(BrowserSession, User)
            .join(User)
            .where(BrowserSession.token_sha256 == _token_sha256(token), BrowserSession.ended_at.is_(None))
        ).first()
        if row is None:
            return
        browser, user = row
        browser.ended_at = db.now()
        audit.append(
            session,
            db,
            actor=user.username,
            entity="user",
            entity_id=user.username,
            action="logout",
            changes=[],
            at=browser.ended_at,
        )


@dataclass(frozen=True)
class ApiTokenGrant:
    """A new API token (shown once) and when it expires."""

    token: str
    expires_at: dt.datetime
    actor: Actor


def issue_token(db: Database, username: str, password: str) -> ApiTokenGrant:
    """``POST /api/v1/tokens``: check the password (with lockout) and issue a bearer token."""
    actor = authenticate(db, username, password)
    token = secrets.token_urlsafe(32)
    with db.write() as session:
        user = acting_user(session, actor)
        now = db.now()
        expires = now + dt.timedelta(days=POLICY.api_token_days)
        session.add(
            ApiToken(
                token_sha256=_token_sha256(token),
                user_id=user.id,
                created_at=now,
                expires_at=expires,
                revoked_at=None,
            )
        )
        audit.append(
            session,
            db,
            actor=user.username,
            entity="api_token",
            entity_id=_token_sha256(token)[:12],
            action="issue",
            changes=[{"field": "expires_at", "old": None, "new": audit.timestamp_text(expires)}],
        )
    return ApiTokenGrant(token, expires, actor)


def lookup_token(db: Database, token: str) -> Actor | None:
    """The actor behind a bearer token, or None (unknown, revoked, expired, disabled account)."""
    with db.read() as session:
        row = session.execute(
            select(ApiToken.revoked_at, ApiToken.expires_at, *_ACTOR_COLUMNS)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_sha256 == _token_sha256(token))
        ).first()
        if row is None:
            return None
        revoked_at, expires_at, user_id, username, full_name, role, active = row
        if revoked_at is not None or expires_at <= db.now() or not active:
            return None
        return Actor(user_id, username, full_name, Role(role))


def revoke_token(db: Database, actor: Actor, token: str) -> None:
    """Revoke one of the actor's own tokens."""
    with db.write() as session:
        grant = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_sha256(token)))
        if grant is None or grant.user_id != actor.user_id:
            raise NotFoundError("token: not one of your tokens")
        if grant.revoked_at is None:
            grant.revoked_at = db.now()
            audit.append(
                session,
                db,
                actor=actor.username,
                entity="api_token",
                entity_id=grant.token_sha256[:12],
                action="revoke",
                changes=[],
            )
