"""Vectorised non-compartmental analysis (NCA) of many concentration-time profiles at once.

The engine follows PKNCA's default conventions (kinetics spec section 2) so that results can
be compared one to one with PKNCA and Phoenix WinNonlin. Every profile (one subject and
analyte) is padded into a row of 2-D arrays, so each step is one numpy operation over all
profiles; the terminal-phase search accumulates the least-squares sums of every candidate
window (the last k measurable samples after Tmax) with a Welford update per window size.

Pure domain core: arrays in, arrays out; no I/O, no printing, no global state. The engine is
unit-agnostic in time and concentration: areas are in conc x time, lambda_z in 1/time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

AucMethod = Literal["lin-up/log-down", "linear"]
AUC_METHODS: tuple[AucMethod, ...] = ("lin-up/log-down", "linear")

PARAMETERS: tuple[str, ...] = (
    "cmax",
    "tmax",
    "tlast",
    "clast_obs",
    "auc_0_28",
    "auclast",
    "lambda_z",
    "half_life",
    "r_squared",
    "adj_r_squared",
    "lambda_z_n_points",
    "lambda_z_time_first",
    "lambda_z_time_last",
    "span_ratio",
    "clast_pred",
    "aucinf_obs",
)
"""The numeric per-profile parameters of spec section 3, in column order."""

LAMBDA_Z_DERIVED: tuple[str, ...] = PARAMETERS[PARAMETERS.index("lambda_z") :]
"""The parameters that exist only when a terminal phase is selected (spec section 3 puts them last)."""


@dataclass(frozen=True)
class NcaOptions:
    """Calculation options, named after PKNCA's (``PKNCA.options``) where one exists.

    auc_method: ``lin-up/log-down`` (log trapezoid on falling segments with both ends > 0,
        PKNCA ``auc.method = "lin up/log down"``) or ``linear``.
    auc_interval_end: end of the partial area reported as ``auc_0_28`` (28 days by protocol;
        the engine is unit-agnostic, so a Theoph run in hours can set it freely).
    adj_r2_tolerance: a terminal window is selectable when its adjusted R-squared is above the
        best one minus this (PKNCA ``adj.r.squared.factor``).
    min_points: fewest points in a terminal window (PKNCA ``min.hl.points``).
    """

    auc_method: AucMethod = "lin-up/log-down"
    auc_interval_end: float = 28.0
    adj_r2_tolerance: float = 1e-4
    min_points: int = 3

    def __post_init__(self) -> None:
        """Reject options that would make the conventions meaningless."""
        if self.auc_method not in AUC_METHODS:
            raise ValueError(f"auc_method must be one of {', '.join(AUC_METHODS)}")
        if not (math.isfinite(self.auc_interval_end) and self.auc_interval_end > 0):
            raise ValueError("auc_interval_end must be a positive finite number")
        if not (math.isfinite(self.adj_r2_tolerance) and self.adj_r2_tolerance >= 0):
            raise ValueError("adj_r2_tolerance must be a finite number >= 0")
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3 (adjusted R-squared needs k > 2)")


@dataclass(frozen=True)
class Profiles:
    """Samples of ``n`` profiles as flat arrays sorted by (profile, time).

    ``profile`` holds each sample's profile index 0..n-1 (non-decreasing); times are unique
    within a profile; ``conc`` is 0 where ``measurable`` is False (BLQ or a measured 0).
    """

    n: int
    profile: IntArray
    time: FloatArray
    conc: FloatArray
    measurable: BoolArray

    def __post_init__(self) -> None:
        """Check the invariants the engine relies on (a programming error if broken)."""
        size = self.profile.shape[0]
        if not (self.time.shape[0] == self.conc.shape[0] == self.measurable.shape[0] == size):
            raise ValueError("profile, time, conc and measurable must have the same length")
        if size and (self.profile.min() < 0 or self.profile.max() >= self.n):
            raise ValueError("profile indices must lie in 0..n-1")
        if size > 1:
            same = self.profile[1:] == self.profile[:-1]
            if np.any(self.profile[1:] < self.profile[:-1]) or np.any(
                same & (self.time[1:] <= self.time[:-1])
            ):
                raise ValueError("samples must be sorted by profile, then by strictly rising time")
        if not (np.all(np.isfinite(self.time)) and np.all(np.isfinite(self.conc))):
            raise ValueError("time and conc must be finite")
        if np.any(self.conc < 0):
            raise ValueError("conc must be >= 0")


@dataclass(frozen=True)
class NcaResult:
    """Per-profile parameters (NaN = not estimable) and the reasons for every NaN.

    ``values[name]`` is a float array of length ``n`` for each name in ``PARAMETERS``;
    ``notes[i]`` lists ``(parameters, reason)`` pairs for profile ``i``;
    ``measurable_at_last_sample`` says whether the last sample was still measurable
    (persistence, spec section 2).
    """

    n: int
    values: dict[str, FloatArray]
    notes: tuple[tuple[tuple[tuple[str, ...], str], ...], ...]
    measurable_at_last_sample: BoolArray
    options: NcaOptions = field(default_factory=NcaOptions)

    def note_text(self, i: int) -> str:
        """The notes of profile ``i`` as one line: ``a, b: reason; c: reason``."""
        return "; ".join(f"{', '.join(names)}: {reason}" for names, reason in self.notes[i])


@dataclass(frozen=True)
class _Padded:
    """Profiles padded into (n, width) arrays; padding has valid False."""

    time: FloatArray
    conc: FloatArray
    measurable: BoolArray
    valid: BoolArray


def _pad(profiles: Profiles, keep: BoolArray) -> _Padded:
    """Scatter the kept samples of each profile into its own row, left-aligned in time order."""
    prof = profiles.profile[keep]
    counts = np.bincount(prof, minlength=profiles.n)
    width = max(int(counts.max()) if counts.size else 0, 1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(prof.shape[0]) - starts[prof]
    time = np.full((profiles.n, width), np.nan)
    conc = np.zeros((profiles.n, width))
    meas = np.zeros((profiles.n, width), dtype=bool)
    valid = np.zeros((profiles.n, width), dtype=bool)
    time[prof, pos] = profiles.time[keep]
    conc[prof, pos] = profiles.conc[keep]
    meas[prof, pos] = profiles.measurable[keep]
    valid[prof, pos] = True
    return _Padded(time, conc, meas & valid, valid)


def _last_true(mask: BoolArray) -> IntArray:
    """Column index of the last True in each row (0 where the row has none)."""
    width = mask.shape[1]
    return np.asarray(width - 1 - np.argmax(mask[:, ::-1], axis=1), dtype=np.intp)


def _segment_areas(
    t1: FloatArray, t2: FloatArray, c1: FloatArray, c2: FloatArray, method: AucMethod
) -> FloatArray:
    """Trapezoid areas; log trapezoid where the method says so and c1 > c2 > 0."""
    dt = t2 - t1
    linear = dt * (c1 + c2) / 2.0
    if method == "linear":
        return linear
    down = (c2 < c1) & (c2 > 0)
    # (c1 - c2) / ln(c1 / c2) written as c2 * u / log1p(u) with u = (c1 - c2) / c2: the same
    # value, but accurate when c1 and c2 are nearly equal (c1 - c2 is then exact, and
    # log1p keeps the digits that ln(c1 / c2) loses to rounding of the ratio).
    safe_c2 = np.where(down, c2, 1.0)
    u = np.where(down, (c1 - c2) / safe_c2, 1.0)
    log = dt * safe_c2 * u / np.log1p(u)
    return np.where(down, log, linear)


def _compact(
    mask: BoolArray, *arrays: FloatArray, reverse: bool = False
) -> tuple[BoolArray, list[FloatArray]]:
    """Move the True cells of each row to its front (stable), carrying the given arrays along."""
    src = mask[:, ::-1] if reverse else mask
    order = np.argsort(~src, axis=1, kind="stable")
    moved = []
    for arr in arrays:
        a = arr[:, ::-1] if reverse else arr
        moved.append(np.take_along_axis(a, order, axis=1))
    return np.take_along_axis(src, order, axis=1), moved


@dataclass(frozen=True)
class _Terminal:
    """The selected terminal window of each profile (NaN where none)."""

    lambda_z: FloatArray
    r_squared: FloatArray
    adj_r_squared: FloatArray
    n_points: FloatArray
    time_first: FloatArray
    clast_pred: FloatArray
    n_after_tmax: IntArray
    any_window: BoolArray
    best_adj_slope_positive: BoolArray


def _terminal_phase(
    pad: _Padded, imax: IntArray, tlast: FloatArray, clast: FloatArray, options: NcaOptions
) -> _Terminal:
    """Fit every candidate window at once and select one per profile (spec section 2)."""
    n, width = pad.time.shape
    cols = np.arange(width)
    after = pad.measurable & (cols[None, :] > imax[:, None])
    n_after = after.sum(axis=1).astype(np.intp)
    # Reverse-compact: column j holds the (j+1)-th measurable sample counting back from Tlast.
    cand, (t_rev, c_rev) = _compact(after, pad.time, pad.conc, reverse=True)
    kmax = int(n_after.max()) if n else 0
    shape = (n, max(kmax, 1))
    mean_x = np.zeros(shape)
    mean_y = np.zeros(shape)
    sxx = np.zeros(shape)
    sxy = np.zeros(shape)
    syy = np.zeros(shape)
    mx = np.zeros(n)
    my = np.zeros(n)
    cxx = np.zeros(n)
    cxy = np.zeros(n)
    cyy = np.zeros(n)
    safe_tlast = np.where(np.isfinite(tlast), tlast, 0.0)
    safe_lclast = np.log(np.where(clast > 0, clast, 1.0))
    for j in range(kmax):
        # Welford's update, centred on (Tlast, log Clast) for accuracy; k = j + 1 points.
        active = cand[:, j]
        x = np.where(active, t_rev[:, j] - safe_tlast, 0.0)
        y = np.where(active, np.log(np.where(active, c_rev[:, j], 1.0)) - safe_lclast, 0.0)
        k = j + 1.0
        dx = x - mx
        dy = y - my
        mx_new = mx + dx / k
        my_new = my + dy / k
        cxx_new = cxx + dx * (x - mx_new)
        cxy_new = cxy + dx * (y - my_new)
        cyy_new = cyy + dy * (y - my_new)
        mx = np.where(active, mx_new, mx)
        my = np.where(active, my_new, my)
        cxx = np.where(active, cxx_new, cxx)
        cxy = np.where(active, cxy_new, cxy)
        cyy = np.where(active, cyy_new, cyy)
        mean_x[:, j], mean_y[:, j], sxx[:, j], sxy[:, j], syy[:, j] = mx, my, cxx, cxy, cyy
    kk = np.arange(1, shape[1] + 1, dtype=np.float64)[None, :]
    window = (kk >= options.min_points) & (kk <= n_after[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy / sxx
        r2 = sxy * sxy / (sxx * syy)
        adj = 1.0 - (1.0 - r2) * (kk - 1.0) / (kk - 2.0)
    lam = -slope
    scored = window & np.isfinite(adj)
    best_adj = np.where(scored, adj, -np.inf).max(axis=1)
    selectable = scored & (lam > 0) & (adj > best_adj[:, None] - options.adj_r2_tolerance)
    chosen = selectable.any(axis=1)
    b = _last_true(selectable)
    rows = np.arange(n)
    best_is_falling = np.zeros(n, dtype=bool)
    if n:
        top = np.argmax(np.where(scored, adj, -np.inf), axis=1)
        best_is_falling = lam[rows, top] > 0

    def pick(a: FloatArray) -> FloatArray:
        """The selected window's value per profile, NaN where none is selected."""
        return np.where(chosen, a[rows, b], np.nan)

    lam_b = pick(lam)
    intercept = pick(mean_y) - pick(slope) * pick(mean_x)  # fitted log(C/Clast) at Tlast
    return _Terminal(
        lambda_z=lam_b,
        r_squared=pick(r2),
        adj_r_squared=pick(adj),
        n_points=np.where(chosen, b + 1.0, np.nan),
        time_first=pick(t_rev[:, : shape[1]]) if kmax else np.full(n, np.nan),
        clast_pred=clast * np.exp(intercept),
        n_after_tmax=n_after,
        any_window=scored.any(axis=1),
        best_adj_slope_positive=best_is_falling,
    )


def compute_nca(profiles: Profiles, options: NcaOptions | None = None) -> NcaResult:
    """NCA parameters of every profile (spec section 2), with a reason for each missing one."""
    opts = options if options is not None else NcaOptions()
    n = profiles.n
    pre_infusion = np.bincount(profiles.profile[profiles.time < 0], minlength=n)
    pad = _pad(profiles, profiles.time >= 0)
    width = pad.time.shape[1]
    cols = np.arange(width)
    rows = np.arange(n)
    has: BoolArray = np.asarray(pad.measurable.any(axis=1), dtype=np.bool_)
    n_samples = pad.valid.sum(axis=1)

    # Cmax / Tmax: first time of the largest measured concentration.
    masked = np.where(pad.measurable, pad.conc, -np.inf)
    imax = np.argmax(masked, axis=1).astype(np.intp)
    cmax = np.where(has, pad.conc[rows, imax], np.nan)
    tmax = np.where(has, pad.time[rows, imax], np.nan)
    ifirst = np.argmax(pad.measurable, axis=1)
    ilast = _last_true(pad.measurable)
    tlast = np.where(has, pad.time[rows, ilast], np.nan)
    clast = np.where(has, pad.conc[rows, ilast], np.nan)

    # BLQ rules: leading and trailing non-measurable samples count as 0, middle ones drop out.
    keep = pad.valid & (pad.measurable | (cols[None, :] < ifirst[:, None]) | (cols[None, :] > ilast[:, None]))
    keep = np.where(has[:, None], keep, pad.valid)
    kept, (tk, ck) = _compact(keep, pad.time, pad.conc)
    seg_ok = kept[:, 1:]
    t1, t2 = tk[:, :-1], tk[:, 1:]
    areas = _segment_areas(t1, t2, ck[:, :-1], ck[:, 1:], opts.auc_method)
    with np.errstate(invalid="ignore"):
        in_last = seg_ok & (t2 <= tlast[:, None])
        auclast = np.where(in_last, areas, 0.0).sum(axis=1)
        end = opts.auc_interval_end
        meas_in = pad.measurable & (pad.time <= end)
        has_in = meas_in.any(axis=1)
        tlast_in = np.where(has_in, pad.time[rows, _last_true(meas_in)], -np.inf)
        in_part = seg_ok & (t2 <= tlast_in[:, None])
    auc_part = np.where(in_part, areas, 0.0).sum(axis=1)
    first_time = np.where(n_samples > 0, pad.time[:, 0], np.nan)
    starts_at_zero = first_time == 0.0
    auc_part = np.where(starts_at_zero, auc_part, np.nan)
    auclast = np.where(n_samples > 0, auclast, np.nan)

    term = _terminal_phase(pad, imax, tlast, clast, opts)
    lam = term.lambda_z
    half_life = math.log(2.0) / lam
    time_last = np.where(np.isfinite(lam), tlast, np.nan)
    values: dict[str, FloatArray] = {
        "cmax": cmax,
        "tmax": tmax,
        "tlast": tlast,
        "clast_obs": clast,
        "auc_0_28": auc_part,
        "auclast": auclast,
        "lambda_z": lam,
        "half_life": half_life,
        "r_squared": term.r_squared,
        "adj_r_squared": term.adj_r_squared,
        "lambda_z_n_points": term.n_points,
        "lambda_z_time_first": term.time_first,
        "lambda_z_time_last": time_last,
        "span_ratio": (time_last - term.time_first) / half_life,
        "clast_pred": term.clast_pred,
        "aucinf_obs": auclast + clast / lam,
    }
    last_meas = np.where(n_samples > 0, pad.measurable[rows, np.maximum(n_samples - 1, 0)], False)
    notes = _notes(
        n=n,
        n_samples=n_samples,
        has=has,
        starts_at_zero=starts_at_zero,
        first_time=first_time,
        term=term,
        pre_infusion=pre_infusion,
        options=opts,
    )
    notes = _overflow_notes(values, notes, n_samples=n_samples, has=has, starts_at_zero=starts_at_zero)
    return NcaResult(n, values, notes, np.asarray(last_meas, dtype=np.bool_), opts)


OVERFLOW_REASON = (
    "not finite in double precision: the times or concentrations are so large that a "
    "result overflowed; rescale the units (e.g. copies/ug to copies/ng, days to weeks)"
)
"""The note of a parameter left empty by overflow rather than by a rule of spec section 2."""


def _overflow_notes(
    values: dict[str, FloatArray],
    notes: tuple[tuple[tuple[tuple[str, ...], str], ...], ...],
    *,
    n_samples: IntArray,
    has: BoolArray,
    starts_at_zero: BoolArray,
) -> tuple[tuple[tuple[tuple[str, ...], str], ...], ...]:
    """Add a note for every non-finite parameter that no rule explains: never a silent empty cell.

    The explained ones are exactly those ``_notes`` gives a reason for (no samples, nothing
    measurable, no time-0 sample, no terminal phase); anything else is an overflow.
    """
    n = len(notes)
    explained = dict.fromkeys(PARAMETERS, n_samples == 0)
    for name in ("cmax", "tmax", "tlast", "clast_obs", *LAMBDA_Z_DERIVED):
        explained[name] = explained[name] | ~has
    explained["auc_0_28"] = explained["auc_0_28"] | ~starts_at_zero
    no_terminal = has & ~np.isfinite(values["lambda_z"])
    for name in LAMBDA_Z_DERIVED:
        explained[name] = explained[name] | no_terminal
    unexplained = {name: ~np.isfinite(values[name]) & ~explained[name] for name in PARAMETERS}
    any_bad = np.zeros(n, dtype=bool)
    for mask in unexplained.values():
        any_bad |= mask
    if not any_bad.any():
        return notes
    out = list(notes)
    for i in np.flatnonzero(any_bad).tolist():
        names = tuple(name for name in PARAMETERS if unexplained[name][i])
        out[i] = (*out[i], (names, OVERFLOW_REASON))
    return tuple(out)


def _fmt(x: float) -> str:
    """A short, deterministic rendering of a number inside a note."""
    return format(x, ".6g")


def _notes(
    *,
    n: int,
    n_samples: IntArray,
    has: BoolArray,
    starts_at_zero: BoolArray,
    first_time: FloatArray,
    term: _Terminal,
    pre_infusion: IntArray,
    options: NcaOptions,
) -> tuple[tuple[tuple[tuple[str, ...], str], ...], ...]:
    """The reason for every not-estimable parameter, per profile (loops only over problems)."""
    end = _fmt(options.auc_interval_end)
    problem = (n_samples == 0) | ~has | ~starts_at_zero | ~np.isfinite(term.lambda_z) | (pre_infusion > 0)
    out: list[tuple[tuple[tuple[str, ...], str], ...]] = [()] * n
    for i in np.flatnonzero(problem).tolist():
        items: list[tuple[tuple[str, ...], str]] = []
        if pre_infusion[i]:
            items.append(
                (
                    ("samples",),
                    f"{pre_infusion[i]} pre-infusion sample(s) at time < 0 not used",
                )
            )
        if n_samples[i] == 0:
            items.append((PARAMETERS, "no sample at or after time 0"))
            out[i] = tuple(items)
            continue
        if not has[i]:
            items.append(
                (
                    ("cmax", "tmax", "tlast", "clast_obs", *LAMBDA_Z_DERIVED),
                    "no measurable sample (all BLQ); areas are 0",
                )
            )
        if not starts_at_zero[i]:
            items.append(
                (
                    ("auc_0_28",),
                    f"no sample at time 0 (first at {_fmt(float(first_time[i]))}); the area "
                    f"over [0, {end}] is not extrapolated back to time 0",
                )
            )
        if has[i] and not np.isfinite(term.lambda_z[i]):
            k = int(term.n_after_tmax[i])
            if k < options.min_points:
                reason = (
                    f"only {k} measurable sample(s) after Tmax; the terminal phase needs {options.min_points}"
                )
            elif not term.any_window[i]:
                reason = "the samples after Tmax are all equal; no terminal decline to fit"
            elif not term.best_adj_slope_positive[i]:
                reason = (
                    "terminal phase not declining: the best-fitting window has lambda_z <= 0 "
                    f"and no window with lambda_z > 0 is within {_fmt(options.adj_r2_tolerance)} "
                    "of its adjusted R-squared"
                )
            else:
                reason = "no terminal window with lambda_z > 0"
            items.append((LAMBDA_Z_DERIVED, reason))
        out[i] = tuple(items)
    return tuple(out)
