"""Streaming NCA: chunked, two-pass computation gives the whole-file table byte for byte.

Chunks are padded to the whole file's widest profile (the engine's row sums depend on the
padded width), so profiles wider than numpy's 8-wide and 128-wide summation blocks are
included; subjects are given both contiguous and interleaved.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmocart.batch.kinetics import json_document, stream_nca
from nmocart.cli import app
from nmocart.kinetics.nca import NcaOptions, compute_nca
from nmocart.kinetics.samples import read_samples
from nmocart.kinetics.table import COLUMNS, TIME_UNIT, table_csv, table_json

runner = CliRunner()
HEADER = "subject,time,conc,blq,analyte\n"


def _study(seed: int, subjects: int, widths: list[int], analytes: int = 1) -> list[str]:
    """Data rows of a seeded study: noisy bi-exponential profiles of the given widths."""
    rng = random.Random(seed)
    rows = []
    for s in range(subjects):
        width = widths[s % len(widths)]
        for a in range(analytes):
            times = sorted(rng.sample(range(1, 20 * width), width - 1))
            for t in [0, *times]:
                day = t / 7
                conc = float(1e4 * (np.exp(-0.05 * day) - np.exp(-0.9 * day)) * rng.uniform(0.7, 1.3))
                blq = conc < 5
                rows.append(f"S{s:03d},{day!r},{'' if blq else repr(conc)},{int(blq)},A{a}")
    return rows


def _whole(text: str, options: NcaOptions) -> str:
    table = read_samples(text)
    with np.errstate(all="ignore"):
        return table_csv(table, compute_nca(table.profiles, options))


def _streamed(path: Path, options: NcaOptions, chunk_rows: int) -> str:
    out: list[str] = [",".join(COLUMNS) + "\n"]
    tables, info = stream_nca(path, options, out.append, chunk_rows=chunk_rows)
    assert info.problem_count == 0
    out.extend(line + "\n" for _, line in tables.csv_rows)
    return "".join(out)


@pytest.mark.parametrize("widths", [[3, 5], [4, 12, 9], [130, 6, 20]])
@pytest.mark.parametrize("interleave", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 17, 10_000])
def test_streamed_table_is_the_whole_file_table(
    tmp_path: Path, widths: list[int], interleave: bool, chunk_rows: int
) -> None:
    rows = _study(7, 12, widths, analytes=2)
    if interleave:
        random.Random(3).shuffle(rows)
    text = HEADER + "\n".join(rows) + "\n"
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    for method in ("lin-up/log-down", "linear"):
        options = NcaOptions(auc_method=method)
        assert _streamed(path, options, chunk_rows) == _whole(text, options)


def test_streamed_json_is_the_whole_file_json(tmp_path: Path) -> None:
    text = HEADER + "\n".join(_study(11, 9, [5, 14])) + "\n"
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    options = NcaOptions()
    tables, _ = stream_nca(path, options, None, chunk_rows=5)
    streamed = b"".join(json_document(options, [r for _, r in tables.records], TIME_UNIT))
    table = read_samples(text)
    assert streamed == table_json(table, compute_nca(table.profiles, options))


def test_json_of_an_empty_table_matches(tmp_path: Path) -> None:
    options = NcaOptions()
    assert b"".join(json_document(options, [], TIME_UNIT)).endswith(b'"profiles": []\n}\n')


def test_cli_reads_stdin_like_a_file(tmp_path: Path) -> None:
    text = HEADER + "\n".join(_study(5, 4, [6])) + "\n"
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    from_file = runner.invoke(app, ["kinetics", "nca", str(path)])
    from_stdin = runner.invoke(app, ["kinetics", "nca", "-"], input=text)
    assert from_file.exit_code == from_stdin.exit_code == 0
    assert from_stdin.stdout == from_file.stdout == _whole(text, NcaOptions())


HOSTILE_CELLS = st.sampled_from(
    ["abc", "NaN", "inf", "-1", "1e400", "", "2", "\x07", "S000", "0,0", '"', "1,2,3,4,5,6"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    line=st.integers(0, 10_000),
    column=st.integers(0, 3),
    cell=HOSTILE_CELLS,
)
def test_one_hostile_row_only_takes_out_its_own_subject(
    tmp_path: Path, line: int, column: int, cell: str
) -> None:
    """Any one row made hostile: the other subjects' table rows are those of the clean run."""
    rows = _study(13, 6, [5, 7])  # at most 8 samples: see the module docstring
    target = line % len(rows)
    fields = rows[target].split(",")
    victim = fields[0]
    fields[column] = cell
    hostile = rows.copy()
    hostile[target] = ",".join(fields)
    clean_path, bad_path = tmp_path / "clean.csv", tmp_path / "bad.csv"
    clean_path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    bad_path.write_text(HEADER + "\n".join(hostile) + "\n", encoding="utf-8")
    clean = runner.invoke(app, ["kinetics", "nca", str(clean_path)])
    bad = runner.invoke(app, ["kinetics", "nca", str(bad_path)])
    assert clean.exit_code == 0
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
    assert "Traceback" not in bad.output

    def by_subject(stdout: str) -> dict[str, str]:
        return {row.split(",", 1)[0]: row for row in stdout.splitlines()[1:]}

    clean_rows, bad_rows = by_subject(clean.stdout), by_subject(bad.stdout)
    touched = {victim, fields[0]}
    assert set(bad_rows) - touched == set(clean_rows) - touched
    for subject in set(clean_rows) - touched:
        assert bad_rows[subject] == clean_rows[subject]
    assert bad.exit_code in (0, 2)
    if bad.exit_code == 2:
        assert bad.stderr.startswith("error: ")
    else:  # the cell was still a valid one (e.g. another plausible number)
        assert bad.stderr == ""
