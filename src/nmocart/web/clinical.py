"""Safety grades, swimmer plot, NCA table and kinetics plots of uploaded data.

Computed by the existing engines (``grade_subject``, ``compute_nca``) and report code
(``nmocart.reports``).

Results depend only on the uploaded bytes, so they are cached by the upload's SHA-256.
"""

from __future__ import annotations

import base64
import csv
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nmocart.batch.safety import parse_record as parse_safety_record
from nmocart.kernel.errors import RecordError
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import SampleInputError, read_samples
from nmocart.reports import kinetics as kinetics_report
from nmocart.reports import safety as safety_report
from nmocart.safety.grade import grade_subject
from nmocart.safety.parameters import load_parameters
from nmocart.safety.record import SafetyRecord


class ClinicalInputError(ValueError):
    """An upload the engines cannot use; ``problems`` names each field or row and the fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def safety_record(content: bytes) -> SafetyRecord:
    """Validate one subject's safety record (same messages as ``nmocart safety grade``)."""
    try:
        return parse_safety_record(content)
    except RecordError as exc:
        raise ClinicalInputError(exc.problems) from None


@dataclass(frozen=True)
class SafetyView:
    """The report tables and the swimmer plot (SVG) of some subjects."""

    tables: tuple[safety_report.Table, ...]
    swimmer_svg: str


def safety_view(contents: Sequence[bytes]) -> SafetyView:
    """Grade the subjects (one record each) and build the report's tables and swimmer plot."""
    return _safety_view(tuple(contents))


@lru_cache(maxsize=32)
def _safety_view(contents: tuple[bytes, ...]) -> SafetyView:
    params = load_parameters()
    summaries = (safety_report.summarise(grade_subject(safety_record(c), params)) for c in contents)
    subjects = sorted(summaries, key=lambda subject: subject.subject_id)
    return SafetyView(tuple(safety_report.build_tables(subjects)), safety_report.swimmer_svg(subjects))


@dataclass(frozen=True)
class KineticsView:
    """The NCA table (the CSV's cells), the report's figures (PNG, base64) and its HTML."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    figures: tuple[tuple[str, str], ...]
    report_html: str


@lru_cache(maxsize=16)
def kinetics_view(content: bytes, source_name: str) -> KineticsView:
    """Run the NCA on a kinetics CSV and render it with the report code."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClinicalInputError(["file: not UTF-8 text; save the CSV as UTF-8"]) from None
    try:
        samples = read_samples(text)
    except SampleInputError as exc:
        raise ClinicalInputError(exc.problems) from None
    result = compute_nca(samples.profiles)
    with tempfile.TemporaryDirectory(prefix="nmocart-kinetics-") as folder:
        written = kinetics_report.write_outputs(Path(folder), samples, result, source_name)
        figures = tuple(
            (path.stem.replace("_", " "), base64.b64encode(path.read_bytes()).decode())
            for path in written
            if path.suffix == ".png"
        )
        table = list(csv.reader(io.StringIO((Path(folder) / "kinetics_nca.csv").read_text(encoding="utf-8"))))
        report = (Path(folder) / "kinetics_report.html").read_text(encoding="utf-8")
    return KineticsView(tuple(table[0]), tuple(tuple(r) for r in table[1:]), figures, report)
