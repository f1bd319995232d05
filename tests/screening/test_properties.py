"""Invariants of the engine over random records (hypothesis)."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.screening.eligibility import ScreeningResult

from .builders import run
from .strategies import REMOVABLE, records

INCLUSION_WORDS = {"met", "not_met", "unknown", "not_applicable"}
EXCLUSION_WORDS = {"present", "absent", "unknown"}


def _resolve(document: Any, pointer: str) -> Any:
    """RFC 6901 resolution of ``pointer`` in ``document``."""
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


@settings(max_examples=150, deadline=None)
@given(records(), st.sampled_from(REMOVABLE))
def test_removing_data_never_settles_an_unknown_nor_clears_an_ineligible(
    record: dict[str, Any], field: str
) -> None:
    before = run(record)
    reduced = dict(record)
    reduced[field] = None
    after = run(reduced)
    for old, new in zip(before.criteria, after.criteria, strict=True):
        if old.verdict == "unknown":
            assert new.verdict == "unknown", (field, old, new)
    if before.decision == "ineligible":
        assert after.decision != "eligible"


@settings(max_examples=150, deadline=None)
@given(records())
def test_decision_follows_from_the_verdicts(record: dict[str, Any]) -> None:
    result = run(record)
    verdicts = [c.verdict for c in result.criteria]
    if "not_met" in verdicts or "present" in verdicts:
        expected = "ineligible"
    elif "unknown" in verdicts:
        expected = "incomplete"
    else:
        expected = "eligible"
    assert result.decision == expected


@settings(max_examples=150, deadline=None)
@given(records())
def test_every_verdict_is_explained(record: dict[str, Any]) -> None:
    result = run(record)
    assert [c.id for c in result.criteria] == [f"IN{i}" for i in range(1, 8)] + [
        f"EX{i}" for i in range(1, 13)
    ]
    for c in result.criteria:
        assert c.verdict in (INCLUSION_WORDS if c.kind == "inclusion" else EXCLUSION_WORDS)
        assert c.reason
        assert "\n" not in c.reason
        assert bool(c.missing) == (c.verdict == "unknown"), c
        for pointer in c.evidence:
            assert pointer.startswith("/")
            _resolve(record, pointer)  # raises if the pointer does not resolve
        for need in c.missing:
            pointer, _, description = need.partition(": ")
            assert pointer.startswith("/"), need
            assert description, need
            assert pointer.split("/")[1] in record, need
    assert list(result.missing) == list(dict.fromkeys(m for c in result.criteria for m in c.missing))


def _bytes(result: ScreeningResult) -> bytes:
    return orjson.dumps(result.as_dict())


@settings(max_examples=100, deadline=None)
@given(records(), st.randoms(use_true_random=False))
def test_output_is_identical_across_runs_and_key_orders(record: dict[str, Any], rnd: random.Random) -> None:
    first = _bytes(run(record))
    assert _bytes(run(record)) == first
    keys = list(record)
    rnd.shuffle(keys)
    shuffled = {k: record[k] for k in keys}
    assert _bytes(run(shuffled)) == first
