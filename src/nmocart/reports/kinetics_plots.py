"""Kinetics plots (matplotlib, Agg canvas, no pyplot global state).

Individual profiles on a log concentration scale with the LLOQ line and the selected
terminal-phase fit, and the median profile with its interquartile band by nominal day.
PNG output carries no date or software version, so the same input gives the same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from nmocart.kinetics.nca import NcaResult
from nmocart.kinetics.samples import SampleTable
from nmocart.reports.plot_text import literal

MAX_PANELS = 24
"""Individual profiles drawn per analyte (a phase I cohort fits on one page)."""

_PNG_METADATA: dict[str, str | None] = {"Software": None}


def _save(fig: Figure, path: Path) -> Path:
    """Write a PNG without date or software metadata."""
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=100, metadata=_PNG_METADATA)
    return path


def _conc_label(unit: str) -> str:
    """Y-axis label with the concentration unit (or a visible gap when the file has none)."""
    return f"Concentration ({literal(unit)})" if unit else "Concentration (unit not given)"


TIME_LABEL = "Time since infusion (day)"


def _indices(samples: SampleTable, analyte: str) -> list[int]:
    """Profile indices of one analyte, in table order."""
    return [i for i, a in enumerate(samples.analyte) if a == analyte]


def _lloq(samples: SampleTable, idx: list[int]) -> float:
    """The LLOQ line to draw: the largest stated LLOQ of these profiles (NaN if none)."""
    vals = samples.lloq[idx]
    vals = vals[np.isfinite(vals)]
    return float(vals.max()) if vals.size else math.nan


def _profile(samples: SampleTable, i: int) -> tuple[NDArray[np.float64], ...]:
    """(time, conc, measurable as 0/1) of profile ``i``."""
    p = samples.profiles
    sel = p.profile == i
    return p.time[sel], p.conc[sel], p.measurable[sel].astype(np.float64)


def plot_individual(samples: SampleTable, result: NcaResult, analyte: str, path: Path) -> Path:
    """Small multiples of each profile (log scale), LLOQ dashed, terminal fit in red."""
    idx = _indices(samples, analyte)
    shown = idx[:MAX_PANELS]
    ncols = min(4, max(1, len(shown)))
    nrows = max(1, math.ceil(len(shown) / ncols))
    fig = Figure(figsize=(max(4.2 * ncols, 6.0), 3.2 * nrows + 1.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    unit = samples.unit[idx[0]] if idx else ""
    lloq = _lloq(samples, idx)
    positive = samples.profiles.conc[samples.profiles.conc > 0]
    floor = lloq / 3 if math.isfinite(lloq) else (positive.min() / 3 if positive.size else 0.1)
    lz = result.values["lambda_z"]
    handles: dict[str, Artist] = {}
    for k, ax in enumerate(axes.flat):
        if k >= len(shown):
            ax.set_visible(False)
            continue
        i = shown[k]
        t, c, m = _profile(samples, i)
        meas = m > 0
        (line,) = ax.plot(t[meas], c[meas], "o-", color="#1f4e79", ms=4, lw=1.2)
        handles["measured"] = line
        if np.any(~meas):
            blq = ax.scatter(t[~meas], np.full(int((~meas).sum()), floor), marker="v", color="#888888", s=18)
            handles["BLQ (drawn below LLOQ)"] = blq
        if math.isfinite(lloq):
            ll = ax.axhline(lloq, ls="--", color="#b22222", lw=1)
            handles[literal(f"LLOQ {lloq:g} {unit}".strip())] = ll
        if math.isfinite(lz[i]):
            t0 = result.values["lambda_z_time_first"][i]
            t1 = result.values["lambda_z_time_last"][i]
            tt = np.linspace(t0, t1, 50)
            cc = result.values["clast_pred"][i] * np.exp(-lz[i] * (tt - t1))
            (fit,) = ax.plot(tt, cc, "-", color="#e67e22", lw=2.5, alpha=0.85)
            handles["terminal-phase fit"] = fit
            ax.text(
                0.97,
                0.95,
                f"t½ = {result.values['half_life'][i]:.3g} d\n"
                f"adj R² = {result.values['adj_r_squared'][i]:.4f}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=8,
            )
        else:
            ax.text(
                0.97,
                0.95,
                "λz not estimable",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=8,
            )
        ax.set_yscale("log")
        ax.set_title(literal(f"subject {samples.subject[i]}"), fontsize=10)
        ax.set_xlabel(TIME_LABEL, fontsize=8)
        ax.set_ylabel(_conc_label(unit), fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
    more = f" (first {len(shown)} of {len(idx)})" if len(idx) > len(shown) else ""
    fig.suptitle(literal(f"{analyte}: individual profiles{more}"), fontsize=12)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncols=4 if ncols >= 3 else 2,
        fontsize=9,
    )
    return _save(fig, path)


def nominal_day(time: NDArray[np.float64]) -> NDArray[np.float64]:
    """Nominal visit day of an actual sample time: the nearest whole day."""
    return np.asarray(np.rint(time), dtype=np.float64)


def median_profile(
    samples: SampleTable, analyte: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(nominal day, Q1, median, Q3) over the profiles of an analyte; BLQ counts as 0."""
    idx = np.array(_indices(samples, analyte), dtype=np.intp)
    p = samples.profiles
    sel = np.isin(p.profile, idx) & (p.time >= 0)
    day = nominal_day(p.time[sel])
    conc = p.conc[sel]
    days = np.unique(day)
    q = np.array([np.percentile(conc[day == d], [25, 50, 75]) for d in days]).reshape(-1, 3)
    return days, q[:, 0], q[:, 1], q[:, 2]


def plot_median(samples: SampleTable, analyte: str, path: Path) -> Path:
    """Median and interquartile band by nominal day: days 0-28 and the whole follow-up."""
    idx = _indices(samples, analyte)
    unit = samples.unit[idx[0]] if idx else ""
    lloq = _lloq(samples, idx)
    days, q1, med, q3 = median_profile(samples, analyte)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, (lo, hi, title) in zip(
        axes, ((0.0, 28.0, "days 0-28"), (0.0, math.inf, "whole follow-up")), strict=True
    ):
        sel = (days >= lo) & (days <= hi)
        d = days[sel]
        band_lo = np.where(q1[sel] > 0, q1[sel], np.nan)
        band_hi = np.where(q3[sel] > 0, q3[sel], np.nan)
        m = np.where(med[sel] > 0, med[sel], np.nan)
        ax.fill_between(d, band_lo, band_hi, color="#1f4e79", alpha=0.2, label="interquartile range")
        ax.plot(d, m, "o-", color="#1f4e79", ms=4, label="median")
        if math.isfinite(lloq):
            ax.axhline(lloq, ls="--", color="#b22222", lw=1, label=literal(f"LLOQ {lloq:g} {unit}".strip()))
        ax.set_yscale("log")
        ax.set_xlabel("Nominal day since infusion (day)")
        ax.set_ylabel(_conc_label(unit))
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(
        literal(
            f"{analyte}: median and interquartile range by nominal day (n = {len(idx)}; "
            "BLQ counted as 0, not drawn)"
        ),
        fontsize=11,
    )
    return _save(fig, path)
