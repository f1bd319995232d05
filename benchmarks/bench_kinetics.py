"""Benchmark: NCA of 10,000 synthetic subjects x 12 samples, CSV in to table out, one core.

Run: ``.venv/bin/python benchmarks/bench_kinetics.py [--subjects N] [--seed S]``
(needs the ``bench`` extra: openpkflow). The process pins itself to one CPU core. It
generates the study with the Stein model, writes the CSV, then times

1. nmocart in-process: read CSV file -> validate -> NCA -> write the CSV table (best of 3);
2. nmocart as a subprocess: ``nmocart kinetics nca FILE`` (interpreter start-up included);
3. openpkflow ``NCAStudy.from_csv(...).analyze()`` on the same samples,

and reports the largest relative difference per parameter where both define a value.
openpkflow has no "drop middle BLQ" rule, so it reads the samples with the spec's BLQ
rules already applied (middle BLQ rows removed, leading/trailing BLQ as 0).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nmocart.kinetics import stein
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import read_samples
from nmocart.kinetics.table import table_csv

COMPARED = {
    "cmax": "Cmax",
    "tmax": "Tmax",
    "auclast": "AUClast",
    "lambda_z": "lambda_z",
    "half_life": "half_life",
    "adj_r_squared": "lambda_z_adj_r2",
    "lambda_z_n_points": "lambda_z_n_points",
    "aucinf_obs": "AUCinf_obs",
}


def pin_one_core() -> str:
    """Restrict this process (and children) to one CPU; say which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def nmocart_in_process(src: Path, dst: Path) -> None:
    table = read_samples(src.read_text(encoding="utf-8"))
    result = compute_nca(table.profiles)
    dst.write_text(table_csv(table, result), encoding="utf-8")


def openpkflow_csv(study: stein.SyntheticStudy) -> str:
    """The samples with the spec's BLQ rules applied, in openpkflow's column layout."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["subject", "time", "conc", "dose", "route"])
    subj = np.array(study.subject)
    for s in dict.fromkeys(study.subject):
        sel = subj == s
        t, c, b = study.time[sel], study.conc[sel], study.blq[sel]
        meas = np.flatnonzero(~b)
        for j in range(t.size):
            middle = b[j] and meas.size and meas[0] < j < meas[-1]
            if not middle:
                w.writerow([s, format(t[j], ".6f"), format(c[j], ".6g") if not b[j] else 0, 1, "iv_infusion"])
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=20190101)
    ap.add_argument("--skip-openpkflow", action="store_true")
    args = ap.parse_args()
    where = pin_one_core()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, {where}")
    study = stein.simulate(args.subjects, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "samples.csv"
        src.write_text(stein.to_csv(study), encoding="utf-8")
        n_rows = study.time.size
        print(
            f"study: {args.subjects} subjects x {len(stein.SCHEDULE)} samples = {n_rows} rows, "
            f"{src.stat().st_size / 1e6:.1f} MB CSV, {study.blq.mean():.1%} BLQ"
        )
        dst = Path(tmp) / "nca.csv"
        t_in = best_of(3, lambda: nmocart_in_process(src, dst))
        print(f"nmocart in-process, CSV in -> table out (best of 3): {t_in:.3f} s")
        t0 = time.perf_counter()
        table = read_samples(src.read_text(encoding="utf-8"))
        t1 = time.perf_counter()
        result = compute_nca(table.profiles)
        t2 = time.perf_counter()
        dst.write_text(table_csv(table, result), encoding="utf-8")
        t3 = time.perf_counter()
        print(
            f"  of which: read + validate {t1 - t0:.3f} s, NCA engine {t2 - t1:.3f} s, "
            f"format + write table {t3 - t2:.3f} s"
        )
        exe = Path(sys.executable).with_name("nmocart")
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "kinetics", "nca", str(src)], capture_output=True, check=True)
        t_sub = time.perf_counter() - t0
        print(f"nmocart subprocess `nmocart kinetics nca FILE > table` (one run): {t_sub:.3f} s")
        ours = list(csv.DictReader(io.StringIO(proc.stdout.decode())))
        if args.skip_openpkflow:
            return
        from openpkflow.nca import NCAStudy

        opk_src = Path(tmp) / "openpkflow.csv"
        opk_src.write_text(openpkflow_csv(study), encoding="utf-8")
        t0 = time.perf_counter()
        res = NCAStudy.from_csv(opk_src, auc_method="linear_up_log_down", blq_method="none").analyze()
        t_opk = time.perf_counter() - t0
        print(
            f"openpkflow NCAStudy.from_csv().analyze() (one run): {t_opk:.3f} s "
            f"({t_opk / t_in:.0f}x the in-process time)"
        )
        theirs = {r.subject: r for r in res.results}
        print("\nparameter            both  only-nmocart  only-openpkflow  max rel diff")
        for ours_name, their_name in COMPARED.items():
            both = only_us = only_them = 0
            worst = 0.0
            for row in ours:
                a_text = row[ours_name]
                b_val = getattr(theirs[row["subject"]], their_name)
                a = float(a_text) if a_text else math.nan
                b = math.nan if b_val is None else float(b_val)
                if math.isfinite(a) and math.isfinite(b):
                    both += 1
                    worst = max(worst, abs(a - b) / max(abs(b), 1e-300))
                elif math.isfinite(a):
                    only_us += 1
                elif math.isfinite(b):
                    only_them += 1
            print(f"{ours_name:20s} {both:5d} {only_us:13d} {only_them:16d}  {worst:.2e}")
        reasons: dict[str, int] = {}
        for row in ours:
            if not row["lambda_z"] and theirs[row["subject"]].lambda_z is not None:
                reason = row["notes"].split(": ", 1)[1].split(":")[0].split(";")[0]
                reasons[reason] = reasons.get(reason, 0) + 1
        print("\nwhy nmocart leaves lambda_z empty where openpkflow gives one (spec section 2):")
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:5d}  {reason}")


if __name__ == "__main__":
    main()
