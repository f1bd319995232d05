"""The study team's three examples give exactly their expected decision and verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nmocart.demo import EXAMPLES, example_bytes

from .builders import run


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_matches_expected(shared_dir: Path, name: str) -> None:
    examples = shared_dir / "spec" / "examples"
    record = json.loads((examples / f"{name}.json").read_text())
    expected = json.loads((examples / f"{name}.expected.json").read_text())
    result = run(record)
    assert result.decision == expected["decision"]
    assert {c.id: c.verdict for c in result.criteria} == expected["verdicts"]
    assert [c.id for c in result.criteria] == list(expected["verdicts"])


@pytest.mark.parametrize("name", EXAMPLES)
def test_shipped_examples_are_the_study_teams(shared_dir: Path, name: str) -> None:
    shipped = example_bytes(name)
    assert shipped == (shared_dir / "spec" / "examples" / f"{name}.json").read_bytes()


def test_incomplete_example_lists_what_is_missing() -> None:
    from .builders import base

    result = run(base("incomplete"))
    missing = " ".join(result.missing)
    for needed in (
        "/investigator/survival_over_12_weeks",
        "/tcell_proliferation",
        "/pregnancy_tests",
        "/contraception_agreed",
        "/investigator/other_risk",
    ):
        assert needed in missing
