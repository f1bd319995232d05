"""Hostile cells found by the independent review: each gives a cell-named problem, never an exception."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from nmocart.batch.workbook import write_workbook
from nmocart.screening.record import ScreeningRecord

from .sheets import example_records, read


@pytest.fixture
def examples(shared_dir: Path) -> list[ScreeningRecord]:
    return example_records(shared_dir)


def _with_raw_cell(data: bytes, sheet_xml: str, cell: str, raw: str) -> bytes:
    """The workbook with one number cell's stored text replaced, as another program may write it."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == sheet_xml:
                text = content.decode()
                changed = re.sub(rf'(<c r="{cell}"[^>]*t="n"[^>]*><v>)[^<]*', rf"\g<1>{raw}", text, count=1)
                assert changed != text, cell
                content = changed.encode()
            target.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # a whole number beyond 64 bits: openpyxl reads it as a Python int
        ("1" + "0" * 30, None),
        # beyond a double's range: as an int it cannot even become a float
        ("1" + "0" * 400, "labs!D2: 1" + "0" * 400 + " is not a finite number; type the measured value"),
    ],
)
def test_a_number_cell_with_a_huge_whole_number_never_loses_the_workbook(
    examples: list[ScreeningRecord], raw: str, message: str | None
) -> None:
    # sheet6 is labs; D2 is the creatinine value of the first candidate (SCR-0001)
    data = _with_raw_cell(write_workbook(examples), "xl/worksheets/sheet6.xml", "D2", raw)
    entries = read(data)
    assert [e.candidate_id for e in entries] == [r.candidate_id for r in examples]
    assert [e.record for e in entries[1:]] == examples[1:]
    first = entries[0]
    if message is None:  # 1e30 is a finite number: the record holds it as a float
        assert first.record is not None
        assert first.record.labs is not None
        assert first.record.labs[0].value == 1e30
    else:
        assert first.problems == (message,)
