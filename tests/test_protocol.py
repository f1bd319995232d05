"""The shipped protocol definition: verbatim criteria, named parameters, stable hash."""

from __future__ import annotations

import re
from pathlib import Path

from nmocart.screening.protocol import CRITERION_ORDER, load_protocol


def test_criteria_are_verbatim_protocol_text(shared_dir: Path) -> None:
    source = next((shared_dir / "protocol").glob("*.txt")).read_text()
    protocol = load_protocol()
    assert tuple(c.id for c in protocol.criteria) == CRITERION_ORDER
    for criterion in protocol.criteria:
        assert criterion.text in source, criterion.id
    assert protocol.criterion("IN1").text == "Age 18-60 and gender unlimited;"


def test_parameters_match_the_spec_table(shared_dir: Path) -> None:
    spec = (shared_dir / "spec" / "eligibility.md").read_text()
    p = load_protocol().parameters
    assert (p.age_min, p.age_max) == (18, 60)
    assert p.screening_window_days == 28
    assert p.relapse_merge_days == 30
    assert p.steroid_washout_days == 28
    assert p.rituximab_coverage_days == 183
    assert (p.qtc_limit_ms.male, p.qtc_limit_ms.female) == (450, 470)
    assert (p.creatinine_max_mg_dl, p.bilirubin_max_mg_dl, p.transaminase_max_x_uln) == (2.5, 2.0, 3)
    assert p.tcell_min_fold == 5
    for name in (
        "age_min",
        "screening_window_days",
        "relapse_merge_days",
        "steroid_washout_days",
        "rituximab_coverage_days",
        "qtc_limit_ms",
        "tcell_min_fold",
        "creatinine_max_mg_dl",
    ):
        assert re.search(rf"\b{name}\b", spec), name


def test_parameter_hash_is_canonical() -> None:
    first = load_protocol()
    assert first.parameters.sha256() == load_protocol().parameters.sha256()
    changed = first.parameters.model_copy(update={"age_max": 59})
    assert changed.sha256() != first.parameters.sha256()
