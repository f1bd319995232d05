"""Benchmark: 20 concurrent clients for 60 s against ``nmocart serve`` on loopback.

Run ``python benchmarks/bench_web_load.py [--backend sqlite|postgresql|both] [--clients 20]
[--seconds 60] [--workers 2] [--client-processes 2] [--postgres-url URL]``. For each backend a
fresh database is migrated, one coordinator account is added and one candidate per client is
created (not timed); then the real ``nmocart serve --workers N`` runs as a subprocess and every
client, signed in through the login form, loops with no think time over a fixed mix of requests
for the duration:

- ``checklist page`` (50%): ``GET /candidates/{id}`` (HTML; decision, 19 criteria, to-do list);
- ``candidate JSON`` (20%): ``GET /api/v1/candidates/{id}``;
- ``save and screen`` (25%): ``PUT /api/v1/candidates/{own id}`` with the latest base version
  (a new immutable version, screened, audited, hash-chained);
- ``create and screen`` (5%): ``POST /api/v1/candidates`` with a new id.

Any answer other than the expected status is an error. Reported per request kind: count,
throughput, p50/p95/p99 latency (ms); targets: checklist page p95 < 100 ms, save and screen
p95 < 250 ms on PostgreSQL. The server and the clients share the machine's CPU, so the client
is kept light: the clients are threads spread over ``--client-processes`` processes (no shared
interpreter lock between them), each with one keep-alive ``http.client`` connection (signing in
goes through httpx, before the clock starts). CPU seconds are reported separately for the
server (the uvicorn supervisor and its workers, from ``wait4``), the clients (their own
``getrusage``) and the PostgreSQL backends (``/proc``; on a shared machine this includes other
users of the same PostgreSQL), with the server's and clients' CPU milliseconds per request:
unlike latency, these do not depend on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import re
import resource
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
SESSION_COOKIE = "nmocart_session"
BARRIER_TIMEOUT = 600.0
"""Seconds every client may take to sign in (argon2id) before the clock starts."""


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
        self,
        number: int,
        port: int,
        token: str,
        start: Any,
        seconds: float,
        results: dict[str, list[float]],
    ) -> None:
        super().__init__(daemon=True)
        self.number = number
        self.port = port
        self.token = token
        self.barrier = start
        self.seconds = seconds
        self.results = results
        self.errors: list[str] = []
        self.version = 1
        self.created = 0
        self.random = random.Random(number)

    def _sign_in(self) -> str | None:
        """Sign in through the login form (httpx keeps the login CSRF cookie); the session cookie."""
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60.0) as http:
            page = http.get("/login")
            token = CSRF_INPUT.search(page.text)
            assert token is not None
            signed_in = http.post(
                "/login",
                data={"username": "loadtest", "password": PASSWORD, "csrf_token": token[1], "next": "/"},
            )
            if signed_in.status_code != 303:
                self.errors.append(f"login: {signed_in.status_code}")
                return None
            return http.cookies.get(SESSION_COOKIE)

    def run(self) -> None:
        session = self._sign_in()
        self.barrier.wait(BARRIER_TIMEOUT)  # every client signed in: the clock starts
        if session is None:
            return
        stop_at = time.monotonic() + self.seconds
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        browser = {"Cookie": f"{SESSION_COOKIE}={session}"}
        api = {"Authorization": f"Bearer {self.token}"}
        api_json = {**api, "Content-Type": "application/json"}
        own = f"LOAD-{self.number:03d}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60.0)
        try:
            while time.monotonic() < stop_at:
                kind = self.random.choice(kinds)
                other = f"LOAD-{self.random.randrange(0, 20):03d}"
                started = time.perf_counter()
                body: bytes | None = None
                if kind == "checklist page":
                    method, path, headers, expected = "GET", f"/candidates/{other}", browser, 200
                elif kind == "candidate JSON":
                    method, path, headers, expected = "GET", f"/api/v1/candidates/{other}", api, 200
                elif kind == "save and screen":
                    body = orjson.dumps(
                        {
                            "record": _record(own, 400.0 + self.version % 60),
                            "base_version": self.version,
                            "reason": f"load test save {self.version}",
                        }
                    )
                    method, path, headers, expected = "PUT", f"/api/v1/candidates/{own}", api_json, 200
                else:
                    self.created += 1
                    body = orjson.dumps(_record(f"LOAD-{self.number:03d}-{self.created:05d}", 410.0))
                    method, path, headers, expected = "POST", "/api/v1/candidates", api_json, 201
                try:
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    content = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    self.errors.append(f"{kind}: {exc!r}")
                    connection.close()
                    continue
                elapsed = time.perf_counter() - started
                if response.status != expected:
                    self.errors.append(f"{kind}: {response.status} {content[:200]!r}")
                    continue
                if kind == "save and screen":
                    self.version = orjson.loads(content)["version"]
                self.results[kind].append(elapsed)
        finally:
            connection.close()


def _client_process(
    numbers: list[int], port: int, tokens: list[str], start: Any, seconds: float, out: Any
) -> None:
    """Run the clients ``numbers`` as threads of this process; send back their figures and CPU.

    ``start`` is the barrier of every client thread, every client process and the benchmark:
    it opens once all clients have signed in.
    """
    results: dict[str, list[float]] = defaultdict(list)
    workers = [Client(n, port, tokens[n], start, seconds, results) for n in numbers]
    for worker in workers:
        worker.start()
    start.wait(BARRIER_TIMEOUT)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    for worker in workers:
        worker.join()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    out.put((dict(results), [e for w in workers for e in w.errors], cpu))


def _postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the running PostgreSQL processes (all of them, any database)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].partition(") ")
        if name.startswith("postgres"):
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run(
    backend: str, clients: int, seconds: float, postgres_url: str, workers: int = 2, processes: int = 2
) -> dict[str, Any]:
    """One load run on a fresh database of ``backend``; the figures."""
    with _database(backend, postgres_url) as url:
        _seed(url, max(clients, 20))
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        command = [sys.executable, "-m", "nmocart", "serve", "--database-url", url, "--port", str(port)]
        server = subprocess.Popen(
            command if workers == 1 else [*command, "--workers", str(workers)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        server_usage: Any = None
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
            context = multiprocessing.get_context("spawn")
            out = context.Queue()
            groups = [g for g in (list(range(clients))[k::processes] for k in range(processes)) if g]
            start = context.Barrier(clients + len(groups) + 1)
            children = [
                context.Process(target=_client_process, args=(group, port, tokens, start, seconds, out))
                for group in groups
            ]
            for child in children:
                child.start()
            start.wait(BARRIER_TIMEOUT)
            start_at = time.monotonic()
            server_cpu_start = _process_cpu_seconds(server.pid)
            postgres_start = _postgres_cpu_seconds()
            gathered = [out.get(timeout=seconds + 600) for _ in children]
            wall = time.monotonic() - start_at
            server_cpu_end = _process_cpu_seconds(server.pid)
            postgres_end = _postgres_cpu_seconds()
            for child in children:
                child.join()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                _, status, server_usage = os.wait4(server.pid, 0)
                server.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                server.wait(timeout=60)
        results: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        client_cpu = 0.0
        for part, part_errors, cpu in gathered:
            for kind, values in part.items():
                results[kind] += values
            errors += part_errors
            client_cpu += cpu
        requests = sum(len(v) for v in results.values())
        server_cpu = server_cpu_end - server_cpu_start
        load = os.getloadavg()
        return {
            "backend": backend,
            "clients": clients,
            "server_workers": workers,
            "client_processes": len(children),
            "seconds": round(wall, 1),
            "requests": requests,
            "errors": len(errors),
            "first_errors": errors[:5],
            "throughput_per_s": round(requests / wall, 1),
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
            "server_cpu_s": round(server_cpu, 1),
            "server_cpu_ms_per_request": round(1000 * server_cpu / requests, 2) if requests else None,
            "server_cpu_s_whole_run": round(server_usage.ru_utime + server_usage.ru_stime, 1)
            if server_usage is not None
            else None,
            "client_cpu_s": round(client_cpu, 1),
            "client_cpu_ms_per_request": round(1000 * client_cpu / requests, 2) if requests else None,
            "postgres_cpu_s": round(postgres_end - postgres_start, 1) if backend == "postgresql" else None,
            "load_average_1min_after": round(load[0], 2),
            "cpus": os.cpu_count(),
        }


def _process_cpu_seconds(pid: int) -> float:
    """CPU seconds of a running process and its worker children (from ``/proc``)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2, help="nmocart serve --workers (server processes)")
    parser.add_argument(
        "--client-processes", type=int, default=2, help="processes the clients are spread over"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    failed = False
    for backend in backends:
        figures = run(
            backend, args.clients, args.seconds, args.postgres_url, args.workers, args.client_processes
        )
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        title = f"{backend} ({figures['clients']} clients, {figures['seconds']} s)"
        print(f"\n| {title} | requests | per s | p50 ms | p95 ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        for kind, row in figures["kinds"].items():
            cells = (row["count"], row["per_s"], row["p50_ms"], row["p95_ms"], row["p99_ms"])
            print(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")
        print(f"| all | {figures['requests']} | {figures['throughput_per_s']} | | | |")
        per_request = (
            f"server {figures['server_cpu_ms_per_request']}, clients {figures['client_cpu_ms_per_request']}"
        )
        print(f"errors: {figures['errors']}; CPU ms per request: {per_request}\n")
        failed = failed or figures["errors"] > 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
