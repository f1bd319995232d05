"""The hostile corpus: every case gives its documented exit status and message, never a traceback.

``cases.toml`` lists each hostile file with the command that reads it, the exit status
and a fragment of the message it must produce (see ``make_corpus.py`` for the files).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nmocart.cli import app

HERE = Path(__file__).parent
FILES = HERE / "files"
EXAMPLES = HERE.parents[1] / "src" / "nmocart" / "data" / "examples"
CASES: list[dict[str, Any]] = tomllib.loads((HERE / "cases.toml").read_text(encoding="utf-8"))["case"]


def _id(case: dict[str, Any]) -> str:
    return " ".join(case["command"]).replace("{file}", case.get("file", "-"))


def test_every_file_is_used() -> None:
    used = {case["file"] for case in CASES if "file" in case}
    assert used == {path.name for path in FILES.iterdir()}


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FILES)  # sources are named as given: relative names in messages
    monkeypatch.setenv("NMOCART_CRASH_DIR", str(tmp_path))
    args = [
        part.format(file=case.get("file", ""), examples=EXAMPLES, out=tmp_path) for part in case["command"]
    ]
    stdin = (FILES / case["stdin"]).read_bytes() if "stdin" in case else None
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == case["exit"], (result.stdout[-500:], result.stderr[-500:])
    if "stdout" in case:
        assert case["stdout"] in result.stdout
    if "stderr" in case:
        assert case["stderr"] in result.stderr
    assert not any(name.startswith("nmocart-crash") for name in os.listdir(tmp_path))
