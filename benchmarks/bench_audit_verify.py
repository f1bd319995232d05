"""Benchmark: ``nmocart audit verify`` on a 1,000,000-entry audit trail, SQLite and PostgreSQL.

Run ``python benchmarks/bench_audit_verify.py [--entries N] [--backend sqlite|postgresql|both]
[--postgres-url URL]``. For each backend a fresh database is migrated, then a valid hash chain of
N entries is bulk-generated (entries shaped like real candidate updates: a JSON Pointer, old and
new values, a reason) and loaded with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL); this is
not timed. Then the real command ``nmocart audit verify`` runs as a subprocess and its wall time
and peak resident memory are reported; it must exit 0 naming N entries in under 30 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nmocart.db import audit
from nmocart.db.database import database_url, make_engine, upgrade
from nmocart.db.models import GENESIS_HASH

BUDGET_S = 30.0
"""``audit verify`` on one million entries must finish in less than this."""
BATCH = 50_000
COLUMNS = (
    "sequence, recorded_at, actor, entity, entity_id, candidate_id, action, changes, reason, "
    "previous_hash, entry_hash"
)
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
ACTORS = ("coordinator1", "coordinator2", "investigator1", "monitor1")


def chain(entries: int) -> Iterator[tuple[object, ...]]:
    """A valid chain of ``entries`` audit entries, generated deterministically."""
    previous = GENESIS_HASH
    for sequence in range(1, entries + 1):
        moment = START + dt.timedelta(milliseconds=250 * sequence)
        candidate = f"SCR-{sequence % 5000:05d}"
        changes = audit.canonical_json(
            [
                {
                    "field": f"/labs/{sequence % 7}/value",
                    "old": sequence % 97 / 10,
                    "new": sequence % 89 / 10,
                },
                {"field": "version", "old": sequence % 11 + 1, "new": sequence % 11 + 2},
            ]
        )
        actor = ACTORS[sequence % len(ACTORS)]
        reason = f"source document check {sequence % 13}"
        digest = audit.entry_hash(
            sequence, moment, actor, "candidate", candidate, candidate, "update", changes, reason, previous
        )
        yield (
            sequence,
            moment,
            actor,
            "candidate",
            candidate,
            candidate,
            "update",
            changes,
            reason,
            previous,
            digest,
        )
        previous = digest


def load_sqlite(url: str, entries: int) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        rows: list[tuple[object, ...]] = []
        last: tuple[object, ...] = ()
        for row in chain(entries):
            moment = row[1]
            assert isinstance(moment, dt.datetime)
            rows.append((row[0], moment.strftime("%Y-%m-%d %H:%M:%S.%f"), *row[2:]))
            last = row
            if len(rows) == BATCH:
                cursor.executemany(
                    f"INSERT INTO audit_entry ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                )
                rows = []
        if rows:
            cursor.executemany(f"INSERT INTO audit_entry ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        cursor.execute(
            "UPDATE audit_head SET last_sequence = ?, last_hash = ? WHERE id = 1", (entries, last[-1])
        )
        cursor.execute("COMMIT")
    finally:
        raw.close()
        engine.dispose()


def load_postgres(url: str, entries: int) -> None:
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        last: tuple[object, ...] = ()
        with cursor.copy(f"COPY audit_entry ({COLUMNS}) FROM STDIN") as copy:
            for row in chain(entries):
                copy.write_row(row)
                last = row
        cursor.execute(
            "UPDATE audit_head SET last_sequence = %s, last_hash = %s WHERE id = 1", (entries, last[-1])
        )
        raw.commit()
        cursor.execute("ANALYZE audit_entry")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def verify(url: str) -> tuple[float, float, float, str]:
    """Run ``nmocart audit verify``; return wall s, the child's CPU s, its peak RSS MB, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nmocart", "audit", "verify", "--database-url", url],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"audit verify failed ({done.returncode}): {done.stdout}{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, after.ru_maxrss / 1024, done.stdout.strip()


def run_backend(backend: str, entries: int, postgres_url: str) -> bool:
    schema = None
    folder = None
    if backend == "sqlite":
        folder = tempfile.TemporaryDirectory(prefix="nmocart-bench-")
        url = database_url(Path(folder.name))
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(postgres_url)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        url = (
            make_url(postgres_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        t0 = time.perf_counter()
        (load_sqlite if backend == "sqlite" else load_postgres)(url, entries)
        generated = time.perf_counter() - t0
        load = os.getloadavg()[0]
        wall, cpu, peak_mb, output = verify(url)
        size = ""
        if folder is not None:
            total = sum(p.stat().st_size for p in Path(folder.name).iterdir())
            size = f", database {total / 1e6:.0f} MB"
        ok = output == f"audit trail intact: {entries} entries" and wall < BUDGET_S
        print(f"{backend}: {entries:,} entries generated and loaded in {generated:.1f} s (untimed){size}")
        print(
            f"{backend}: nmocart audit verify: {wall:.1f} s wall, {cpu:.1f} s CPU (verifier process), "
            f"{entries / wall:,.0f} entries/s, peak RSS {peak_mb:.0f} MB, load average before {load:.1f} "
            f"-> {output!r}  [{'PASS' if ok else 'FAIL'} < {BUDGET_S:.0f} s]"
        )
        return ok
    finally:
        if folder is not None:
            folder.cleanup()
        if schema is not None:
            admin = create_engine(postgres_url)
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "NMOCART_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(b, args.entries, args.postgres_url) for b in backends]
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
