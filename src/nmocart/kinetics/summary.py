"""Descriptive statistics of each NCA parameter per analyte (spec section 3).

n, arithmetic mean, SD, geometric mean, geometric CV% (sqrt(exp(s^2) - 1) x 100 with s the
SD of the logs), median, min and max, over the profiles where the parameter is estimable.
Geometric statistics need every value > 0; otherwise they are left empty.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from nmocart.kernel.csv_cells import csv_row
from nmocart.kinetics.nca import PARAMETERS, NcaResult
from nmocart.kinetics.samples import SampleTable
from nmocart.kinetics.table import TIME_UNIT, format_number, parameter_unit

SUMMARY_COLUMNS = (
    "analyte",
    "parameter",
    "unit",
    "n",
    "mean",
    "sd",
    "geomean",
    "geocv_pct",
    "median",
    "min",
    "max",
)


@dataclass(frozen=True)
class SummaryRow:
    """Statistics of one parameter of one analyte (NaN where undefined, e.g. SD with n = 1)."""

    analyte: str
    parameter: str
    unit: str
    n: int
    mean: float
    sd: float
    geomean: float
    geocv_pct: float
    median: float
    min: float
    max: float


def describe(values: np.ndarray[tuple[int], np.dtype[np.float64]]) -> tuple[float, ...]:
    """(mean, sd, geomean, geocv_pct, median, min, max) of the finite values; NaN if none."""
    x = values[np.isfinite(values)]
    nan = math.nan
    if x.size == 0:
        return (nan,) * 7
    mean = float(np.mean(x))
    sd = float(np.std(x, ddof=1)) if x.size > 1 else nan
    if bool(np.all(x > 0)):
        logs = np.log(x)
        geomean = float(np.exp(np.mean(logs)))
        s = float(np.std(logs, ddof=1)) if x.size > 1 else nan
        geocv = math.sqrt(math.expm1(s * s)) * 100.0 if x.size > 1 else nan
    else:
        geomean = geocv = nan
    return (mean, sd, geomean, geocv, float(np.median(x)), float(x.min()), float(x.max()))


def summarise(samples: SampleTable, result: NcaResult) -> list[SummaryRow]:
    """One row per analyte (in order of appearance) and parameter (in column order)."""
    analytes = list(dict.fromkeys(samples.analyte))
    labels = np.array(samples.analyte, dtype=object)
    rows: list[SummaryRow] = []
    for analyte in analytes:
        mask = labels == analyte
        unit = samples.unit[int(np.flatnonzero(mask)[0])]
        for p in PARAMETERS:
            v = result.values[p][mask]
            stats = describe(v)
            n = int(np.isfinite(v).sum())
            rows.append(SummaryRow(analyte, p, parameter_unit(p, unit, TIME_UNIT), n, *stats))
    return rows


def summary_csv(rows: list[SummaryRow]) -> str:
    """The summary as CSV text, numbers with 12 significant digits, empty where undefined."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_row(SUMMARY_COLUMNS))
    for r in rows:
        stats = (r.mean, r.sd, r.geomean, r.geocv_pct, r.median, r.min, r.max)
        writer.writerow(csv_row([r.analyte, r.parameter, r.unit, r.n, *(format_number(s) for s in stats)]))
    return buf.getvalue()
