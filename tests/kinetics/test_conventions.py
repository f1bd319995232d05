"""Each NCA convention of spec section 2, on small profiles with hand-computed answers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from nmocart.kinetics.nca import LAMBDA_Z_DERIVED, NcaOptions, Profiles, compute_nca

from .helpers import BLQ, run, table_of

LN2 = math.log(2.0)


def log_trap(t1: float, t2: float, c1: float, c2: float) -> float:
    return (t2 - t1) * (c1 - c2) / math.log(c1 / c2)


def lin_trap(t1: float, t2: float, c1: float, c2: float) -> float:
    return (t2 - t1) * (c1 + c2) / 2


def test_leading_blq_counts_as_zero() -> None:
    v, _, _ = run([0, 1, 2, 4], [BLQ, 10, 5, 2.5])
    # 0 -> 10 linear (rising from the kept zero), then two halvings on the log trapezoid.
    expected = lin_trap(0, 1, 0, 10) + log_trap(1, 2, 10, 5) + log_trap(2, 4, 5, 2.5)
    assert v["auclast"] == pytest.approx(expected, rel=1e-12)
    assert v["auclast"] == pytest.approx(5 + 5 / LN2 + 5 / LN2, rel=1e-12)


def test_middle_blq_is_dropped_not_zero() -> None:
    v, notes, _ = run([0, 1, 2, 3, 4], [BLQ, 10, BLQ, 5, 2.5])
    # The day-2 BLQ drops out: one log segment from day 1 straight to day 3.
    expected = lin_trap(0, 1, 0, 10) + log_trap(1, 3, 10, 5) + log_trap(3, 4, 5, 2.5)
    assert v["auclast"] == pytest.approx(expected, rel=1e-12)
    assert v["tlast"] == 4
    # Only days 3 and 4 follow Tmax as measurable samples: no terminal phase.
    assert math.isnan(v["lambda_z"])
    assert "only 2 measurable sample(s) after Tmax" in notes


def test_trailing_blq_ends_the_area_at_tlast() -> None:
    v, notes, res = run([0, 1, 2, 3, 4, 5], [BLQ, 10, 8, 4, 2, BLQ])
    expected = lin_trap(0, 1, 0, 10) + log_trap(1, 2, 10, 8) + log_trap(2, 3, 8, 4) + log_trap(3, 4, 4, 2)
    assert v["auclast"] == pytest.approx(expected, rel=1e-12)
    assert (v["tlast"], v["clast_obs"]) == (4, 2)
    # Days 2, 3, 4 halve each day: lambda_z = ln 2, half-life 1 day, exact fit.
    assert v["lambda_z"] == pytest.approx(LN2, rel=1e-12)
    assert v["half_life"] == pytest.approx(1.0, rel=1e-12)
    assert v["r_squared"] == pytest.approx(1.0, rel=1e-12)
    assert v["lambda_z_n_points"] == 3
    assert v["aucinf_obs"] == pytest.approx(expected + 2 / LN2, rel=1e-12)
    assert v["clast_pred"] == pytest.approx(2.0, rel=1e-12)
    assert v["span_ratio"] == pytest.approx(2.0, rel=1e-12)
    assert notes == ""
    assert not res.measurable_at_last_sample[0]


def test_linear_option_uses_linear_trapezoids_throughout() -> None:
    v, _, _ = run([0, 1, 2, 4], [BLQ, 10, 5, 2.5], auc_method="linear")
    assert v["auclast"] == pytest.approx(5 + 7.5 + 7.5, rel=1e-12)


def test_blq_before_day_28_with_later_reexpansion() -> None:
    # Measurable to day 21, BLQ on day 28, measurable again on day 90.
    times = [0, 7, 14, 21, 28, 90]
    concs = [BLQ, 1000, 400, 100, BLQ, 50]
    v, _, _ = run(times, concs)
    # Within [0, 28] the day-28 BLQ is trailing: the area ends at day 21.
    part = lin_trap(0, 7, 0, 1000) + log_trap(7, 14, 1000, 400) + log_trap(14, 21, 400, 100)
    assert v["auc_0_28"] == pytest.approx(part, rel=1e-12)
    # Over the whole profile it is a middle BLQ: dropped, day 21 joins day 90 directly.
    assert v["auclast"] == pytest.approx(part + log_trap(21, 90, 100, 50), rel=1e-12)
    assert v["tlast"] == 90


def test_all_blq_before_day_28_gives_zero_partial_area() -> None:
    v, _, _ = run([0, 7, 14, 28, 90, 180], [BLQ, BLQ, BLQ, BLQ, 60, 30])
    assert v["auc_0_28"] == 0
    expected = lin_trap(28, 90, 0, 60) + log_trap(90, 180, 60, 30)
    assert v["auclast"] == pytest.approx(expected, rel=1e-12)
    assert v["tmax"] == 90


def test_partial_area_needs_a_sample_at_time_zero() -> None:
    v, notes, _ = run([1, 4, 7, 14], [100, 1000, 500, 100])
    assert math.isnan(v["auc_0_28"])
    assert "auc_0_28: no sample at time 0 (first at 1)" in notes
    # AUClast runs from the first sample.
    expected = lin_trap(1, 4, 100, 1000) + log_trap(4, 7, 1000, 500) + log_trap(7, 14, 500, 100)
    assert v["auclast"] == pytest.approx(expected, rel=1e-12)


def test_pre_infusion_samples_are_not_used() -> None:
    with_pre, notes, _ = run([-1, 0, 1, 2], [80, BLQ, 10, 5])
    without, _, _ = run([0, 1, 2], [BLQ, 10, 5])
    assert with_pre["cmax"] == 10
    assert with_pre["auclast"] == without["auclast"]
    assert "1 pre-infusion sample(s) at time < 0 not used" in notes


def test_fewer_than_three_points_after_tmax() -> None:
    v, notes, _ = run([0, 1, 2, 3], [BLQ, 10, 5, 2.5])
    for name in LAMBDA_Z_DERIVED:
        assert math.isnan(v[name]), name
    assert "only 2 measurable sample(s) after Tmax; the terminal phase needs 3" in notes
    for name in LAMBDA_Z_DERIVED:
        assert name in notes.split(":")[0]
    # Everything not derived from lambda_z is still there.
    assert v["auclast"] == pytest.approx(5 + 5 / LN2 + 2.5 / LN2, rel=1e-12)


def test_rising_tail_is_not_estimable() -> None:
    # After the peak the tail climbs again; the best-fitting window rises.
    v, notes, _ = run([0, 1, 2, 3, 4, 5, 6], [BLQ, 100, 50, 25, 20, 30, 40])
    assert math.isnan(v["lambda_z"])
    assert math.isnan(v["aucinf_obs"])
    assert "terminal phase not declining" in notes


def _adj_r2(xs: Sequence[float], cs: Sequence[float]) -> float:
    """Textbook adjusted R-squared of log(conc) on time."""
    k = len(xs)
    ys = [math.log(c) for c in cs]
    mx, my = sum(xs) / k, sum(ys) / k
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    return 1 - (1 - sxy * sxy / (sxx * syy)) * (k - 1) / (k - 2)


@pytest.mark.parametrize(("bump", "n_points"), [(1.001, 5), (1.2, 4)])
def test_longest_window_within_the_adjusted_r_squared_tolerance(bump: float, n_points: int) -> None:
    # Days 3-6 halve exactly (adj R2 = 1); day 2 is off by a factor `bump`.
    times = [0, 1, 2, 3, 4, 5, 6]
    concs = [BLQ, 100, 80 * bump, 40, 20, 10, 5]
    within = _adj_r2([2, 3, 4, 5, 6], concs[2:]) > 1 - 1e-4
    assert within == (n_points == 5)  # the test data do what they claim
    v, _, _ = run(times, concs)
    assert v["lambda_z_n_points"] == n_points


def _slope(xs: Sequence[float], cs: Sequence[float]) -> float:
    ys = [math.log(c) for c in cs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return num / sum((x - mx) ** 2 for x in xs)


def test_best_window_rising_blocks_falling_windows_outside_the_tolerance() -> None:
    # Days 4-6 rise exactly geometrically (adj R2 = 1, lambda_z < 0); the windows from day 2
    # or 3 fall but fit worse. The best is taken over all windows whatever their slope, so
    # no falling window is within 1e-4 of it and lambda_z is not estimable.
    times = [0, 1, 2, 3, 4, 5, 6]
    concs = [BLQ, 1000, 500, 250, 125, 126, 127.008]
    assert _slope([4, 5, 6], concs[4:]) > 0
    for first in (2, 3):
        assert _slope(times[first:], concs[first:]) < 0
        assert _adj_r2(times[first:], concs[first:]) < 1 - 1e-4
    v, notes, _ = run(times, concs)
    assert math.isnan(v["lambda_z"])
    assert "terminal phase not declining" in notes


def test_ties_at_cmax_take_the_first_time() -> None:
    v, _, _ = run([0, 1, 2, 3, 4, 5], [BLQ, 10, 10, 5, 2.5, 1.25])
    assert (v["cmax"], v["tmax"]) == (10, 1)
    # The second 10 (day 2) is after Tmax and belongs to the terminal windows; days 2-5 halve
    # exactly, as do days 3-5, so the window with the most points (4) is taken.
    assert v["lambda_z_n_points"] == 4
    assert v["lambda_z_time_first"] == 2
    assert v["lambda_z"] == pytest.approx(LN2, rel=1e-12)


def test_single_measurable_sample() -> None:
    v, notes, _ = run([0, 1, 2, 3], [BLQ, 50, BLQ, BLQ])
    assert (v["cmax"], v["tmax"], v["tlast"], v["clast_obs"]) == (50, 1, 1, 50)
    assert v["auclast"] == pytest.approx(25.0, rel=1e-12)
    assert v["auc_0_28"] == pytest.approx(25.0, rel=1e-12)
    assert math.isnan(v["half_life"])
    assert "only 0 measurable sample(s) after Tmax" in notes


def test_no_measurable_sample() -> None:
    v, notes, _ = run([0, 7, 14], [BLQ, BLQ, BLQ])
    for name in ("cmax", "tmax", "tlast", "clast_obs", "lambda_z", "aucinf_obs"):
        assert math.isnan(v[name]), name
    assert v["auclast"] == 0
    assert v["auc_0_28"] == 0
    assert "no measurable sample (all BLQ)" in notes


def test_flat_tail_is_not_estimable() -> None:
    v, notes, _ = run([0, 1, 2, 3, 4], [BLQ, 100, 20, 20, 20])
    assert math.isnan(v["lambda_z"])
    assert "all equal" in notes


def test_adjusted_r_squared_formula_and_selection() -> None:
    times = [0, 1, 2, 3, 4, 5]
    concs = [BLQ, 100, 61, 35, 21, 12]
    v, _, _ = run(times, concs)
    # Independent least squares on each candidate window (numpy-free, textbook formulas).
    fits = []
    for k in (3, 4):
        xs = times[-k:]
        ys = [math.log(c) for c in concs[-k:]]
        mx, my = sum(xs) / k, sum(ys) / k
        sxx = sum((x - mx) ** 2 for x in xs)
        sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        syy = sum((y - my) ** 2 for y in ys)
        r2 = sxy * sxy / (sxx * syy)
        fits.append((k, -sxy / sxx, r2, 1 - (1 - r2) * (k - 1) / (k - 2)))
    best = max(f[3] for f in fits)
    chosen = max((f for f in fits if f[1] > 0 and f[3] > best - 1e-4), key=lambda f: f[0])
    assert v["lambda_z_n_points"] == chosen[0]
    assert v["lambda_z"] == pytest.approx(chosen[1], rel=1e-10)
    assert v["r_squared"] == pytest.approx(chosen[2], rel=1e-10)
    assert v["adj_r_squared"] == pytest.approx(chosen[3], rel=1e-10)


def test_profiles_do_not_leak_into_each_other() -> None:
    a = ([0, 1, 2, 3, 4], [BLQ, 10, 8, 4, 2])
    b = ([0, 2, 5, 9, 20, 40, 60, 90], [BLQ, 300, 900, 200, 50, 30, 10, 5])
    together = compute_nca(table_of({"A": a, "B": b}).profiles)
    for i, prof in enumerate((a, b)):
        alone = compute_nca(table_of({"X": prof}).profiles)
        for name, values in together.values.items():
            assert values[i] == pytest.approx(alone.values[name][0], rel=1e-12, nan_ok=True), name


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="auc_method"):
        NcaOptions(auc_method="log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_points"):
        NcaOptions(min_points=2)


def test_engine_rejects_unsorted_samples() -> None:
    import numpy as np

    with pytest.raises(ValueError, match="sorted"):
        Profiles(
            n=1,
            profile=np.array([0, 0], dtype=np.intp),
            time=np.array([2.0, 1.0]),
            conc=np.array([1.0, 2.0]),
            measurable=np.array([True, True]),
        )


def test_only_pre_infusion_samples() -> None:
    v, notes, _ = run([-2, -1], [5, 3])
    assert all(math.isnan(x) for x in v.values())
    assert "no sample at or after time 0" in notes


def test_log_trapezoid_is_accurate_for_nearly_equal_concentrations() -> None:
    # c1/c2 = 1 + 2e-16: the naive (c1 - c2) / ln(c1 / c2) is off by ~20% here; the area of a
    # segment whose ends are equal to 16 digits is the rectangle to 1e-15.
    c2 = 0.01
    c1 = math.nextafter(c2, 1.0)
    v, _, _ = run([0, 0.25], [c1, c2])
    assert v["auclast"] == pytest.approx(0.25 * c2, rel=1e-12)
