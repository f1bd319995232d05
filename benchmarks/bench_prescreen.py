"""Benchmark: ``nmocart prescreen`` on synthetic FHIR populations, DuckDB and Spark side by side.

For each population size, writes (once, seeded) the synthetic Bulk Data export with
``nmocart fhir synth`` and runs ``nmocart prescreen`` on it with each engine as a separate
process. Reports the data size (resources, bytes), wall time, patients per second, CPU time of
the whole process tree, and its peak memory (the sum of the resident sets of the command and
all its descendants -- worker processes, Spark's JVM and Python workers -- sampled every
0.2 s from /proc), plus the machine's load average when the run started (the machine may be
shared). Writes the figures as JSON and the plot of time against population.

    python benchmarks/bench_prescreen.py --sizes 10000 100000 --engines duckdb spark \
        --data /tmp/prescreen-bench --plot docs/img/prescreen_scaling.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

SCREENING_DATE = "2026-03-02"
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _tree_sample(root: int, cpu_ticks: dict[int, int]) -> int:
    """Resident bytes of ``root`` and all its descendants; records each one's CPU ticks so far."""
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as stream:
                total += int(stream.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
            cpu_ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
        stack.extend(tree.get(pid, []))
    return total


def run_measured(command: list[str]) -> dict[str, float]:
    """Run ``command``; its wall time, CPU time (with children) and peak tree memory.

    CPU time is the larger of what the OS reports for reaped children and the sum over every
    process of the tree sampled from /proc (Spark's JVM is not always reaped by its parent).
    """
    peak = 0
    ticks: dict[int, int] = {}
    before = os.times()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_sample(process.pid, ticks))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    after = os.times()
    if process.returncode not in (0, 2):
        sys.stderr.write(stderr.decode(errors="replace"))
        raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
    reaped = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    cpu = max(reaped, sum(ticks.values()) / os.sysconf("SC_CLK_TCK"))
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak / 1e6}


def ensure_population(data: Path, patients: int, seed: int) -> dict[str, object]:
    """The synthetic export of ``patients`` (written once), with its size."""
    folder = data / f"synth-{patients}-seed{seed}"
    marker = folder / ".complete"
    if not marker.exists():
        cmd = [sys.executable, "-m", "nmocart", "fhir", "synth", "--patients", str(patients)]
        measured = run_measured([*cmd, "--seed", str(seed), "--out", str(folder), "--no-progress"])
        marker.write_text(json.dumps(measured))
    files = sorted(folder.glob("*.ndjson"))
    resources = 0
    for path in files:
        with path.open("rb") as stream:
            resources += sum(1 for _ in stream)
    return {
        "folder": str(folder),
        "resources": resources,
        "bytes": sum(p.stat().st_size for p in files),
        "synth": json.loads(marker.read_text()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=Path("/tmp/prescreen-bench"))
    parser.add_argument("--results", type=Path, default=None, help="JSON file to add the figures to.")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of time against population.")
    parser.add_argument("--keep-outputs", action="store_true")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    results_file = args.results or args.data / "results.json"
    rows: list[dict[str, object]] = json.loads(results_file.read_text()) if results_file.exists() else []
    for size in args.sizes:
        population = ensure_population(args.data, size, args.seed)
        for engine in args.engines:
            out = args.data / f"out-{engine}-{size}"
            command = [
                sys.executable, "-m", "nmocart", "prescreen", str(population["folder"]),
                "--screening-date", SCREENING_DATE, "--engine", engine, "--jobs", str(args.jobs),
                "--out", str(out), "--no-progress",
            ]  # fmt: skip
            load = os.getloadavg()[0]
            measured = run_measured(command)
            row: dict[str, object] = {
                "engine": engine,
                "patients": size,
                "resources": population["resources"],
                "bytes": population["bytes"],
                "jobs": args.jobs,
                "load_average_at_start": round(load, 2),
                **{k: round(v, 2) for k, v in measured.items()},
                "patients_per_s": round(size / measured["wall_s"], 1),
            }
            rows = [r for r in rows if (r["engine"], r["patients"]) != (engine, size)] + [row]
            print(json.dumps(row), flush=True)
            if not args.keep_outputs:
                subprocess.run(["rm", "-rf", str(out)], check=True)
            results_file.write_text(json.dumps(rows, indent=2) + "\n")  # kept if a later run fails
    if args.plot is not None:
        plot(rows, args.plot)


def plot(rows: list[dict[str, object]], path: Path) -> None:
    """Wall time against population, one line per engine, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for engine in ("duckdb", "spark"):
        points = sorted(
            (int(str(r["patients"])), float(str(r["wall_s"]))) for r in rows if r["engine"] == engine
        )
        if points:
            axes.plot([p for p, _ in points], [t for _, t in points], marker="o", label=engine)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("patients (about 30 FHIR resources each)")
    axes.set_ylabel("wall time (s)")
    axes.set_title("nmocart prescreen: time against population")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


if __name__ == "__main__":
    main()
