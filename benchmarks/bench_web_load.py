"""Benchmark: 20 concurrent clients for 60 s against ``nmocart serve`` on loopback.

Run ``python benchmarks/bench_web_load.py [--backend sqlite|postgresql|both] [--clients 20]
[--seconds 60] [--postgres-url URL]``. For each backend a fresh database is migrated, one
coordinator account is added and one candidate per client is created (not timed); then the real
``nmocart serve`` runs as a subprocess and every client, signed in through the login form, loops
over a fixed mix of requests for the duration:

- ``checklist page`` (50%): ``GET /candidates/{id}`` (HTML; decision, 19 criteria, to-do list);
- ``candidate JSON`` (20%): ``GET /api/v1/candidates/{id}``;
- ``save and screen`` (25%): ``PUT /api/v1/candidates/{own id}`` with the latest base version
  (a new immutable version, screened, audited, hash-chained);
- ``create and screen`` (5%): ``POST /api/v1/candidates`` with a new id.

Any answer other than the expected status is an error. Reported per request kind: count,
throughput, p50/p95/p99 latency (ms); targets: checklist page p95 < 100 ms, save and screen
p95 < 250 ms on PostgreSQL. The server and the clients share the machine's CPU.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from nmocart.db import accounts, candidates
from nmocart.db.accounts import SystemOperator
from nmocart.db.database import make_engine, open_database, upgrade
from nmocart.demo import example_bytes

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "load-benchmark-password"
MIX = (("checklist page", 50), ("candidate JSON", 20), ("save and screen", 25), ("create and screen", 5))
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _database(backend: str, postgres_url: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="nmocart-load-") as folder:
            yield f"sqlite:///{Path(folder) / 'nmocart.sqlite3'}"
        return
    import psycopg

    name = f"nmocart_load_{secrets.token_hex(4)}"
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{admin.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _record(candidate_id: str, qtc: float) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(example_bytes("incomplete"))
    record["candidate_id"] = candidate_id
    record["ecgs"] = [{"date": "2026-02-24", "qtc_ms": qtc, "correction": "fridericia"}]
    return record


def _seed(url: str, clients: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    db = open_database(url=url)
    try:
        accounts.add_user(db, SystemOperator("benchmark"), "loadtest", "coordinator", "Load Test", PASSWORD)
        actor = accounts.authenticate(db, "loadtest", PASSWORD)
        for i in range(clients):
            candidates.create_candidate(db, actor, _record(f"LOAD-{i:03d}", 400.0))
    finally:
        db.dispose()


class Client(threading.Thread):
    """One simulated user: a signed-in browser session plus an API token, looping over the mix."""

    def __init__(
        self, number: int, base: str, token: str, stop_at: float, results: dict[str, list[float]]
    ) -> None:
        super().__init__(daemon=True)
        self.number = number
        self.base = base
        self.token = token
        self.stop_at = stop_at
        self.results = results
        self.errors: list[str] = []
        self.version = 1
        self.created = 0
        self.random = random.Random(number)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30.0) as http:
            page = http.get("/login")
            token = CSRF_INPUT.search(page.text)
            assert token is not None
            signed_in = http.post(
                "/login",
                data={"username": "loadtest", "password": PASSWORD, "csrf_token": token[1], "next": "/"},
            )
            if signed_in.status_code != 303:
                self.errors.append(f"login: {signed_in.status_code}")
                return
            kinds = [kind for kind, weight in MIX for _ in range(weight)]
            auth = {"Authorization": f"Bearer {self.token}"}
            own = f"LOAD-{self.number:03d}"
            while time.monotonic() < self.stop_at:
                kind = self.random.choice(kinds)
                other = f"LOAD-{self.random.randrange(0, 20):03d}"
                started = time.perf_counter()
                if kind == "checklist page":
                    response = http.get(f"/candidates/{other}")
                    expected = 200
                elif kind == "candidate JSON":
                    response = http.get(f"/api/v1/candidates/{other}", headers=auth)
                    expected = 200
                elif kind == "save and screen":
                    body = {
                        "record": _record(own, 400.0 + self.version % 60),
                        "base_version": self.version,
                        "reason": f"load test save {self.version}",
                    }
                    response = http.put(f"/api/v1/candidates/{own}", json=body, headers=auth)
                    expected = 200
                    if response.status_code == 200:
                        self.version = response.json()["version"]
                else:
                    self.created += 1
                    new_id = f"LOAD-{self.number:03d}-{self.created:05d}"
                    response = http.post("/api/v1/candidates", json=_record(new_id, 410.0), headers=auth)
                    expected = 201
                elapsed = time.perf_counter() - started
                if response.status_code != expected:
                    self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
                    continue
                self.results[kind].append(elapsed)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(backend: str, clients: int, seconds: float, postgres_url: str) -> dict[str, Any]:
    """One load run on a fresh database of ``backend``; the figures."""
    with _database(backend, postgres_url) as url:
        _seed(url, max(clients, 20))
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        server = subprocess.Popen(
            [sys.executable, "-m", "nmocart", "serve", "--database-url", url, "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/login", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            tokens = [
                httpx.post(
                    f"{base}/api/v1/tokens", json={"username": "loadtest", "password": PASSWORD}
                ).json()["token"]
                for _ in range(clients)
            ]
            results: dict[str, list[float]] = defaultdict(list)
            cpu_before = os.times()
            started = time.monotonic()
            stop_at = started + seconds
            workers = [Client(i, base, tokens[i], stop_at, results) for i in range(clients)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            wall = time.monotonic() - started
            cpu_after = os.times()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        errors = [e for w in workers for e in w.errors]
        load = os.getloadavg()
        return {
            "backend": backend,
            "clients": clients,
            "seconds": round(wall, 1),
            "requests": sum(len(v) for v in results.values()),
            "errors": len(errors),
            "first_errors": errors[:5],
            "throughput_per_s": round(sum(len(v) for v in results.values()) / wall, 1),
            "kinds": {
                kind: {
                    "count": len(results[kind]),
                    "per_s": round(len(results[kind]) / wall, 1),
                    "p50_ms": round(1000 * _percentile(results[kind], 0.50), 1),
                    "p95_ms": round(1000 * _percentile(results[kind], 0.95), 1),
                    "p99_ms": round(1000 * _percentile(results[kind], 0.99), 1),
                    "mean_ms": round(1000 * statistics.fmean(results[kind]), 1) if results[kind] else None,
                }
                for kind, _ in MIX
            },
            "client_cpu_s": round(
                (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system), 1
            ),
            "load_average_1min_after": round(load[0], 2),
            "cpus": os.cpu_count(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    failed = False
    for backend in backends:
        figures = run(backend, args.clients, args.seconds, args.postgres_url)
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        title = f"{backend} ({figures['clients']} clients, {figures['seconds']} s)"
        print(f"\n| {title} | requests | per s | p50 ms | p95 ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        for kind, row in figures["kinds"].items():
            cells = (row["count"], row["per_s"], row["p50_ms"], row["p95_ms"], row["p99_ms"])
            print(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")
        print(f"| all | {figures['requests']} | {figures['throughput_per_s']} | | | |")
        print(f"errors: {figures['errors']}\n")
        failed = failed or figures["errors"] > 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
