"""``--out`` is all or nothing: written beside the target, moved into place when complete."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from nmocart.cli import app
from nmocart.reports import kinetics as kinetics_report
from nmocart.reports import safety as safety_report
from nmocart.reports.output_folder import OutputFolderError, output_folder
from nmocart.safety.synthetic import synthetic_study

from ..screening.builders import base

runner = CliRunner()


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_new_folder_appears_complete_and_no_staging_is_left(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out"
    with output_folder(target) as staging:
        assert staging.parent == target.parent
        assert not target.exists()  # nothing visible until complete
        (staging / "x.csv").write_text("1\n")
        (staging / "sub").mkdir()
        (staging / "sub" / "y.txt").write_text("2\n")
    assert _tree(target) == ["sub", "sub/y.txt", "x.csv"]
    assert _tree(tmp_path / "a" / "b") == ["out", "out/sub", "out/sub/y.txt", "out/x.csv"]


def _write_then_fail(target: Path, name: str, error: BaseException) -> None:
    with output_folder(target) as staging:
        (staging / name).write_text("new, partial")
        raise error


def test_a_failure_leaves_nothing_behind_not_even_created_parents(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(RuntimeError):
        _write_then_fail(target, "half.csv", RuntimeError("boom"))
    assert _tree(tmp_path) == []


def test_existing_folder_keeps_other_files_and_gets_the_new_ones(tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    (target / "report.html").write_text("old")
    (target / "sub" / "old.txt").write_text("old")
    with output_folder(target) as staging:
        (staging / "report.html").write_text("new")
        (staging / "sub").mkdir()
        (staging / "sub" / "new.txt").write_text("new")
    assert _tree(target) == ["notes.txt", "report.html", "sub", "sub/new.txt", "sub/old.txt"]
    assert (target / "report.html").read_text() == "new"
    assert (target / "notes.txt").read_text() == "mine"


def test_failure_into_an_existing_folder_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "report.html").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        _write_then_fail(target, "report.html", KeyboardInterrupt())
    assert _tree(target) == ["report.html"]
    assert (target / "report.html").read_text() == "old"


def test_a_file_as_target_or_as_a_parent_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"), output_folder(blocker):
        pass
    with (
        pytest.raises(OutputFolderError, match="is a file, so the folder cannot be created"),
        output_folder(blocker / "out"),
    ):
        pass
    assert blocker.read_text() == "x"


def test_an_uncreatable_folder_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(OutputFolderError, match="cannot write there"),
        output_folder(Path("/proc/nmocart/out")),
    ):
        pass


def _candidate(tmp_path: Path) -> str:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(base()))
    return str(path)


def test_screen_out_with_a_format_that_ignores_it_says_so(tmp_path: Path) -> None:
    for fmt in ("json", "text"):
        result = runner.invoke(
            app, ["screen", _candidate(tmp_path), "--format", fmt, "--out", str(tmp_path / "o")]
        )
        assert result.exit_code == 2
        assert "--out is only used with --format html" in result.stderr
        assert result.stdout == ""
    assert not (tmp_path / "o").exists()


def test_screen_out_writes_pages_atomically(tmp_path: Path) -> None:
    out = tmp_path / "pages"
    result = runner.invoke(app, ["screen", _candidate(tmp_path), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _tree(out) == ["SCR-0001.html"]
    assert _tree(tmp_path) == ["c.json", "pages", "pages/SCR-0001.html"]


@pytest.mark.parametrize(
    "command",
    [
        ["screen", "CANDIDATE", "--format", "html"],
        ["safety", "report", "CANDIDATE"],
        ["kinetics", "nca", "CANDIDATE"],
        ["demo"],
    ],
)
def test_every_out_refuses_a_file_in_one_line(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    args = [_candidate(tmp_path) if word == "CANDIDATE" else word for word in command]
    result = runner.invoke(app, [*args, "--out", str(blocker)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert any("is a file, not a folder" in line for line in lines), result.stderr
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("command", ["demo", "safety report"])
def test_safety_report_failure_midway_leaves_no_partial_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    records = tmp_path / "in" / "study.ndjson"
    records.parent.mkdir()
    records.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in synthetic_study(3, seed=1)))

    def broken_svg(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safety_report, "swimmer_svg", broken_svg)
    out = tmp_path / "out"
    args = ["demo"] if command == "demo" else ["safety", "report", str(records)]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2
    assert "No space left on device" in result.stderr
    assert _tree(tmp_path) == ["in", "in/study.ndjson"]


def test_kinetics_failure_midway_leaves_no_partial_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = tmp_path / "s.csv"
    samples.write_text("subject,time,conc,blq\nA,0,1,0\nA,7,50,0\nA,14,20,0\nA,28,5,0\n")

    def broken_plot(*args: object, **kwargs: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(kinetics_report, "plot_median", broken_plot)
    out = tmp_path / "k"
    result = runner.invoke(app, ["kinetics", "nca", str(samples), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert _tree(tmp_path) == ["s.csv"]
