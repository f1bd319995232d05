"""Benchmark: NDJSON screening throughput (records/s) and peak memory of ``nmocart screen``.

Streams N seeded synthetic candidates (variants of the study team's three examples:
other ids, ages, sexes, lab values, QTc, fold expansion, sections not collected, and
1% invalid records) from a generator process into ``nmocart screen - --jobs J``; this
process only counts the output lines. Reports wall time, records per second, and the
screener's own CPU time and peak resident memory (``os.wait4`` on that process alone).

    python benchmarks/bench_screening.py --records 1000000 --jobs 1
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from nmocart.demo import EXAMPLES, example_bytes

OPTIONAL_SECTIONS = ("investigator", "tcell_proliferation", "pregnancy_tests", "conditions", "ecgs")


def variant(rng: random.Random, index: int) -> bytes:
    """One synthetic candidate (about 1 in 100 deliberately invalid)."""
    record: dict[str, Any] = copy.deepcopy(json.loads(example_bytes(EXAMPLES[index % 3])))
    record["candidate_id"] = f"BENCH-{index:07d}"
    record["birth_date"] = f"{rng.randint(1960, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    for item in record["labs"]:
        if item["value"] is not None:
            item["value"] = round(item["value"] * rng.uniform(0.3, 4.0), 2)
        elif rng.random() < 0.05:
            item["result"] = "positive"
    record["ecgs"][0]["qtc_ms"] = rng.randint(380, 500)
    if record["tcell_proliferation"]:
        record["tcell_proliferation"][0]["fold_expansion"] = round(rng.uniform(1, 20), 1)
    for section in OPTIONAL_SECTIONS:
        if rng.random() < 0.1:
            record[section] = None
    if rng.random() < 0.01:
        record["labs"][0]["unit"] = "mmol/L"
    return json.dumps(record, separators=(",", ":")).encode()


def population(count: int, seed: int, pool_size: int = 3000) -> Iterator[bytes]:
    """``count`` NDJSON lines cycling a seeded pool of variants, each with a unique id."""
    rng = random.Random(seed)
    pool = [variant(rng, i) for i in range(min(pool_size, count))]
    for i in range(count):
        line = pool[i % len(pool)]
        old = f"BENCH-{i % len(pool):07d}".encode()
        yield line.replace(old, f"BENCH-{i:07d}".encode(), 1) + b"\n"


def emit(count: int, seed: int) -> None:
    """Write the population as NDJSON to standard output (the generator process)."""
    out = sys.stdout.buffer
    for line in population(count, seed):
        out.write(line)
    out.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--emit", action="store_true", help="only write the population to stdout")
    args = parser.parse_args()
    if args.emit:
        emit(args.records, args.seed)
        return
    generator = subprocess.Popen(
        [sys.executable, __file__, "--emit", "--records", str(args.records), "--seed", str(args.seed)],
        stdout=subprocess.PIPE,
    )
    command = [sys.executable, "-m", "nmocart", "screen", "-", "--jobs", str(args.jobs), "--no-progress"]
    start = time.perf_counter()
    screener = subprocess.Popen(
        command, stdin=generator.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    if generator.stdout is None or screener.stdout is None:
        raise SystemExit("could not open pipes")
    generator.stdout.close()  # the screener holds the read end now
    lines = rejected = 0
    tail = b""
    while chunk := screener.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
        rejected += (tail + chunk).count(b'\n{"source"')
        tail = chunk[-9:]  # shorter than the pattern: nothing is counted twice
    _, status, usage = os.wait4(screener.pid, 0)
    elapsed = time.perf_counter() - start
    generator.wait()
    cpu = usage.ru_utime + usage.ru_stime
    print(f"records              {args.records}")
    print(f"jobs                 {args.jobs}")
    print(f"output lines         {lines} ({rejected} rejected)")
    print(f"exit status          {os.waitstatus_to_exitcode(status)}")
    print(f"wall time            {elapsed:.1f} s")
    print(f"throughput (wall)    {args.records / elapsed:,.0f} records/s")
    print(f"screener CPU time    {cpu:.1f} s (user {usage.ru_utime:.1f}, system {usage.ru_stime:.1f})")
    print(f"throughput (CPU)     {args.records / cpu:,.0f} records per CPU-second")
    print(f"peak RSS (screener)  {usage.ru_maxrss / 1024:.0f} MB")
    if lines != args.records:
        raise SystemExit("output lines do not match input records")


if __name__ == "__main__":
    main()
