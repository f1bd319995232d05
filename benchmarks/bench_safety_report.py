"""Benchmark: peak memory of ``nmocart safety report`` on 1,000 synthetic subjects.

Run ``python benchmarks/bench_safety_report.py [N]``. Generates N subjects (seed 7; daily CRS
and ICANS assessments on days 0-30 and 210 lab results each, as ``bench_safety.py``), writes
them as NDJSON, then runs ``nmocart safety report FILE --out DIR`` in a child process and
reports its peak resident memory (``ru_maxrss``) and time. The report keeps one small summary
per subject while grading streams past, so the target is under 300 MB for 1,000 subjects.
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

from nmocart.safety.synthetic import synthetic_study

BUDGET_MB = 300.0
"""Peak resident memory allowed for the report of 1,000 subjects."""


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.ndjson"
        with path.open("wb") as sink:  # generated subject by subject: the generator holds none
            for start in range(0, n, 100):
                batch = synthetic_study(
                    min(100, n - start), seed=7 + start, follow_up_days=30, assessment_days=30
                )
                for i, record in enumerate(batch, start=start + 1):
                    record["subject_id"] = f"SYN-{i:05d}"
                    sink.write(orjson.dumps(record) + b"\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nmocart",
                "safety",
                "report",
                str(path),
                "--out",
                str(Path(folder) / "r"),
            ],
            stdout=subprocess.DEVNULL,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = after.ru_maxrss / 1024  # kilobytes on Linux
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        megabytes = path.stat().st_size / 1e6
        report = (Path(folder) / "r" / "report.html").stat().st_size / 1e6
    print(f"subjects: {n}  input {megabytes:.1f} MB NDJSON, report.html {report:.1f} MB")
    print(f"safety report: peak RSS {peak_mb:.0f} MB, {cpu:.1f} s CPU, {wall:.1f} s wall")
    if n == 1_000 and peak_mb >= BUDGET_MB:
        raise SystemExit(f"over budget: peak RSS {peak_mb:.0f} MB >= {BUDGET_MB:.0f} MB")


if __name__ == "__main__":
    main()
