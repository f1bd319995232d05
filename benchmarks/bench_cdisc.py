"""Benchmark: export a synthetic study of N treated subjects (plus screen failures) as SDTM.

Run ``python benchmarks/bench_cdisc.py [N]`` (default 200). Each treated subject has a safety
record from the seeded safety generator (CRS/ICANS assessed days 0-14, labs on the monitoring
schedule to day 100, reported AEs), a screening record (the eligible example, renamed and given
the subject's sex), and a simulated kinetics profile (Stein model, copies/ug); half as many
extra candidates are screen failures (the ineligible example, renamed). Inputs are written first
(not timed); then the whole export is timed: reading, screening, grading, NCA, building the seven
datasets, writing XPT v5, Dataset-JSON and define.xml, and every validation check on the files
read back. Prints the phases, rows per dataset, bytes written and peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

from nmocart.cdisc.domains import build_study
from nmocart.cdisc.export import export_study
from nmocart.cdisc.inputs import read_inputs
from nmocart.demo import example_bytes
from nmocart.kinetics import stein
from nmocart.safety.synthetic import synthetic_study
from nmocart.screening.protocol import load_protocol

CREATED = "2026-11-25T12:00:00"


def write_inputs(folder: Path, n: int) -> dict[str, Path]:
    """Screening NDJSON, safety NDJSON and samples CSV of a synthetic study (linked by id)."""
    safety = list(synthetic_study(n, seed=11, follow_up_days=100))
    eligible = orjson.loads(example_bytes("eligible"))
    ineligible = orjson.loads(example_bytes("ineligible"))
    screening = []
    for record in safety:
        candidate = dict(eligible, candidate_id=record["subject_id"], sex=record["sex"])
        screening.append(candidate)
    screening += [dict(ineligible, candidate_id=f"SF-{i:04d}") for i in range(n // 2)]
    text = stein.to_csv(stein.simulate(n, 20190917))
    lines = text.splitlines()
    simulated = list(dict.fromkeys(line.split(",", 1)[0] for line in lines[1:]))
    ids = {sim: record["subject_id"] for sim, record in zip(simulated, safety, strict=True)}
    renamed = [lines[0]] + [ids[line.split(",", 1)[0]] + "," + line.split(",", 1)[1] for line in lines[1:]]
    paths = {
        "screening": folder / "screening.ndjson",
        "safety": folder / "safety.ndjson",
        "kinetics": folder / "samples.csv",
    }
    paths["screening"].write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in screening))
    paths["safety"].write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in safety))
    paths["kinetics"].write_text("\n".join(renamed) + "\n", encoding="utf-8")
    return paths


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_inputs(folder, n)
        protocol = load_protocol()
        c0, t0 = time.process_time(), time.perf_counter()
        study_input = read_inputs(protocol, paths["screening"], paths["safety"], paths["kinetics"], None)
        t1 = time.perf_counter()
        study = build_study(study_input)
        t2 = time.perf_counter()
        result = export_study(study_input, folder / "sdtm", CREATED)
        t3 = time.perf_counter()
        cpu = time.process_time() - c0
        size = sum(p.stat().st_size for p in result.files)
        inputs = sum(p.stat().st_size for p in paths.values())
        print(f"{n} treated subjects, {n // 2} screen failures; inputs {inputs:,} bytes")
        print(f"read + validate inputs   {t1 - t0:7.2f} s")
        print(f"build the 7 datasets     {t2 - t1:7.2f} s  (screen, grade, NCA, rows)")
        print(f"whole export             {t3 - t2:7.2f} s  (build again, write, {len(result.checks)} checks)")
        print(f"CPU time of all three    {cpu:7.2f} s  (this process; wall times depend on the load)")
        for ds in study.datasets:
            print(f"  {ds.meta.name:3} {len(ds.rows):8,} rows")
        passed = all(c.passed for c in result.checks)
        print(f"written {len(result.files)} files, {size:,} bytes; all checks passed: {passed}")
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS {peak_kb / 1024:.0f} MB")


if __name__ == "__main__":
    main()
