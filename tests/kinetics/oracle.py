"""A deliberately naive, one-profile-at-a-time reading of spec section 2, in plain Python.

Used as an independent oracle for the vectorised engine in the property tests: loops, lists
and textbook formulas, the BLQ rules applied literally (also inside the [0, end] interval).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

NAN = math.nan


def _area(points: Sequence[tuple[float, float]], until: float, method: str) -> float:
    total = 0.0
    for (t1, c1), (t2, c2) in itertools.pairwise(points):
        if t2 > until:
            break
        if method == "lin-up/log-down" and c1 > c2 > 0:
            # Logarithmic mean via log1p: exact algebra, no cancellation for c1 ~ c2.
            total += (t2 - t1) * (c1 - c2) / math.log1p((c1 - c2) / c2)
        else:
            total += (t2 - t1) * (c1 + c2) / 2
    return total


def _blq_rules(points: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Leading/trailing BLQ as 0, middle BLQ dropped; None or 0 means not measurable."""
    meas = [i for i, (_, c) in enumerate(points) if c is not None and c > 0]
    if not meas:
        return [(t, 0.0) for t, _ in points]
    first, last = meas[0], meas[-1]
    out = []
    for i, (t, c) in enumerate(points):
        if c is not None and c > 0:
            out.append((t, c))
        elif i < first or i > last:
            out.append((t, 0.0))
    return out


def fit(xs: Sequence[float], cs: Sequence[float]) -> tuple[float, float, float, float]:
    """(slope, intercept, r2, adj_r2) of log(conc) on time."""
    k = len(xs)
    ys = [math.log(c) for c in cs]
    mx, my = sum(xs) / k, sum(ys) / k
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else NAN
    adj = 1 - (1 - r2) * (k - 1) / (k - 2)
    return slope, my - slope * mx, r2, adj


def windows(
    times: Sequence[float], concs: Sequence[float | None]
) -> list[tuple[int, float, float, float, float, float]]:
    """(k, slope, intercept, r2, adj, first time) of every candidate terminal window."""
    pts = [(t, c) for t, c in zip(times, concs, strict=True) if t >= 0]
    meas = [(t, c) for t, c in pts if c is not None and c > 0]
    if not meas:
        return []
    cmax = max(c for _, c in meas)
    tmax = next(t for t, c in meas if c == cmax)
    after = [(t, c) for t, c in meas if t > tmax]
    out = []
    for k in range(3, len(after) + 1):
        xs = [t for t, _ in after[-k:]]
        cs = [c for _, c in after[-k:]]
        out.append((k, *fit(xs, cs), xs[0]))
    return out


def nca(
    times: Sequence[float],
    concs: Sequence[float | None],
    method: str = "lin-up/log-down",
    end: float = 28.0,
    tol: float = 1e-4,
) -> dict[str, float]:
    """Every parameter of spec section 3 for one profile (None conc = BLQ)."""
    out = dict.fromkeys(
        [
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
        ],
        NAN,
    )
    pts = [(t, c) for t, c in zip(times, concs, strict=True) if t >= 0]
    if not pts:
        return out
    meas = [(t, c) for t, c in pts if c is not None and c > 0]
    kept = _blq_rules(pts)
    in_interval = [(t, c) for t, c in pts if t <= end]
    kept_in = _blq_rules(in_interval)
    meas_in = [t for t, c in in_interval if c is not None and c > 0]
    if pts[0][0] == 0:
        out["auc_0_28"] = _area(kept_in, meas_in[-1], method) if meas_in else 0.0
    if not meas:
        out["auclast"] = 0.0
        return out
    cmax = max(c for _, c in meas)
    tlast, clast = meas[-1]
    out.update(
        cmax=cmax,
        tmax=next(t for t, c in meas if c == cmax),
        tlast=tlast,
        clast_obs=clast,
        auclast=_area(kept, tlast, method),
    )
    wins = [w for w in windows(times, concs) if not math.isnan(w[4])]
    if not wins:
        return out
    best = max(w[4] for w in wins)
    ok = [w for w in wins if -w[1] > 0 and w[4] > best - tol]
    if not ok:
        return out
    k, slope, intercept, r2, adj, first = max(ok, key=lambda w: w[0])
    lam = -slope
    out.update(
        lambda_z=lam,
        half_life=math.log(2) / lam,
        r_squared=r2,
        adj_r_squared=adj,
        lambda_z_n_points=float(k),
        lambda_z_time_first=first,
        lambda_z_time_last=tlast,
        span_ratio=(tlast - first) / (math.log(2) / lam),
        clast_pred=math.exp(intercept + slope * tlast),
        aucinf_obs=out["auclast"] + clast / lam,
    )
    return out


def near_tie(times: Sequence[float], concs: Sequence[float | None], tol: float = 1e-4) -> bool:
    """True when selection hinges on rounding: a slope ~0 or an adj R2 ~ at the threshold."""
    wins = [w for w in windows(times, concs) if not math.isnan(w[4])]
    if not wins:
        return False
    best = max(w[4] for w in wins)
    return any(abs(w[1]) < 1e-9 or abs(w[4] - (best - tol)) < 1e-9 for w in wins)
