"""Text with a lone UTF-16 surrogate (which UTF-8 cannot encode; a JSON body can carry one as
``"\\ud800"``) is refused naming the field, never raised as an encoding error (an HTTP 500)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson
import pytest

from nmocart.db import accounts, candidates, screening_log, signatures, uploads
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import AuthenticationError, InvalidInputError
from tests.db.conftest import OPERATOR, PASSWORDS, example, kinetics_csv

SURROGATE = "a\ud800b"


def test_lone_surrogate_in_free_text_is_refused_naming_the_field(db: Database, investigator: Actor) -> None:
    candidates.create_candidate(db, investigator, example("eligible"))
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = "changed"
    refusals: list[tuple[str, Callable[[], object]]] = [
        (
            "full name",
            lambda: accounts.add_user(db, OPERATOR, "newbie", "monitor", SURROGATE, "long enough secret"),
        ),
        ("reason", lambda: accounts.disable_user(db, OPERATOR, "investigator", SURROGATE)),
        ("reason", lambda: candidates.create_candidate(db, investigator, example("ineligible"), SURROGATE)),
        ("reason", lambda: candidates.save_version(db, investigator, "SCR-0001", data, 1, SURROGATE)),
        (
            "meaning",
            lambda: signatures.sign(db, investigator, "SCR-0001", PASSWORDS["investigator"], SURROGATE),
        ),
        (
            "reason",
            lambda: screening_log.change_status(
                db, investigator, "SCR-0001", "withdrawn", dt.date(2026, 3, 2), SURROGATE
            ),
        ),
        ("filename", lambda: uploads.store_upload(db, investigator, "kinetics", SURROGATE, kinetics_csv())),
    ]
    for field, action in refusals:
        with pytest.raises(InvalidInputError, match=f"^{field}: .*surrogate"):
            action()
    assert candidates.get_version(db, investigator, "SCR-0001").version == 1


def test_lone_surrogate_inside_a_decoded_record_is_an_invalid_record(
    db: Database, investigator: Actor
) -> None:
    data = orjson.loads(example("eligible"))
    data["investigator"]["notes"] = SURROGATE
    with pytest.raises(InvalidInputError, match="cannot be written as JSON"):
        candidates.create_candidate(db, investigator, data)


def test_lone_surrogate_password_is_just_a_wrong_password(db: Database, investigator: Actor) -> None:
    with pytest.raises(AuthenticationError):
        accounts.authenticate(db, "investigator", SURROGATE)
    with pytest.raises(InvalidInputError, match=r"^password: "):
        accounts.add_user(db, OPERATOR, "newbie", "monitor", "Dr New", "long enough " + SURROGATE)


def test_lone_surrogate_in_lookups_finds_nothing_instead_of_failing(
    db: Database, investigator: Actor
) -> None:
    from nmocart.db import audit
    from nmocart.db.audit import AuditFilter
    from nmocart.db.errors import NotFoundError

    with pytest.raises(AuthenticationError):
        accounts.authenticate(db, SURROGATE, PASSWORDS["investigator"])
    with pytest.raises(NotFoundError):
        candidates.get_version(db, investigator, SURROGATE)
    with pytest.raises(NotFoundError):
        accounts.set_role(db, OPERATOR, SURROGATE, "monitor", "x")
    assert audit.audit_trail(db, OPERATOR, AuditFilter(candidate_id=SURROGATE, actor=SURROGATE)) == []
