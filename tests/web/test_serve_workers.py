"""``nmocart serve --workers 2``: two worker processes sharing only the database.

A browser session started on one worker is valid on the other (sessions and CSRF tokens are
stored in the database); concurrent saves and creations from several clients, spread over both
workers, keep every candidate's versions contiguous and the audit hash chain intact; two
saves racing from the same base version give exactly one success and one 409 whichever
workers they land on; SIGTERM stops the supervisor and both workers with status 0.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from nmocart.db import accounts
from nmocart.db.accounts import SystemOperator
from nmocart.db.audit import verify_chain
from nmocart.db.database import open_database
from nmocart.db.models import AuditEntry, Candidate, CandidateVersion
from tests.web.conftest import example_as
from tests.web.server import Server

PASSWORD = "multi-worker-password"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
WRITERS = 4
SAVES = 6
FRESH = httpx.Limits(max_keepalive_connections=0)
"""No keep-alive: every request opens a new connection, which either worker may accept."""


def _worker_pids(parent: int) -> list[int]:
    """The uvicorn worker processes (multiprocessing spawn children) of ``parent``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"multiprocessing.spawn" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_two_workers_share_sessions_and_keep_the_audit_chain(database_url: str) -> None:
    db = open_database(url=database_url)
    try:
        accounts.add_user(db, SystemOperator("test"), "multi", "coordinator", "Multi Worker", PASSWORD)
    finally:
        db.dispose()
    server = Server(database_url, ("--workers", "2"))
    errors: list[str] = []
    try:
        workers = _worker_pids(server.process.pid)
        assert len(workers) == 2, workers
        token = httpx.post(
            f"{server.base}/api/v1/tokens", json={"username": "multi", "password": PASSWORD}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = [f"MW-{i}" for i in range(WRITERS)]
        for cid in ids:
            created = httpx.post(
                f"{server.base}/api/v1/candidates", json=example_as("incomplete", cid), headers=auth
            )
            assert created.status_code == 201, created.text

        # a browser session signed in on whichever worker accepted the login...
        ticks = [_cpu_ticks(pid) for pid in workers]
        with httpx.Client(base_url=server.base, limits=FRESH, timeout=30.0) as browser:
            page = browser.get("/login")
            found = CSRF_INPUT.search(page.text)
            assert found is not None
            signed_in = browser.post(
                "/login",
                data={"username": "multi", "password": PASSWORD, "csrf_token": found[1], "next": "/"},
            )
            assert signed_in.status_code == 303
            # ...is valid on both: forty fresh connections, every page served
            statuses = Counter(browser.get(f"/candidates/{ids[i % WRITERS]}").status_code for i in range(40))
            assert statuses == Counter({200: 40})
        assert all(_cpu_ticks(pid) > before for pid, before in zip(workers, ticks, strict=True)), (
            "both workers should have served requests"
        )

        # concurrent saves (each writer its own candidate) and creations over both workers
        def writer(number: int) -> None:
            cid = ids[number]
            record = example_as("incomplete", cid)
            version = 1
            with httpx.Client(base_url=server.base, limits=FRESH, timeout=60.0) as client:
                for save in range(SAVES):
                    record["ecgs"] = [
                        {"date": "2026-02-24", "qtc_ms": 401 + save, "correction": "fridericia"}
                    ]
                    body = {"record": record, "base_version": version, "reason": f"worker test {save}"}
                    response = client.put(f"/api/v1/candidates/{cid}", json=body, headers=auth)
                    if response.status_code != 200:
                        errors.append(f"{cid} save: {response.status_code} {response.text[:200]}")
                        return
                    version = response.json()["version"]
                    new = client.post(
                        "/api/v1/candidates", json=example_as("eligible", f"MW-{number}-{save}"), headers=auth
                    )
                    if new.status_code != 201:
                        errors.append(f"create: {new.status_code} {new.text[:200]}")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []

        # two saves from the same base version: one wins, the other gets 409
        record = example_as("incomplete", ids[0])
        outcomes: list[int] = []
        for round_ in range(4):
            base = httpx.get(f"{server.base}/api/v1/candidates/{ids[0]}", headers=auth).json()["version"]

            def racer(qtc: int, base: int = base) -> None:
                mine = {**record, "ecgs": [{"date": "2026-02-24", "qtc_ms": qtc, "correction": "fridericia"}]}
                body = {"record": mine, "base_version": base, "reason": "race"}
                with httpx.Client(base_url=server.base, limits=FRESH, timeout=60.0) as client:
                    outcomes.append(
                        client.put(f"/api/v1/candidates/{ids[0]}", json=body, headers=auth).status_code
                    )

            pair = [threading.Thread(target=racer, args=(450 + 2 * round_ + k,)) for k in (0, 1)]
            for t in pair:
                t.start()
            for t in pair:
                t.join(timeout=60)
        assert Counter(outcomes) == Counter({200: 4, 409: 4})
    finally:
        status = server.stop()
    assert status == 0, server.output()
    assert _worker_pids(server.process.pid) == []

    db = open_database(url=database_url)
    try:
        report = verify_chain(db.engine)
        assert report.ok, report.problem
        with db.read() as session:
            for cid in ids:
                candidate = session.scalar(select(Candidate).where(Candidate.candidate_id == cid))
                assert candidate is not None
                numbers = session.scalars(
                    select(CandidateVersion.version)
                    .where(CandidateVersion.candidate_pk == candidate.id)
                    .order_by(CandidateVersion.version)
                ).all()
                assert list(numbers) == list(range(1, candidate.latest_version + 1))
            created = session.scalar(
                select(func.count(Candidate.id)).where(Candidate.candidate_id.like("MW-%-%"))
            )
            assert created == WRITERS * SAVES
            sequences = session.scalars(select(AuditEntry.sequence).order_by(AuditEntry.sequence)).all()
            assert list(sequences) == list(range(1, len(sequences) + 1))
    finally:
        db.dispose()
