"""Every guarded service function against every role: allowed exactly when the role table says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson
import pytest

from nmocart.db import accounts, audit, candidates, screening_log, signatures, uploads
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import DatabaseError, ForbiddenError
from nmocart.db.roles import Permission, Role, allowed
from tests.db.conftest import PASSWORDS, example, kinetics_csv, make_user

Call = Callable[[Database, Actor], object]


def _edited() -> dict[str, object]:
    data: dict[str, object] = orjson.loads(example("eligible"))
    data["investigator"] = {**orjson.loads(example("eligible"))["investigator"], "notes": "matrix"}
    return data


ACTIONS: dict[str, tuple[Permission, Call]] = {
    "create_candidate": (
        Permission.edit_candidates,
        lambda db, a: candidates.create_candidate(db, a, example("ineligible")),
    ),
    "save_version": (
        Permission.edit_candidates,
        lambda db, a: candidates.save_version(db, a, "SCR-0001", _edited(), 1, "r"),
    ),
    "get_version": (Permission.read_candidates, lambda db, a: candidates.get_version(db, a, "SCR-0001")),
    "list_versions": (Permission.read_candidates, lambda db, a: candidates.list_versions(db, a, "SCR-0001")),
    "diff_versions": (
        Permission.read_candidates,
        lambda db, a: candidates.diff_versions(db, a, "SCR-0001", 1, 1),
    ),
    "list_candidates": (Permission.read_candidates, lambda db, a: candidates.list_candidates(db, a)),
    "candidate_audit": (
        Permission.read_candidates,
        lambda db, a: candidates.candidate_audit(db, a, "SCR-0001"),
    ),
    "signature_state": (
        Permission.read_candidates,
        lambda db, a: signatures.signature_state(db, a, "SCR-0001"),
    ),
    "sign": (
        Permission.sign,
        lambda db, a: signatures.sign(
            db, a, "SCR-0001", PASSWORDS[a.role.value], "I have reviewed the record"
        ),
    ),
    "change_status": (
        Permission.change_status,
        lambda db, a: screening_log.change_status(db, a, "SCR-0001", "withdrawn", dt.date(2026, 3, 2), "r"),
    ),
    "screening_log": (Permission.read_screening_log, lambda db, a: screening_log.screening_log(db, a)),
    "store_upload": (
        Permission.upload_data,
        lambda db, a: uploads.store_upload(db, a, "kinetics", "k.csv", kinetics_csv(1)),
    ),
    "list_uploads": (Permission.read_uploads, lambda db, a: uploads.list_uploads(db, a)),
    "get_upload": (Permission.read_uploads, lambda db, a: uploads.get_upload(db, a, 1)),
    "audit_trail": (Permission.read_audit, lambda db, a: audit.audit_trail(db, a)),
    "add_user": (
        Permission.manage_accounts,
        lambda db, a: accounts.add_user(db, a, "someone", "monitor", "Some One", "long enough secret"),
    ),
    "list_users": (Permission.manage_accounts, lambda db, a: accounts.list_users(db, a)),
    "set_role": (
        Permission.manage_accounts,
        lambda db, a: accounts.set_role(db, a, "helper", "monitor", "r"),
    ),
    "disable_user": (Permission.manage_accounts, lambda db, a: accounts.disable_user(db, a, "helper", "r")),
}


def test_every_permission_is_exercised() -> None:
    assert {permission for permission, _ in ACTIONS.values()} == set(Permission)


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(db: Database, role: Role) -> None:
    owner = make_user(db, "coordinator", "owner")
    make_user(db, "coordinator", "helper")
    candidates.create_candidate(db, owner, example("eligible"))
    uploads.store_upload(db, owner, "kinetics", "k.csv", kinetics_csv(1))
    actor = make_user(db, role.value)
    for name, (permission, call) in ACTIONS.items():
        if allowed(role, permission):
            try:
                call(db, actor)
            except DatabaseError as exc:
                pytest.fail(f"{role} was refused {name}: {exc}")
        else:
            with pytest.raises(ForbiddenError):
                call(db, actor)
