"""Text with a NUL character (which PostgreSQL cannot store) is refused by name on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson
import pytest

from nmocart.db import accounts, audit, candidates, screening_log, signatures, uploads
from nmocart.db.accounts import Actor
from nmocart.db.audit import AuditFilter
from nmocart.db.database import Database
from nmocart.db.errors import AuthenticationError, InvalidInputError, NotFoundError
from tests.db.conftest import OPERATOR, PASSWORDS, example, kinetics_csv

NUL = "a\x00b"


def test_nul_in_free_text_is_refused_naming_the_field(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = "changed"
    refusals: list[tuple[str, Callable[[], object]]] = [
        (
            "full name",
            lambda: accounts.add_user(db, OPERATOR, "newbie", "monitor", NUL, "long enough secret"),
        ),
        ("reason", lambda: accounts.disable_user(db, OPERATOR, "investigator", NUL)),
        ("reason", lambda: candidates.create_candidate(db, investigator, example("ineligible"), NUL)),
        ("reason", lambda: candidates.save_version(db, investigator, "SCR-0001", data, 1, NUL)),
        ("meaning", lambda: signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], NUL)),
        (
            "reason",
            lambda: screening_log.change_status(
                db, investigator, "SCR-0001", "withdrawn", dt.date(2026, 3, 2), NUL
            ),
        ),
        ("filename", lambda: uploads.store_upload(db, investigator, "kinetics", NUL, kinetics_csv())),
    ]
    for field, action in refusals:
        with pytest.raises(InvalidInputError, match=f"^{field}: contains a NUL character"):
            action()
    assert candidates.get_version(db, investigator, "SCR-0001").version == 1


def test_nul_in_lookups_finds_nothing_instead_of_failing(db: Database, investigator: Actor) -> None:
    with pytest.raises(AuthenticationError):
        accounts.authenticate(db, NUL, PASSWORDS["investigator"])
    with pytest.raises(NotFoundError):
        candidates.get_version(db, investigator, NUL)
    with pytest.raises(NotFoundError):
        accounts.set_role(db, OPERATOR, NUL, "monitor", "x")
    assert audit.audit_trail(db, OPERATOR, AuditFilter(candidate_id=NUL, actor=NUL)) == []


def test_nul_inside_a_record_is_kept_as_escaped_json(db: Database, investigator: Actor) -> None:
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = NUL
    view = candidates.create_candidate(db, investigator, data)
    assert "\\u0000" in view.record_json
    assert candidates.get_version(db, investigator, "SCR-0001").record["investigator"]["notes"] == NUL
