"""Benchmark: grade 10,000 synthetic subjects of 30 days of assessments and labs on one core.

Run ``python benchmarks/bench_safety.py [N] [--daily-labs]``. Each subject has daily CRS and
ICANS assessments on days 0-30 and labs on a CAR-T monitoring schedule (9 tests on 23
dates: screening, lymphodepletion start, day -3, daily to day 14, then three times a week;
IgG three times), or with ``--daily-labs`` all 9 tests every day from day -7 to day 30.
Records are generated and serialised first (not timed); then each record is streamed as
the CLI does: parsed (JSON -> validated model), graded (pure core) and serialised, with
each phase timed in CPU seconds of this one process. Finally the real command,
``nmocart safety grade FILE.ndjson > /dev/null``, runs on the same records in a child process
(one core; interpreter start-up, reading, parsing, grading, serialising and writing included):
its CPU time is the end-to-end figure, which must stay under 10 s for 10,000 subjects.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from nmocart.batch.safety import parse_record
from nmocart.safety.grade import as_dict, grade_subject
from nmocart.safety.parameters import load_parameters
from nmocart.safety.synthetic import synthetic_study

BUDGET_S = 10.0
"""``safety grade`` of 10,000 subjects on the monitoring schedule, end to end, on one core."""


def run_cli(raw: list[bytes]) -> tuple[float, float, int]:
    """CPU seconds, wall seconds and output bytes of ``nmocart safety grade`` on ``raw``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.ndjson"
        path.write_bytes(b"".join(line + b"\n" for line in raw))
        out = Path(folder) / "graded.ndjson"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        with out.open("wb") as sink:
            subprocess.run(
                [sys.executable, "-m", "nmocart", "safety", "grade", str(path)],
                stdout=sink,
                check=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, wall, out.stat().st_size


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    daily = "--daily-labs" in sys.argv
    n = int(args[0]) if args else 10_000
    params = load_parameters()
    t0 = time.perf_counter()
    studies = synthetic_study(n, seed=7, follow_up_days=30, daily_labs=daily, assessment_days=30)
    raw = [orjson.dumps(r) for r in studies]
    generated = time.perf_counter() - t0
    sample = orjson.loads(raw[0])
    counts = (len(sample["crs_assessments"]), len(sample["icans_assessments"]), len(sample["labs"]))

    parsed = graded = written = 0.0
    out_bytes = 0
    wall = time.perf_counter()
    for data in raw:  # streamed, as the CLI does: nothing but the input is kept alive
        t0 = time.process_time()
        record = parse_record(data)
        t1 = time.process_time()
        result = grade_subject(record, params)
        t2 = time.process_time()
        out_bytes += len(orjson.dumps(as_dict(result)))
        t3 = time.process_time()
        parsed += t1 - t0
        graded += t2 - t1
        written += t3 - t2
    wall = time.perf_counter() - wall

    total = parsed + graded + written
    cli_cpu, cli_wall, cli_bytes = run_cli(raw)
    print(f"subjects: {n}  (each: {counts[0]} CRS, {counts[1]} ICANS, {counts[2]} lab results)")
    print(f"input {sum(map(len, raw)) / 1e6:.1f} MB JSON, output {out_bytes / 1e6:.1f} MB NDJSON")
    print(f"generate (untimed):  {generated:6.2f} s")
    print(f"parse + validate:    {parsed:6.2f} s CPU")
    print(f"grade (pure core):   {graded:6.2f} s CPU  ({n / graded:,.0f} subjects/s)")
    print(f"serialise output:    {written:6.2f} s CPU")
    print(f"in process, total:   {total:6.2f} s CPU, {wall:.2f} s wall")
    print(f"safety grade command, end to end: {cli_cpu:6.2f} s CPU, {cli_wall:.2f} s wall")
    if cli_bytes != out_bytes + n:
        raise SystemExit(f"the command wrote {cli_bytes} bytes, the in-process path {out_bytes + n}")
    if n == 10_000 and not daily and cli_cpu >= BUDGET_S:
        raise SystemExit(f"over budget: safety grade took {cli_cpu:.2f} s CPU >= {BUDGET_S:.0f} s")


if __name__ == "__main__":
    main()
