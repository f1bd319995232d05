"""``nmocart demo``: the main job on the embedded defaults runs and is reproducible byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nmocart.cli import app

runner = CliRunner()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_writes_every_capability_and_is_reproducible(tmp_path: Path) -> None:
    first = runner.invoke(app, ["demo", "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["demo", "--out", str(tmp_path / "b")])
    assert second.exit_code == 0
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a == b
    decisions = {
        json.loads(a[f"screening/{cid}.json"])["decision"] for cid in ("SCR-0001", "SCR-0002", "SCR-0003")
    }
    assert decisions == {"eligible", "ineligible", "incomplete"}
    assert any(name.startswith("safety/") and name.endswith(".html") for name in a)
    assert any(name.startswith("kinetics/") and name.endswith(".png") for name in a)
