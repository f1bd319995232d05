"""Errors of the study database that a person or the web layer can act on.

Each carries a one-line message naming the field or the thing and the fix; the web layer maps
them to HTTP statuses (``status`` attribute) and the CLI prints them without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AccountLockedError",
    "AuthenticationError",
    "ConflictError",
    "DatabaseError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "NotMigratedError",
    "is_storable",
    "storable_text",
]


class DatabaseError(Exception):
    """Base of every error the study database raises on purpose; ``status`` is the HTTP analogue."""

    status = 400


def storable_text(field: str, value: str) -> str:
    """``value`` unchanged, or :class:`InvalidInputError` if it holds a NUL character.

    PostgreSQL text cannot hold the NUL character; refusing it everywhere keeps both backends alike
    and turns what would be a driver error into a message naming the field.
    """
    if "\x00" in value:
        raise InvalidInputError(f"{field}: contains a NUL character (\\x00); remove it")
    if not is_storable(value):
        raise InvalidInputError(
            f"{field}: contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid text; remove it"
        )
    return value


def is_storable(value: str) -> bool:
    """True when ``value`` can be stored and looked up: no NUL and valid UTF-8 (no lone surrogate).

    Lookups use it to find nothing instead of failing in the driver's text encoding.
    """
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class InvalidInputError(DatabaseError):
    """Input that fails validation: a record, a reason, a role, a password; names the field."""

    status = 422

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


class AuthenticationError(DatabaseError):
    """Wrong user name or password (never says which), or an unknown/expired token or session."""

    status = 401


class AccountLockedError(AuthenticationError):
    """Too many failed logins: the account is locked until ``until`` (UTC)."""

    status = 401


class ForbiddenError(DatabaseError):
    """The acting user's role does not allow the action, or the account is disabled."""

    status = 403


class NotFoundError(DatabaseError):
    """No such candidate, version, user or upload."""

    status = 404


class ConflictError(DatabaseError):
    """The action clashes with the stored state: a stale ``base_version``, an existing id."""

    status = 409


class NotMigratedError(DatabaseError):
    """The database schema is not at the head revision; the message says what to run."""

    status = 503
