"""The study's safety report: HTML page and CSV tables (written in a later step)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nmocart.safety.parameters import SafetyParameters
from nmocart.safety.record import SafetyRecord


def write_report(records: Sequence[SafetyRecord], params: SafetyParameters, out: Path) -> list[Path]:
    """Write the report into ``out``; returns the paths written."""
    raise NotImplementedError
