"""``write_demo``: the seeded synthetic study analysed end to end, reproducibly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.demo.kinetics import SAMPLES_NAME, write_demo


def test_demo_is_reproducible_and_matches_the_cli(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "one")
    second = write_demo(tmp_path / "two")
    assert [p.name for p in first] == [p.name for p in second]
    assert first[0].name == SAMPLES_NAME
    assert {p.suffix for p in first} == {".csv", ".json", ".png", ".html"}
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    res = CliRunner().invoke(app, ["kinetics", "nca", str(first[0])])
    assert res.exit_code == 0, res.output
    assert res.stdout == (tmp_path / "one" / "kinetics_nca.csv").read_text(encoding="utf-8")
