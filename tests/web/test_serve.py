"""``nmocart serve`` as a real process: refuses an unmigrated database, stops on SIGTERM,
``--demo`` seeds a study; and kill -9 during a burst of saves loses no acknowledged save."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
from sqlalchemy import select

from nmocart.db import accounts
from nmocart.db.accounts import SystemOperator
from nmocart.db.audit import verify_chain
from nmocart.db.database import open_database
from nmocart.db.models import Candidate, CandidateVersion
from tests.web.conftest import example_as
from tests.web.server import REPO, Server, free_port

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "nmocart",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(free_port()),
        ],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "database not migrated" in lines[0]
    assert f"run: nmocart db upgrade --data-dir {tmp_path / 'd'}" in lines[0]
    assert "Traceback" not in run.stderr


def test_demo_seeds_a_study_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo' / 'nmocart.sqlite3'}"
    server = Server(url, ("--demo",))
    try:
        # the passwords are printed once; read them back from the output after stopping
        assert httpx.get(f"{server.base}/login").status_code == 200
    finally:
        status = server.stop()
    output = server.output()
    assert status == 0
    passwords = {
        parts[0]: parts[-1] for parts in (line.split() for line in output.splitlines()) if "password" in parts
    }
    assert set(passwords) == {"coordinator", "investigator", "monitor", "admin"}
    db = open_database(url=url)
    try:
        actor = accounts.authenticate(db, "monitor", passwords["monitor"])
        from nmocart.db import candidates, uploads

        assert sorted(c.candidate_id for c in candidates.list_candidates(db, actor)) == [
            "SCR-0001",
            "SCR-0002",
            "SCR-0003",
        ]
        kinds = [u.kind.value for u in uploads.list_uploads(db, actor)]
        assert kinds.count("safety") == 12
        assert kinds.count("kinetics") == 1
        assert verify_chain(db.engine).ok
    finally:
        db.dispose()
    # a second --demo on the same data refuses
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "nmocart",
            "serve",
            "--database-url",
            url,
            "--demo",
            "--port",
            str(free_port()),
        ],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2
    assert "fresh" in again.stderr


WRITERS = 4


KILL_AFTER = 4
"""Acknowledged versions per writer (on average) before the kill."""


def test_kill_9_during_a_burst_of_saves_loses_nothing_acknowledged(database_url: str) -> None:
    db = open_database(url=database_url)
    password = "durability-password-1"
    accounts.add_user(db, SystemOperator("test"), "writer", "coordinator", "Writer", password)
    server = Server(database_url)
    acknowledged: dict[str, int] = {}
    errors: list[str] = []
    cut: dict[str, str] = {}
    try:
        token = httpx.post(
            f"{server.base}/api/v1/tokens", json={"username": "writer", "password": password}
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        ids = [f"DUR-{i}" for i in range(WRITERS)]
        for cid in ids:
            created = httpx.post(
                f"{server.base}/api/v1/candidates", json=example_as("incomplete", cid), headers=auth
            )
            assert created.status_code == 201
            acknowledged[cid] = 1

        def burst(cid: str) -> None:
            record = example_as("incomplete", cid)
            version = 1
            with httpx.Client(timeout=10.0) as client:
                while True:
                    record["ecgs"] = [
                        {"date": "2026-02-24", "qtc_ms": 400 + version, "correction": "fridericia"}
                    ]
                    try:
                        response = client.put(
                            f"{server.base}/api/v1/candidates/{cid}",
                            json={"record": record, "base_version": version, "reason": f"burst {version}"},
                            headers=auth,
                        )
                    except httpx.HTTPError as exc:
                        cut[cid] = repr(exc)  # the server died: this save was not acknowledged
                        return
                    if response.status_code != 200:
                        errors.append(f"{cid}: {response.status_code} {response.text}")
                        return
                    version = response.json()["version"]
                    acknowledged[cid] = version

        threads = [threading.Thread(target=burst, args=(cid,)) for cid in ids]
        for t in threads:
            t.start()
        # kill while saves are in flight, once a few have been acknowledged
        deadline = time.monotonic() + 60
        while sum(acknowledged.values()) < KILL_AFTER * WRITERS and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()
        for t in threads:
            t.join(timeout=30)
    finally:
        server.kill()
    assert errors == []
    assert sum(acknowledged.values()) > 2 * WRITERS, f"too few saves acknowledged to test anything: {cut}"
    db.dispose()
    db = open_database(url=database_url)
    try:
        with db.read() as session:
            for cid, version in acknowledged.items():
                candidate = session.scalar(select(Candidate).where(Candidate.candidate_id == cid))
                assert candidate is not None
                assert candidate.latest_version >= version, (
                    f"{cid}: acknowledged {version}, stored {candidate.latest_version}"
                )
                stored = session.scalars(
                    select(CandidateVersion)
                    .where(CandidateVersion.candidate_pk == candidate.id)
                    .order_by(CandidateVersion.version)
                ).all()
                assert [v.version for v in stored] == list(range(1, candidate.latest_version + 1))
                for v in stored:
                    assert hashlib.sha256(v.record_json.encode()).hexdigest() == v.record_sha256
                    assert hashlib.sha256(v.result_json.encode()).hexdigest() == v.result_sha256
                    assert orjson.loads(v.result_json)["candidate_id"] == cid
        assert verify_chain(db.engine).ok
    finally:
        db.dispose()
