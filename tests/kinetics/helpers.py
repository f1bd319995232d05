"""Small builders shared by the kinetics tests."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from nmocart.kinetics.nca import NcaOptions, NcaResult, compute_nca
from nmocart.kinetics.samples import SampleTable, read_samples

BLQ = math.nan
"""Marks a below-LLOQ sample in the ``conc`` lists of the tests."""


def csv_text(profiles: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> str:
    """Long CSV for the given {subject: (times, concs)}; NaN conc means blq=1."""
    lines = ["subject,time,conc,blq"]
    for subject, (times, concs) in profiles.items():
        for t, c in zip(times, concs, strict=True):
            if math.isnan(c):
                lines.append(f"{subject},{t!r},,1")
            else:
                lines.append(f"{subject},{t!r},{c!r},0")
    return "\n".join(lines) + "\n"


def run(
    times: Sequence[float], concs: Sequence[float], **options: object
) -> tuple[dict[str, float], str, NcaResult]:
    """NCA of one profile: (parameter -> value, notes, full result)."""
    table = read_samples(csv_text({"S1": (times, concs)}))
    result = compute_nca(table.profiles, NcaOptions(**options))  # type: ignore[arg-type]
    return {k: float(v[0]) for k, v in result.values.items()}, result.note_text(0), result


def table_of(profiles: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> SampleTable:
    """The validated sample table of several profiles."""
    return read_samples(csv_text(profiles))
