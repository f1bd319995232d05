"""Benchmark ``nmocart fhir records``: wall time, patients per second, peak memory, by population size.

Writes a seeded Bulk Data export (one NDJSON file per resource type, about 30 resources per
patient: encounters and vital signs to ignore or count unmapped, labs in both unit systems,
conditions, medication orders, a screening form for some), runs the command in a child
process and reports the child's peak resident memory (``ru_maxrss``).

    /work/venv/bin/python benchmarks/bench_fhir_records.py --patients 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def _obs(rid: str, pid: str, code: str, day: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": day,
        **value,
    }


def q(value: float, unit: str) -> dict[str, Any]:
    """A UCUM valueQuantity."""
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _patient_resources(rng: random.Random, n: int) -> dict[str, list[dict[str, Any]]]:
    pid = f"P{n:08d}"
    day = f"2026-02-{rng.randint(1, 28):02d}"
    out: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("Patient", "Encounter", "Observation", "Condition", "MedicationRequest")
    }
    out["Patient"].append(
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": rng.choice(["female", "male"]),
            "birthDate": f"{rng.randint(1940, 2010)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
    )
    for i in range(10):
        out["Encounter"].append(
            {
                "resourceType": "Encounter",
                "id": f"{pid}-e{i}",
                "status": "finished",
                "subject": {"reference": f"Patient/{pid}"},
            }
        )
    out["Observation"] += [
        _obs(
            f"{pid}-o1",
            pid,
            rng.choice(["2160-0", "14682-9"]),
            day,
            **q(rng.choice([0.9, 1.2, 80]), rng.choice(["mg/dL", "umol/L"])),
        ),
        _obs(f"{pid}-o2", pid, "1742-6", day, **q(rng.randint(10, 200), "U/L")),
        _obs(f"{pid}-o3", pid, "1920-8", day, **q(rng.randint(10, 200), "U/L")),
        _obs(f"{pid}-o4", pid, "1975-2", day, **q(round(rng.uniform(0.2, 3), 1), "mg/dL")),
        _obs(f"{pid}-o5", pid, "5196-1", day, valueString=rng.choice(["negative", "positive"])),
        _obs(f"{pid}-o6", pid, "8867-4", day, **q(rng.randint(50, 110), "/min")),
        _obs(f"{pid}-o7", pid, "29463-7", day, **q(rng.randint(45, 120), "kg")),
        _obs(f"{pid}-o8", pid, "8636-3", day, **q(rng.randint(380, 490), "ms")),
    ]
    for i in range(5):
        code = rng.choice(["59621000", "160903007", "84757009", "44054006", "195662009"])
        out["Condition"].append(
            {
                "resourceType": "Condition",
                "id": f"{pid}-c{i}",
                "code": {"coding": [{"system": SNOMED, "code": code}]},
                "subject": {"reference": f"Patient/{pid}"},
                "onsetDateTime": f"{rng.randint(1990, 2025)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            }
        )
    for i in range(5):
        out["MedicationRequest"].append(
            {
                "resourceType": "MedicationRequest",
                "id": f"{pid}-m{i}",
                "status": rng.choice(["active", "stopped", "completed"]),
                "intent": "order",
                "subject": {"reference": f"Patient/{pid}"},
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": rng.choice(["8640", "314076", "1256", "197361"])}]
                },
                "authoredOn": f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-15",
            }
        )
    return out


def write_population(folder: Path, patients: int, seed: int) -> int:
    """Write the export; return its size in bytes."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    handles = {}
    try:
        for n in range(patients):
            for rtype, bodies in _patient_resources(rng, n).items():
                if rtype not in handles:
                    handles[rtype] = (folder / f"{rtype}.000.ndjson").open("w", encoding="utf-8")
                for body in bodies:
                    handles[rtype].write(json.dumps(body, separators=(",", ":")) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return sum(p.stat().st_size for p in folder.iterdir())


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("| patients | resources | input size | wall time | patients/s | CPU time | peak RSS (child) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for patients in args.patients:
        work = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
        try:
            size = write_population(work / "export", patients, args.seed)
            cpu_before = _child_cpu()
            start = time.perf_counter()
            command = [sys.executable, "-m", "nmocart", "fhir", "records", str(work / "export")]
            command += ["--screening-date", "2026-03-02", "--out", str(work / "out"), "--no-progress"]
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ}, check=False)
            wall = time.perf_counter() - start
            cpu = _child_cpu() - cpu_before
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            if done.returncode not in (0, 2):
                sys.exit(f"nmocart fhir records failed: {done.stderr}")
            report = json.loads((work / "out" / "intake-report.json").read_text())
            resources = sum(c["read"] for c in report["resources"].values())
            assert report["patients"]["records_built"] == patients
        finally:
            shutil.rmtree(work, ignore_errors=True)
        cells = [f"{patients:,}", f"{resources:,}", f"{size / 1e6:,.0f} MB", f"{wall:,.1f} s"]
        cells += [f"{patients / wall:,.0f}", f"{cpu:,.1f} s", f"{peak_mb:,.0f} MB"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
