"""Benchmark: NDJSON screening throughput (records/s) and peak memory of ``nmocart screen``.

Streams N seeded synthetic candidates (variants of the study team's three examples:
other ids, ages, sexes, lab values, QTc, fold expansion, sections not collected, and
1% invalid records) into ``nmocart screen - --jobs J`` through a pipe, and reports the
wall time, records per second and the screening process's peak resident memory.
The generator runs in this process; the screener is the only child, so its peak RSS
is ``RUSAGE_CHILDREN.ru_maxrss``.

    python benchmarks/bench_screening.py --records 1000000 --jobs 1
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import subprocess
import sys
import threading
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    command = [sys.executable, "-m", "nmocart", "screen", "-", "--jobs", str(args.jobs), "--no-progress"]
    lines = population(args.records, args.seed)
    start = time.perf_counter()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        if proc.stdin is None or proc.stdout is None:
            raise SystemExit("could not open pipes to the screener")
        counted = {"lines": 0, "errors": 0}

        stdout = proc.stdout

        def drain() -> None:
            for out in stdout:
                counted["lines"] += 1
                if out.startswith(b'{"source"'):
                    counted["errors"] += 1

        reader = threading.Thread(target=drain)
        reader.start()
        for line in lines:
            proc.stdin.write(line)
        proc.stdin.close()
        reader.join()
        proc.wait()
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"records            {args.records}")
    print(f"jobs               {args.jobs}")
    print(f"output lines       {counted['lines']} ({counted['errors']} rejected records)")
    print(f"exit status        {proc.returncode}")
    print(f"wall time          {elapsed:.1f} s")
    print(f"throughput         {args.records / elapsed:,.0f} records/s")
    print(f"peak RSS (screen)  {peak_mb:.0f} MB")
    if counted["lines"] != args.records:
        raise SystemExit("output lines do not match input records")


if __name__ == "__main__":
    main()
