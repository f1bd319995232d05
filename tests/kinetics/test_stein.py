"""The Stein et al. 2019 synthetic-profile generator."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from nmocart.kinetics import stein
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import read_samples


def test_typical_profile_matches_the_reference_grid(shared_dir: Path) -> None:
    with (shared_dir / "reference/nca/stein_typical_0_28.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([float(r["time"]) for r in rows])
    c = np.array([float(r["conc"]) for r in rows])
    got = stein.concentration(t, stein.typical())[0]
    np.testing.assert_allclose(got, c, rtol=1e-12)


def test_exact_integral_matches_the_readme() -> None:
    # README: the model's exact integral over days 0-28 is 171,774.29.
    assert stein.integral(0, 28, stein.typical())[0] == pytest.approx(171_774.29, abs=0.01)


def test_typical_implied_rates() -> None:
    # README: doubling time 0.78 d, contraction half-life 4.3 d, terminal ~220 d.
    rho = np.log(stein.TYPICAL["foldx"]) / stein.TYPICAL["tmax"]
    assert np.log(2) / rho == pytest.approx(0.78, abs=0.005)
    assert np.log(2) / stein.TYPICAL["alpha"] == pytest.approx(4.3, abs=0.05)
    assert np.log(2) / stein.TYPICAL["beta"] == pytest.approx(217, abs=5)


def test_simulation_is_seeded_and_well_formed() -> None:
    a = stein.to_csv(stein.simulate(50, seed=7))
    b = stein.to_csv(stein.simulate(50, seed=7))
    c = stein.to_csv(stein.simulate(50, seed=8))
    assert a == b
    assert a != c
    table = read_samples(a)
    assert table.profiles.n == 50
    assert table.profiles.time.size == 50 * len(stein.SCHEDULE)
    assert table.unit == ("copies/ug",) * 50
    # The pre-infusion sample is BLQ; measurable values are at or above the LLOQ.
    day0 = table.profiles.time == 0
    assert not table.profiles.measurable[day0].any()
    assert (table.profiles.conc[table.profiles.measurable] >= stein.LLOQ).all()
    result = compute_nca(table.profiles)
    assert np.isfinite(result.values["cmax"]).mean() > 0.9


def test_between_subject_variability_has_the_stated_variance() -> None:
    study = stein.simulate(20_000, seed=3, residual_sd=0.0)
    for name in ("tmax", "cmax", "alpha", "beta"):
        logs = np.log(getattr(study.parameters, name))
        assert np.var(logs) == pytest.approx(stein.OMEGA2[name], rel=0.05), name
        assert np.median(getattr(study.parameters, name)) == pytest.approx(stein.TYPICAL[name], rel=0.05)


def test_residual_error_is_proportional_on_the_log_scale() -> None:
    study = stein.simulate(5_000, seed=11, lloq=1e-12, time_jitter=0.0)
    true = stein.concentration(
        np.asarray(stein.SCHEDULE, dtype=np.float64)[None, :] + np.zeros((5_000, 1)),
        study.parameters,
    ).reshape(-1)
    keep = ~study.blq
    resid = np.log(study.conc[keep] / true[keep])
    assert np.std(resid) == pytest.approx(stein.RESIDUAL_SD, rel=0.03)
    assert abs(np.mean(resid)) < 0.02


def test_invalid_size() -> None:
    with pytest.raises(ValueError, match="n_subjects"):
        stein.simulate(0, seed=1)
