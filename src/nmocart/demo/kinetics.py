"""A seeded synthetic kinetics study, analysed end to end, for ``nmocart demo``."""

from __future__ import annotations

from pathlib import Path

from nmocart.kinetics import stein
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import read_samples
from nmocart.reports.kinetics import write_outputs

DEMO_SUBJECTS = 12
DEMO_SEED = 20190917
SAMPLES_NAME = "kinetics_demo_samples.csv"


def write_demo(out: Path) -> list[Path]:
    """Simulate 12 subjects (Stein model), write the samples CSV and every NCA output.

    Returns the paths written: the samples, the per-subject table (CSV and JSON), the summary,
    the plots and the HTML report. Same seed, same bytes.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = stein.to_csv(stein.simulate(DEMO_SUBJECTS, DEMO_SEED))
    src = out / SAMPLES_NAME
    src.write_text(text, encoding="utf-8", newline="\n")
    samples = read_samples(text)
    result = compute_nca(samples.profiles)
    return [src, *write_outputs(out, samples, result, source_name=SAMPLES_NAME)]
