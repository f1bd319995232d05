"""A batch never dies of one record: any one line made hostile costs that line only.

For ``screen`` and ``safety grade``: a batch of N valid records with any one line replaced
by any hostile line gives N output lines, the N-1 others identical to the clean run, one
error line for the replaced one, and exit status 2. (Kinetics: tests/kinetics/test_streaming.py.)
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.safety.synthetic import synthetic_study
from tests.screening.builders import base

HERE = Path(__file__).parent
CASES: list[dict[str, Any]] = tomllib.loads((HERE / "cases.toml").read_text(encoding="utf-8"))["case"]


def _single_line_rejections(command: str) -> list[bytes]:
    """Corpus files that the command rejects and that fit on one NDJSON line."""
    lines = []
    for case in CASES:
        name = case.get("file", "")
        words = command.split()
        if case["command"][: len(words)] != words or case["exit"] != 2 or not name.endswith(".json"):
            continue
        data = (HERE / "files" / name).read_bytes()
        if b"\n" not in data.strip() and data.strip():
            lines.append(data.strip())
    return lines


EXTRA_HOSTILE = [
    b"{]",
    b"null",
    b"[]",
    b"1e400",
    b'"a string"',
    b"{}",
    b"\xff\xfe\x00",
    b"[" * 5000,
    b'{"candidate_id": "X", "subject_id": "Y", "sex": NaN}',
    b"\x00\x01\x02",
]


@cache
def _screening_records() -> list[bytes]:
    names = ["eligible", "ineligible", "incomplete"]
    out = []
    for i in range(6):
        record = base(names[i % 3])
        record["candidate_id"] = f"P-{i:04d}"
        out.append(json.dumps(record).encode())
    return out


@cache
def _safety_records() -> list[bytes]:
    return [
        orjson.dumps(dict(r, subject_id=f"Q-{i:03d}"))
        for i, r in enumerate(synthetic_study(5, follow_up_days=30, assessment_days=5))
    ]


def _check(command: list[str], records: list[bytes], index: int, hostile: bytes) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, [*command, "-"], input=b"\n".join(records) + b"\n")
    assert clean.exit_code == 0, clean.stderr
    batch = list(records)
    batch[index] = hostile
    bad = runner.invoke(app, [*command, "-"], input=b"\n".join(batch) + b"\n")
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
    assert bad.exit_code == 2
    clean_lines, bad_lines = clean.stdout.splitlines(), bad.stdout.splitlines()
    assert len(bad_lines) == len(records)
    for k, (before, after) in enumerate(zip(clean_lines, bad_lines, strict=True)):
        if k != index:
            assert after == before
    error = json.loads(bad_lines[index])
    assert error["source"] == f"<stdin>:{index + 1}"
    assert set(error) <= {"source", "candidate_id", "subject_id", "error"}
    assert "1 record(s) rejected" in bad.stderr


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_screen_one_hostile_line(data: st.DataObject) -> None:
    records = _screening_records()[: data.draw(st.integers(2, 6), label="n")]
    index = data.draw(st.integers(0, len(records) - 1), label="index")
    hostile = data.draw(st.sampled_from(_single_line_rejections("screen") + EXTRA_HOSTILE), label="line")
    _check(["screen"], records, index, hostile)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_safety_grade_one_hostile_line(data: st.DataObject) -> None:
    records = _safety_records()[: data.draw(st.integers(2, 5), label="n")]
    index = data.draw(st.integers(0, len(records) - 1), label="index")
    hostile = data.draw(
        st.sampled_from(_single_line_rejections("safety grade") + EXTRA_HOSTILE), label="line"
    )
    _check(["safety", "grade"], records, index, hostile)


def test_the_hostile_lines_cover_the_corpus() -> None:
    assert len(_single_line_rejections("screen")) >= 10
    assert len(_single_line_rejections("safety grade")) >= 8
