"""Property tests: the vectorised engine against a naive oracle, and NCA invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nmocart.kinetics.nca import AucMethod, NcaOptions, NcaResult, Profiles, compute_nca

from . import oracle

Profile = tuple[list[float], list[float | None]]


@st.composite
def profiles(draw: st.DrawFn, start_at_zero: bool = True) -> Profile:
    """Sorted unique times on a 0.25-day grid from 0 and concs, ~25% BLQ (None)."""
    n = draw(st.integers(1, 12))
    steps = draw(st.lists(st.integers(1, 120), min_size=n - 1, max_size=n - 1))
    t0 = 0.0 if start_at_zero else draw(st.sampled_from([0.0, 0.5, 3.0]))
    times = [t0]
    for s in steps:
        times.append(times[-1] + s / 4)
    concs: list[float | None] = [
        draw(
            st.one_of(
                st.none(),
                st.floats(0.01, 1e5, allow_nan=False),
                st.floats(0.01, 1e5, allow_nan=False),
                st.floats(0.01, 1e5, allow_nan=False),
            )
        )
        for _ in times
    ]
    return times, concs


def engine_result(batch: list[Profile], method: AucMethod = "lin-up/log-down") -> NcaResult:
    prof, t, c, m = [], [], [], []
    for i, (times, concs) in enumerate(batch):
        for ti, ci in zip(times, concs, strict=True):
            prof.append(i)
            t.append(ti)
            c.append(0.0 if ci is None else ci)
            m.append(ci is not None and ci > 0)
    return compute_nca(
        Profiles(
            n=len(batch),
            profile=np.array(prof, dtype=np.intp),
            time=np.array(t, dtype=np.float64),
            conc=np.array(c, dtype=np.float64),
            measurable=np.array(m, dtype=np.bool_),
        ),
        NcaOptions(auc_method=method),
    )


def engine(batch: list[Profile], method: AucMethod = "lin-up/log-down") -> list[dict[str, float]]:
    res = engine_result(batch, method)
    return [{k: float(v[i]) for k, v in res.values.items()} for i in range(len(batch))]


@settings(max_examples=200, deadline=None)
@given(st.lists(profiles(start_at_zero=False), min_size=1, max_size=6))
def test_every_missing_value_has_a_reason(batch: list[Profile]) -> None:
    res = engine_result(batch)
    for i in range(res.n):
        named = {name for names, _ in res.notes[i] for name in names}
        missing = {k for k, v in res.values.items() if math.isnan(v[i])}
        assert missing <= named, (missing - named, res.note_text(i))
        assert all(reason for _, reason in res.notes[i])


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.lists(profiles(start_at_zero=False), min_size=1, max_size=6), st.booleans())
def test_engine_matches_the_naive_oracle(batch: list[Profile], linear: bool) -> None:
    assume(not any(oracle.near_tie(t, c) for t, c in batch))
    method: AucMethod = "linear" if linear else "lin-up/log-down"
    for got, (t, c) in zip(engine(batch, method), batch, strict=True):
        want = oracle.nca(t, c, method)
        for name, value in want.items():
            assert close(got[name], value), (name, got[name], value)


@settings(max_examples=150, deadline=None)
@given(profiles())
def test_linear_area_is_never_below_lin_up_log_down(profile: Profile) -> None:
    (lin,) = engine([profile], "linear")
    (log,) = engine([profile], "lin-up/log-down")
    for name in ("auclast", "auc_0_28"):
        assert lin[name] >= log[name] * (1 - 1e-12), name


@settings(max_examples=150, deadline=None)
@given(profiles(), st.sampled_from([1e-3, 0.5, 3.0, 1e4]))
def test_scaling_concentrations(profile: Profile, k: float) -> None:
    times, concs = profile
    scaled = [None if c is None else c * k for c in concs]
    assume(not oracle.near_tie(times, concs) and not oracle.near_tie(times, scaled))
    (a,) = engine([profile])
    (b,) = engine([(times, scaled)])
    for name in ("cmax", "clast_obs", "auclast", "auc_0_28", "aucinf_obs", "clast_pred"):
        assert close(b[name], a[name] * k, rel=1e-8), name
    for name in ("tmax", "tlast", "lambda_z", "half_life", "lambda_z_n_points"):
        assert close(b[name], a[name], rel=1e-8), name


@settings(max_examples=150, deadline=None)
@given(profiles(), st.integers(1, 200))
def test_shifting_time(profile: Profile, shift_quarters: int) -> None:
    times, concs = profile
    d = shift_quarters / 4
    shifted = [t + d for t in times]
    assume(not oracle.near_tie(times, concs))
    (a,) = engine([profile])
    (b,) = engine([(shifted, concs)])
    for name in ("cmax", "auclast", "lambda_z", "half_life", "aucinf_obs", "lambda_z_n_points"):
        assert close(b[name], a[name], rel=1e-7), name
    for name in ("tmax", "tlast", "lambda_z_time_first"):
        assert close(b[name], a[name] + d, rel=1e-12), name
    # Without a sample at time 0 the partial area is not extrapolated back.
    assert math.isnan(b["auc_0_28"])


@settings(max_examples=100, deadline=None)
@given(st.lists(profiles(), min_size=2, max_size=8))
def test_each_profile_is_independent_of_the_batch(batch: list[Profile]) -> None:
    together = engine(batch)
    for got, profile in zip(together, batch, strict=True):
        (alone,) = engine([profile])
        for name, value in alone.items():
            assert close(got[name], value, rel=1e-12), name


def test_oracle_agrees_with_hand_calculation() -> None:
    # Guard the oracle itself: the trailing-BLQ example of the convention tests.
    out = oracle.nca([0, 1, 2, 3, 4, 5], [None, 10, 8, 4, 2, None])
    assert out["lambda_z"] == pytest.approx(math.log(2))
    assert out["auclast"] == pytest.approx(5 + 2 / math.log(1.25) + 4 / math.log(2) + 2 / math.log(2))
