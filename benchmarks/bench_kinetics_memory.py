"""Benchmark: peak memory of ``nmocart kinetics nca`` on a very long sample CSV (10 million rows).

Run: ``python benchmarks/bench_kinetics_memory.py [--rows N] [--samples-per-subject K] [--keep]``

Writes a seeded synthetic study (subjects of K samples each, contiguous, one analyte; a
bi-exponential expansion/persistence curve with noise and BLQ tails) to a temporary CSV,
then runs ``nmocart kinetics nca FILE`` in a child process with the table going to a file,
and reports the child's peak resident memory (``ru_maxrss``), wall time and the table's
size. ``--shuffle`` interleaves the subjects (the slower two-pass path with chunk files).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DAYS = np.array([0, 1, 4, 7, 10, 14, 21, 28, 42, 60, 90, 180, 270, 365, 540, 730], dtype=np.float64)


def write_study(path: Path, rows: int, per_subject: int, seed: int, shuffle: bool) -> int:
    """Write ``rows`` sample rows (whole subjects of ``per_subject`` samples); returns subjects."""
    rng = np.random.default_rng(seed)
    days = DAYS[:per_subject] if per_subject <= len(DAYS) else np.arange(per_subject, dtype=np.float64)
    subjects = -(-rows // per_subject)
    block = 20_000
    lines_out: list[str] = []
    with open(path, "w", encoding="utf-8") as out:
        out.write("subject,time,conc,blq\n")
        written = 0
        for first in range(0, subjects, block):
            n = min(block, subjects - first)
            peak = rng.lognormal(9.0, 1.0, size=(n, 1))
            conc = peak * (np.exp(-0.03 * days) - np.exp(-0.6 * days)) * rng.lognormal(0, 0.2, (n, len(days)))
            blq = conc < 5.0
            ids = np.repeat(np.arange(first, first + n), len(days))
            t = np.tile(days, n)
            c = conc.ravel()
            b = blq.ravel()
            take = min(n * len(days), rows - written)
            text_rows = [
                f"P{ids[i]:08d},{t[i]:g},{'' if b[i] else f'{c[i]:.6g}'},{int(b[i])}\n" for i in range(take)
            ]
            written += take
            if shuffle:
                lines_out.extend(text_rows)
            else:
                out.writelines(text_rows)
        if shuffle:
            random.Random(seed).shuffle(lines_out)
            out.writelines(lines_out)
    return subjects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--samples-per-subject", type=int, default=12)
    parser.add_argument("--seed", type=int, default=20240115)
    parser.add_argument("--shuffle", action="store_true", help="interleave subjects")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nmocart-bench-"))
    src = folder / "samples.csv"
    started = time.perf_counter()
    subjects = write_study(src, args.rows, args.samples_per_subject, args.seed, args.shuffle)
    print(
        f"wrote {args.rows:,} rows ({subjects:,} subjects) = {src.stat().st_size / 1e6:,.0f} MB "
        f"in {time.perf_counter() - started:.1f} s"
    )
    table = folder / "table.csv"
    env = {**os.environ}
    started = time.perf_counter()
    with open(table, "wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "nmocart", "kinetics", "nca", str(src)],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"exit status {done.returncode}; stderr: {done.stderr.decode()[:500]!r}")
    profiles = table.read_bytes().count(b"\n") - 1
    print(f"table: {table.stat().st_size / 1e6:,.1f} MB, {profiles:,} profiles")
    print(f"kinetics nca: wall {wall:.1f} s, peak RSS {peak_kib / 1024:,.0f} MB")
    if not args.keep:
        src.unlink()
        table.unlink()
        folder.rmdir()
    else:
        print(f"kept {folder}")


if __name__ == "__main__":
    main()
