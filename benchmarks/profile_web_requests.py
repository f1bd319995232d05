"""CPU cost of one web request of each kind of the load benchmark, measured in process.

Run ``python benchmarks/profile_web_requests.py [--backend sqlite|postgresql] [--requests 200]
[--profile DIR]``. A fresh database is seeded as ``bench_web_load.py`` seeds it (one coordinator,
20 candidates); the application (``create_app``, the same middleware and routes ``nmocart serve``
runs) is driven through ``httpx.ASGITransport`` one request at a time, without HTTP parsing or
sockets. For each request kind of the benchmark mix it prints the process CPU milliseconds per
request (``time.process_time``: the server's work plus the in-process client's, which is small);
this is the figure the load benchmark's throughput depends on, and unlike wall-clock latency it
is not distorted by other load on the machine.

With ``--profile DIR`` each kind is also run under cProfile with FastAPI's thread-pool hand-off
replaced by a direct call (so the endpoint's work is on the profiled thread) and the statistics
are written to ``DIR/KIND.prof`` (``python -m pstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_web_load as load
from nmocart.db.database import open_database
from nmocart.web import WebSettings, create_app

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _run_inline() -> None:
    """Run FastAPI's sync endpoints and dependencies on the calling thread (for cProfile)."""
    import fastapi.dependencies.utils
    import fastapi.routing

    setattr(fastapi.routing, "run_in_threadpool", _inline)  # noqa: B010 (not re-exported for mypy)
    setattr(fastapi.dependencies.utils, "run_in_threadpool", _inline)  # noqa: B010


class Driver:
    """A signed-in browser session and an API token against the in-process application."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.auth = {"Authorization": f"Bearer {token}"}
        self.version = 1
        self.created = 0

    async def checklist(self, i: int) -> httpx.Response:
        return await self.http.get(f"/candidates/LOAD-{i % 20:03d}")

    async def candidate_json(self, i: int) -> httpx.Response:
        return await self.http.get(f"/api/v1/candidates/LOAD-{i % 20:03d}", headers=self.auth)

    async def save(self, i: int) -> httpx.Response:
        body = {
            "record": load._record("LOAD-000", 400.0 + self.version % 60),
            "base_version": self.version,
            "reason": f"profile save {self.version}",
        }
        response = await self.http.put("/api/v1/candidates/LOAD-000", json=body, headers=self.auth)
        if response.status_code == 200:
            self.version = response.json()["version"]
        return response

    async def create(self, i: int) -> httpx.Response:
        self.created += 1
        record = load._record(f"PROF-{self.created:06d}", 410.0)
        return await self.http.post("/api/v1/candidates", json=record, headers=self.auth)


async def _measure(
    name: str,
    call: Callable[[int], Awaitable[httpx.Response]],
    expected: int,
    count: int,
    profile: Path | None,
) -> float:
    for i in range(5):  # warm-up: imports, template compilation, connection pool
        response = await call(i)
        if response.status_code != expected:
            raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
    profiler = cProfile.Profile(time.process_time) if profile is not None else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for i in range(count):
        response = await call(i)
        if response.status_code != expected:
            raise SystemExit(f"{name}: {response.status_code} {response.text[:300]}")
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile / f"{name.replace(' ', '_')}.prof"))
    return 1000 * (time.process_time() - started) / count


async def _main(url: str, count: int, profile: Path | None) -> dict[str, float]:
    db = open_database(url=url)
    app = create_app(WebSettings(database_url=url), db=db)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/login")
            found = CSRF_INPUT.search(page.text)
            assert found is not None
            signed_in = await http.post(
                "/login",
                data={"username": "loadtest", "password": load.PASSWORD, "csrf_token": found[1], "next": "/"},
            )
            assert signed_in.status_code == 303, signed_in.text
            got = await http.post("/api/v1/tokens", json={"username": "loadtest", "password": load.PASSWORD})
            driver = Driver(http, got.json()["token"])
            kinds: tuple[tuple[str, Callable[[int], Awaitable[httpx.Response]], int], ...] = (
                ("checklist page", driver.checklist, 200),
                ("candidate JSON", driver.candidate_json, 200),
                ("save and screen", driver.save, 200),
                ("create and screen", driver.create, 201),
            )
            return {name: await _measure(name, call, code, count, profile) for name, call, code in kinds}
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile statistics here")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        _run_inline()
    with load._database(args.backend, args.postgres_url) as url:
        load._seed(url, 20)
        figures = asyncio.run(_main(url, args.requests, args.profile))
    mix = dict(load.MIX)
    print(f"{args.backend}: CPU ms per request (in process, {args.requests} requests each)")
    for name, ms in figures.items():
        print(f"  {name:<18} {ms:7.2f}")
    weighted = sum(figures[name] * mix[name] for name in figures) / sum(mix.values())
    print(f"  {'mix (weighted)':<18} {weighted:7.2f}")


if __name__ == "__main__":
    main()
