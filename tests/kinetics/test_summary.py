"""Summary statistics of spec section 3."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nmocart.kinetics.summary import describe


def test_describe_against_hand_values() -> None:
    mean, sd, geomean, geocv, median, lo, hi = describe(np.array([1.0, 10.0, 100.0, np.nan]))
    assert mean == pytest.approx(37.0)
    assert sd == pytest.approx(math.sqrt((36**2 + 27**2 + 63**2) / 2))
    assert geomean == pytest.approx(10.0)
    s = math.log(10.0)  # SD of the logs 0, ln 10, 2 ln 10
    assert geocv == pytest.approx(math.sqrt(math.exp(s * s) - 1) * 100)
    assert (median, lo, hi) == (10.0, 1.0, 100.0)


def test_geometric_statistics_need_positive_values() -> None:
    mean, _, geomean, geocv, *_ = describe(np.array([0.0, 2.0, 4.0]))
    assert mean == pytest.approx(2.0)
    assert math.isnan(geomean)
    assert math.isnan(geocv)


def test_single_and_empty() -> None:
    single = describe(np.array([5.0]))
    assert single[0] == 5.0
    assert math.isnan(single[1])
    assert single[2] == pytest.approx(5.0)
    assert math.isnan(single[3])
    assert all(math.isnan(x) for x in describe(np.array([np.nan])))
