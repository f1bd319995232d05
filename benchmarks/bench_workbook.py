"""Benchmark: writing and reading a screening workbook of N candidates, and screening it end to end.

The candidates are the seeded variants of ``bench_screening.py`` (the three examples with other
ids, ages, lab values; the 1% invalid ones are left out). Reports the workbook's size, the wall
and CPU time to write it (``nmocart template record``'s writer) and to read and validate it, and
``nmocart screen FILE.xlsx`` as a subprocess with its CPU time and peak resident memory
(``os.wait4``). CPU times are the figures to compare on a shared machine.

    python benchmarks/bench_workbook.py --candidates 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_screening import population
from nmocart.batch.workbook import read_workbook, write_workbook
from nmocart.screening.record import RecordError, ScreeningRecord, parse_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20260302)
    args = parser.parse_args()
    records: list[ScreeningRecord] = []
    refused = 0
    for line in population(args.candidates, args.seed):
        try:
            records.append(parse_record(line))
        except RecordError:
            refused += 1  # the 1% invalid JSON variants cannot be written; count them
    start, cpu = time.perf_counter(), time.process_time()
    data = write_workbook(records)
    written, written_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    entries = read_workbook(data, "bench.xlsx")
    read, read_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert [e.record for e in entries] == records, "round trip changed a record"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        path.write_bytes(data)
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "nmocart", "screen", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        lines = sum(1 for _ in process.stdout)
        _, status, usage = os.wait4(process.pid, 0)
        screened = time.perf_counter() - start
    print(
        json.dumps(
            {
                "candidates": len(records),
                "skipped_invalid_json_variants": refused,
                "workbook_bytes": len(data),
                "write_s": round(written, 3),
                "write_cpu_s": round(written_cpu, 3),
                "read_and_validate_s": round(read, 3),
                "read_and_validate_cpu_s": round(read_cpu, 3),
                "read_candidates_per_cpu_s": round(len(records) / read_cpu),
                "screen_subprocess_s": round(screened, 3),
                "screen_subprocess_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
                "screen_result_lines": lines,
                "screen_exit_status": os.waitstatus_to_exitcode(status),
                "screen_peak_rss_mb": round(usage.ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
