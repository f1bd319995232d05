"""A worker process for the concurrency tests: open the database, wait, save one version."""

from __future__ import annotations

from typing import Any

from nmocart.db import candidates
from nmocart.db.accounts import Actor
from nmocart.db.database import Database, make_engine
from nmocart.db.errors import ConflictError
from nmocart.db.roles import Role


def save_on_base(
    url: str, user_id: int, record: dict[str, Any], note: str, barrier: Any, results: Any
) -> None:
    """Save ``record`` with the note as version 2 on base version 1; report ok or conflict."""
    db = Database(make_engine(url))
    actor = Actor(user_id, "coordinator", "Dr Coordinator", Role.coordinator)
    edited = {**record, "investigator": {**(record.get("investigator") or {}), "notes": note}}
    barrier.wait()
    try:
        view = candidates.save_version(db, actor, record["candidate_id"], edited, 1, f"edit {note}")
        results.put(("ok", note, view.version))
    except ConflictError as exc:
        results.put(("conflict", note, str(exc)))
    finally:
        db.dispose()
