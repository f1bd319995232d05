"""The workbook round trip: records -> workbook -> records and screening results, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nmocart.batch.workbook import read_workbook, write_workbook
from nmocart.cli import app
from tests.screening.strategies import records as record_dicts

from .sheets import EXAMPLES, example_records, read, record

runner = CliRunner()


def _example_paths(shared_dir: Path) -> list[str]:
    return [str(shared_dir / "spec" / "examples" / f"{name}.json") for name in EXAMPLES]


def test_the_three_examples_screen_byte_identical_to_their_json(shared_dir: Path, tmp_path: Path) -> None:
    workbook = tmp_path / "examples.xlsx"
    workbook.write_bytes(write_workbook(example_records(shared_dir)))
    from_json = runner.invoke(app, ["screen", *_example_paths(shared_dir)])
    from_workbook = runner.invoke(app, ["screen", str(workbook)])
    assert from_json.exit_code == 0
    assert from_workbook.exit_code == 0
    assert from_workbook.stdout_bytes == from_json.stdout_bytes
    assert from_workbook.stdout_bytes.count(b"\n") == 3


def test_the_examples_read_back_as_the_same_records(shared_dir: Path) -> None:
    records = example_records(shared_dir)
    entries = read(write_workbook(records))
    assert [e.problems for e in entries] == [(), (), ()]
    assert [e.record for e in entries] == records
    assert [e.source for e in entries] == [f"c.xlsx:candidate!A{row}" for row in (2, 3, 4)]


def test_not_collected_and_nothing_to_report_survive_the_round_trip(shared_dir: Path) -> None:
    eligible, incomplete, _ = example_records(shared_dir)
    # the spec examples hold both: [] (collected, nothing to report) and null (not collected)
    assert incomplete.conditions == ()
    assert incomplete.investigator is None
    assert incomplete.tcell_proliferation is None
    back = [e.record for e in read(write_workbook([eligible, incomplete]))]
    assert back == [eligible, incomplete]


texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")), min_size=1, max_size=20
).filter(lambda s: s.strip() != "")


@st.composite
def rich_records(draw: st.DrawFn) -> dict[str, Any]:
    """The screening strategies' records, with free text wherever the record holds text."""
    data = draw(record_dicts())
    numbers = (("labs", "value"), ("labs", "upper_limit"), ("tcell_proliferation", "fold_expansion"))
    for section, key in numbers:
        for item in data[section] or []:
            if item[key] is not None:  # a spreadsheet keeps 15 significant digits; labs report far fewer
                item[key] = float(f"{item[key]:.{draw(st.integers(1, 15))}g}")
    for section, key in (("medications", "name"), ("conditions", "name"), ("antibody_tests", "titer")):
        for item in data[section] or []:
            item[key] = draw(texts)
    if data["investigator"] is not None:
        data["investigator"]["notes"] = draw(st.one_of(st.none(), texts))
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rich_records(), min_size=1, max_size=3, unique_by=lambda r: r["candidate_id"]))
def test_any_valid_records_come_back_unchanged(datas: list[dict[str, Any]]) -> None:
    records = [record(d) for d in datas]
    entries = read_workbook(write_workbook(records), "p.xlsx")
    assert [e.problems for e in entries] == [()] * len(records)
    assert [e.record for e in entries] == records


@settings(max_examples=10, deadline=None)
@given(st.lists(rich_records(), max_size=2, unique_by=lambda r: r["candidate_id"]))
def test_the_same_records_give_the_same_bytes(datas: list[dict[str, Any]]) -> None:
    records = [record(d) for d in datas]
    assert write_workbook(records) == write_workbook(records)


@pytest.fixture(scope="module")
def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        pytest.fail("LibreOffice (soffice) is needed for this test: apt-get install libreoffice-calc-nogui")
    return path


def test_a_workbook_saved_again_by_libreoffice_reads_the_same(
    shared_dir: Path, tmp_path: Path, soffice: str
) -> None:
    records = example_records(shared_dir)
    source = tmp_path / "in" / "examples.xlsx"
    source.parent.mkdir()
    source.write_bytes(write_workbook(records))
    converted = tmp_path / "out"
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(converted),
            str(source),
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )
    saved = converted / "examples.xlsx"
    assert saved.is_file(), done.stderr.decode(errors="replace")
    assert saved.read_bytes() != source.read_bytes()  # really rewritten by another program
    entries = read_workbook(saved.read_bytes(), "lo.xlsx")
    assert [e.problems for e in entries] == [(), (), ()]
    assert [e.record for e in entries] == records
    from_json = runner.invoke(app, ["screen", *_example_paths(shared_dir)])
    assert runner.invoke(app, ["screen", str(saved)]).stdout_bytes == from_json.stdout_bytes
