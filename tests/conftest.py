"""Shared fixtures: where the study team's shared material (specs, examples, reference data) lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NMOCART_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``shared/`` folder beside the clone (override with ``NMOCART_SHARED``)."""
    if not (SHARED / "spec").is_dir():
        pytest.fail(f"shared material not found at {SHARED}; set NMOCART_SHARED to its path")
    return SHARED
