"""Benchmark: grade 10,000 synthetic subjects of 30 days of assessments and labs on one core.

Run ``python benchmarks/bench_safety.py [N] [--daily-labs]``. Each subject has daily CRS and
ICANS assessments on days 0-30 and labs on a CAR-T monitoring schedule (9 tests on 23
dates: screening, lymphodepletion start, day -3, daily to day 14, then three times a week;
IgG three times), or with ``--daily-labs`` all 9 tests every day from day -7 to day 30.
Records are generated and serialised first (not timed); then each record is streamed as
the CLI does: parsed (JSON -> validated model), graded (pure core) and serialised, with
each phase timed in CPU seconds of this one process.
"""

from __future__ import annotations

import sys
import time

import orjson

from nmocart.batch.safety import parse_record
from nmocart.safety.grade import as_dict, grade_subject
from nmocart.safety.parameters import load_parameters
from nmocart.safety.synthetic import synthetic_study

BUDGET_S = 10.0
"""Grading 10,000 subjects on the monitoring schedule must take less than this, on one core."""


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
    print(f"subjects: {n}  (each: {counts[0]} CRS, {counts[1]} ICANS, {counts[2]} lab results)")
    print(f"input {sum(map(len, raw)) / 1e6:.1f} MB JSON, output {out_bytes / 1e6:.1f} MB NDJSON")
    print(f"generate (untimed):  {generated:6.2f} s")
    print(f"parse + validate:    {parsed:6.2f} s CPU")
    print(f"grade (pure core):   {graded:6.2f} s CPU  ({n / graded:,.0f} subjects/s)")
    print(f"serialise output:    {written:6.2f} s CPU")
    print(f"end to end:          {total:6.2f} s CPU, {wall:.2f} s wall")
    if n == 10_000 and not daily and graded >= BUDGET_S:
        raise SystemExit(f"over budget: grading took {graded:.2f} s >= {BUDGET_S:.0f} s")


if __name__ == "__main__":
    main()
