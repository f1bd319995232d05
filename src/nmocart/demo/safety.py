"""The safety demo: the seeded 12-subject synthetic study, graded and reported."""

from __future__ import annotations

from pathlib import Path

import orjson

from nmocart.batch.safety import parse_record
from nmocart.reports.safety import write_report
from nmocart.safety.grade import as_dict, grade_subject
from nmocart.safety.parameters import load_parameters
from nmocart.safety.synthetic import synthetic_study

DEMO_SUBJECTS = 12
DEMO_SEED = 20240115


def write_demo(out: Path) -> list[Path]:
    """Write the synthetic records (NDJSON), their grading (NDJSON) and the report into ``out``."""
    params = load_parameters()
    out.mkdir(parents=True, exist_ok=True)
    raw = [orjson.dumps(r) for r in synthetic_study(DEMO_SUBJECTS, seed=DEMO_SEED)]
    records_path = out / "safety_records.ndjson"
    records_path.write_bytes(b"".join(line + b"\n" for line in raw))
    records = [parse_record(line) for line in raw]
    graded_path = out / "safety_graded.ndjson"
    graded_path.write_bytes(
        b"".join(orjson.dumps(as_dict(grade_subject(r, params))) + b"\n" for r in records)
    )
    report_paths = write_report(records, params, out / "safety_report")
    return [records_path, graded_path, *report_paths]
