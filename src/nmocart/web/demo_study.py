"""``nmocart serve --demo``: a fresh data directory seeded with a demo study.

One account per role with a random password (printed once by the caller, stored only as an
argon2id hash), the three example candidates, the 12 synthetic safety subjects and the
synthetic kinetics study. Seeded data is deterministic; only the passwords are random.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass

import orjson

from nmocart.db import accounts, candidates, uploads
from nmocart.db.accounts import Actor, SystemOperator
from nmocart.db.database import Database
from nmocart.db.roles import Role
from nmocart.demo import EXAMPLES, example_bytes
from nmocart.demo.kinetics import DEMO_SEED as KINETICS_SEED
from nmocart.demo.kinetics import DEMO_SUBJECTS as KINETICS_SUBJECTS
from nmocart.demo.kinetics import SAMPLES_NAME
from nmocart.demo.safety import DEMO_SEED as SAFETY_SEED
from nmocart.demo.safety import DEMO_SUBJECTS as SAFETY_SUBJECTS
from nmocart.kinetics import stein
from nmocart.safety.synthetic import synthetic_study

DEMO_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("coordinator", Role.coordinator, "Demo Coordinator"),
    ("investigator", Role.investigator, "Dr Demo Investigator"),
    ("monitor", Role.monitor, "Demo Monitor"),
    ("admin", Role.admin, "Demo Administrator"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A seeded account and its one-time password."""

    username: str
    role: str
    password: str


def seed_demo(db: Database) -> list[DemoAccount]:
    """Create the demo accounts and data in an empty, migrated database."""
    operator = SystemOperator("serve --demo")
    created: list[DemoAccount] = []
    for username, role, full_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        accounts.add_user(db, operator, username, role.value, full_name, password)
        created.append(DemoAccount(username, role.value, password))
    coordinator = _actor(db, "coordinator", created[0].password)
    for name in EXAMPLES:
        candidates.create_candidate(db, coordinator, example_bytes(name))
    for record in synthetic_study(SAFETY_SUBJECTS, seed=SAFETY_SEED):
        content = orjson.dumps(record)
        uploads.store_upload(db, coordinator, "safety", f"{record['subject_id']}.json", content)
    text = safety_subject_ids(stein.to_csv(stein.simulate(KINETICS_SUBJECTS, KINETICS_SEED)))
    uploads.store_upload(db, coordinator, "kinetics", SAMPLES_NAME, text.encode())
    return created


def safety_subject_ids(samples_csv: str) -> str:
    """The simulated samples with subjects ``S01``.. renamed to the safety subjects ``SYN-001``..

    The demo's kinetics and safety studies are simulated separately; naming the same people
    the same way lets the CDISC export link samples to subjects (its subject column holds
    safety subject ids).
    """
    rows = list(csv.reader(io.StringIO(samples_csv)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([f"SYN-{int(row[0][1:]):03d}", *row[1:]])
    return out.getvalue()


def _actor(db: Database, username: str, password: str) -> Actor:
    return accounts.authenticate(db, username, password)
