from __future__ import annotations

import csv
from pathlib import Path

import orjson

from nmocart.batch.safety import parse_record
from nmocart.demo.safety import write_demo
from nmocart.reports.safety import (
    SubjectSummary,
    build_tables,
    episode_incidence,
    median_range,
    percent,
    summarise,
    write_report,
)
from nmocart.safety.grade import SubjectSafety, grade_subject
from nmocart.safety.record import SafetyRecord
from nmocart.safety.synthetic import synthetic_study

from .helpers import PARAMS, crs_item, day, record_dict


def grade_all(records: list[SafetyRecord]) -> list[SubjectSafety]:
    return [grade_subject(record, PARAMS) for record in records]


def summaries(records: list[SafetyRecord]) -> list[SubjectSummary]:
    return sorted((summarise(s) for s in grade_all(records)), key=lambda s: s.subject_id)


def study(n: int = 12, seed: int = 3) -> list[bytes]:
    return [orjson.dumps(r) for r in synthetic_study(n, seed=seed)]


def test_synthetic_study_is_seeded_and_valid() -> None:
    first, second = study(), study()
    assert first == second
    assert study(seed=4) != first
    records = [parse_record(line) for line in first]
    assert [r.subject_id for r in records] == [f"SYN-{i:03d}" for i in range(1, 13)]
    for record in records:
        assert record.lymphodepletion_start_date is not None
        assert record.lymphodepletion_start_date < record.infusion_date
        assert record.labs
        assert {lab.test for lab in record.labs} >= {"anc", "platelets", "creatinine", "igg"}


def test_synthetic_courses_are_plausible() -> None:
    subjects = grade_all([parse_record(line) for line in study(40, seed=11)])
    crs_max = [s.crs.max_grade or 0 for s in subjects]
    assert 0 < sum(g >= 1 for g in crs_max) < 40  # some but not all have CRS
    assert max(crs_max) <= 4
    # lymphodepletion drops the neutrophils of most subjects
    worst = [s.worst_lab_grades or {} for s in subjects]
    assert sum((w.get("Neutrophil count decreased") or 0) >= 3 for w in worst) > 20
    assert all(s.icaht.early_grade is not None for s in subjects)


def test_percent_and_median_range() -> None:
    assert percent(1, 3) == "1 (33.3%)"
    assert percent(0, 0) == "-"
    assert median_range([3, 1, 7]) == "3 (1-7)"
    assert median_range([2, 3]) == "2.5 (2-3)"
    assert median_range([]) == "-"


def test_crs_incidence_counts_and_excludes_not_assessed() -> None:
    records = [
        parse_record(
            orjson.dumps(
                record_dict(
                    subject_id="A",
                    crs_assessments=[
                        crs_item(date=day(2), temperature_c=38.5),
                        crs_item(date=day(3), temperature_c=38.5),
                    ],
                )
            )
        ),
        parse_record(
            orjson.dumps(
                record_dict(
                    subject_id="B",
                    crs_assessments=[crs_item(date=day(4), temperature_c=38.5, hypotension=True)],
                )
            )
        ),
        parse_record(orjson.dumps(record_dict(subject_id="C", crs_assessments=[crs_item()]))),
        parse_record(orjson.dumps(record_dict(subject_id="D", crs_assessments=None))),
    ]
    table = episode_incidence(summaries(records), "CRS")
    rows = {row[0]: row[1] for row in table.rows}
    assert rows["maximum grade 0"] == "1 (33.3%)"
    assert rows["maximum grade 1"] == "1 (33.3%)"
    assert rows["maximum grade 2"] == "1 (33.3%)"
    assert rows["any grade (>= 1)"] == "2 (66.7%)"
    assert rows["onset day, median (range)"] == "3 (2-4)"
    assert rows["duration in days, median (range)"] == "1.5 (1-2)"
    assert "1 not assessed" in table.note


def test_report_is_self_contained_deterministic_and_csv_readable(tmp_path: Path) -> None:
    records = [parse_record(line) for line in study()]
    first = write_report(records, PARAMS, tmp_path / "a")
    second = write_report(list(reversed(records)), PARAMS, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html
    assert "Study day (day 0 = CAR-T infusion)" in html
    assert 'src="http' not in html
    assert 'href="http' not in html
    assert PARAMS.sha256[:16] in html
    assert "<dc:date>" not in html
    names = {t.name for t in build_tables(summaries(records))}
    for name in names:
        with (tmp_path / "a" / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert len(rows) >= 2, name
    shift = list(csv.reader((tmp_path / "a" / "lab_shift.csv").open(encoding="utf-8")))
    assert shift[0][:2] == ["term", "baseline grade"]
    # each term's row counts add up to its subjects column
    for row in shift[1:]:
        assert sum(int(c) for c in row[2:-1]) == int(row[-1])


def test_write_demo_writes_records_grades_and_report(tmp_path: Path) -> None:
    paths = write_demo(tmp_path)
    names = {p.name for p in paths}
    assert {"safety_records.ndjson", "safety_graded.ndjson", "report.html"} <= names
    assert all(p.exists() for p in paths)
    lines = (tmp_path / "safety_records.ndjson").read_bytes().splitlines()
    assert len(lines) == 12
