"""Safety and kinetics uploads: validated by the CLI's parsers, stored immutably with their hash."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from nmocart.batch.safety import parse_record
from nmocart.db import uploads
from nmocart.db.accounts import Actor
from nmocart.db.database import Database
from nmocart.db.errors import ForbiddenError, InvalidInputError, NotFoundError
from nmocart.kernel.errors import RecordError
from nmocart.kinetics.samples import SampleInputError, read_samples
from tests.db.conftest import kinetics_csv, safety_record


def test_a_safety_record_is_stored_exactly_with_who_when_and_sha256(
    db: Database, coordinator: Actor, monitor: Actor
) -> None:
    content = safety_record()
    stored = uploads.store_upload(db, coordinator, "safety", "subject.json", content)
    assert stored.label == orjson.loads(content)["subject_id"]
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert (stored.uploaded_by, stored.size, stored.kind) == ("coordinator", len(content), "safety")
    fetched = uploads.get_upload(db, monitor, stored.upload_id)
    assert fetched.content == content
    assert parse_record(fetched.content).subject_id == stored.label
    assert [u.upload_id for u in uploads.list_uploads(db, monitor)] == [stored.upload_id]
    assert uploads.list_uploads(db, monitor, "kinetics") == []
    assert uploads.list_uploads(db, monitor)[0].size == len(content)


def test_a_kinetics_csv_is_validated_and_labelled_by_its_subjects(db: Database, investigator: Actor) -> None:
    content = kinetics_csv(3)
    stored = uploads.store_upload(db, investigator, "kinetics", "samples.csv", content)
    subjects = sorted(set(read_samples(content.decode()).subject))
    assert stored.label == f"samples.csv (3 subjects: {', '.join(subjects)})"
    assert uploads.get_upload(db, investigator, stored.upload_id).content == content


def test_invalid_uploads_get_the_cli_messages_and_are_not_stored(db: Database, coordinator: Actor) -> None:
    bad_safety = orjson.loads(safety_record())
    bad_safety["subject_id"] = 12
    with pytest.raises(RecordError) as cli:
        parse_record(orjson.dumps(bad_safety))
    with pytest.raises(InvalidInputError) as caught:
        uploads.store_upload(db, coordinator, "safety", "s.json", orjson.dumps(bad_safety))
    assert caught.value.problems == cli.value.problems
    bad_csv = b"subject,time\nS1,0\n"
    with pytest.raises(SampleInputError) as samples:
        read_samples(bad_csv.decode())
    with pytest.raises(InvalidInputError) as caught:
        uploads.store_upload(db, coordinator, "kinetics", "k.csv", bad_csv)
    assert caught.value.problems == samples.value.problems
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        uploads.store_upload(db, coordinator, "kinetics", "k.csv", b"\xff\xfe\x00")
    with pytest.raises(InvalidInputError, match="the file is empty"):
        uploads.store_upload(db, coordinator, "kinetics", "k.csv", b"")
    with pytest.raises(InvalidInputError, match="kind: 'pk' is not an upload kind"):
        uploads.store_upload(db, coordinator, "pk", "k.csv", kinetics_csv())
    assert uploads.list_uploads(db, coordinator) == []


def test_upload_roles(db: Database, monitor: Actor, admin: Actor, coordinator: Actor) -> None:
    stored = uploads.store_upload(db, coordinator, "kinetics", "k.csv", kinetics_csv())
    for actor in (monitor, admin):
        with pytest.raises(ForbiddenError):
            uploads.store_upload(db, actor, "kinetics", "k.csv", kinetics_csv())
    with pytest.raises(ForbiddenError):
        uploads.get_upload(db, admin, stored.upload_id)
    with pytest.raises(NotFoundError):
        uploads.get_upload(db, monitor, stored.upload_id + 1)


def test_uploads_cannot_be_changed_in_the_database(db: Database, coordinator: Actor) -> None:
    uploads.store_upload(db, coordinator, "kinetics", "k.csv", kinetics_csv())
    with db.engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("UPDATE upload SET filename = 'other.csv'"))
        connection.rollback()
