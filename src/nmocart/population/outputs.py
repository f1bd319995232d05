"""The population outputs: results, attrition (OHDSI ATLAS style), worklist, coverage, HTML page.

Everything here is computed from the per-patient assessments as they stream by in candidate
order: :class:`PopulationTally` keeps only counters and the worklist rows (patients not ruled
out), so memory does not grow with the patients ruled out. Bytes depend only on the input.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import Environment, PackageLoader, select_autoescape

from nmocart.fhir.output import IntakeTally
from nmocart.kernel.csv_cells import Cell, csv_row

RESULTS = "results.ndjson"
ATTRITION = "attrition.csv"
WORKLIST = "worklist.csv"
COVERAGE = "coverage.csv"
REPORT_HTML = "report.html"

EXCLUDING = frozenset({"not_met", "present"})
"""Verdicts that rule a patient out."""
PASSING = frozenset({"met", "absent"})

WORKLIST_SHOWN = 200
"""Worklist rows shown on the HTML page (the CSV has them all)."""


@dataclass
class WorklistRow:
    """A patient not ruled out: how many criteria are unknown, which, and the data that would settle them."""

    candidate_id: str
    decision: str
    unknown: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass
class PopulationTally:
    """Attrition counters and worklist, fed one screening result at a time (candidate order)."""

    criteria: list[tuple[str, str, str]] = field(default_factory=list)
    verdicts: dict[str, Counter[str]] = field(default_factory=dict)
    sequential_exclusions: Counter[str] = field(default_factory=Counter)
    alone: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    screened: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    worklist: list[WorklistRow] = field(default_factory=list)

    def add(self, candidate_id: str | None, rejection: str | None, result: dict[str, Any] | None) -> None:
        """Count one patient's screening result (None: it could not be screened, for ``rejection``)."""
        if result is None:
            self.rejected[str(rejection)] += 1
            return
        criteria = result["criteria"]
        if not self.criteria:
            self.criteria = [(c["id"], c["kind"], c["text"]) for c in criteria]
            self.verdicts = {c["id"]: Counter() for c in criteria}
        self.screened += 1
        self.decisions[result["decision"]] += 1
        excluding = [c["id"] for c in criteria if c["verdict"] in EXCLUDING]
        for c in criteria:
            self.verdicts[c["id"]][c["verdict"]] += 1
        if excluding:
            self.sequential_exclusions[excluding[0]] += 1
            if len(excluding) == 1:
                self.alone[excluding[0]] += 1
            return
        unknown = tuple(c["id"] for c in criteria if c["verdict"] == "unknown")
        self.worklist.append(
            WorklistRow(result["candidate_id"], result["decision"], unknown, tuple(result["missing"]))
        )

    def merge(self, other: PopulationTally) -> None:
        """Add the tally of another chunk of patients."""
        if not self.criteria:
            self.criteria = list(other.criteria)
            self.verdicts = {cid: Counter() for cid, _, _ in other.criteria}
        for cid, counts in other.verdicts.items():
            self.verdicts[cid].update(counts)
        self.sequential_exclusions.update(other.sequential_exclusions)
        self.alone.update(other.alone)
        self.decisions.update(other.decisions)
        self.screened += other.screened
        self.rejected.update(other.rejected)
        self.worklist.extend(other.worklist)

    def attrition_rows(self) -> list[dict[str, object]]:
        """Spec'd attrition: per criterion in protocol order, with patients remaining one after another."""
        rows: list[dict[str, object]] = [
            {
                "step": 0,
                "criterion": "",
                "kind": "",
                "description": "patients with a screening record",
                "excluding": "",
                "unknown": "",
                "passing": "",
                "not_applicable": "",
                "remaining": self.screened,
                "remaining_percent": _percent(self.screened, self.screened),
                "excluded_by_this_alone": "",
            }
        ]
        remaining = self.screened
        for step, (cid, kind, text) in enumerate(self.criteria, start=1):
            counts = self.verdicts[cid]
            remaining -= self.sequential_exclusions[cid]
            rows.append(
                {
                    "step": step,
                    "criterion": cid,
                    "kind": kind,
                    "description": " ".join(text.split())[:160],
                    "excluding": sum(counts[v] for v in EXCLUDING),
                    "unknown": counts["unknown"],
                    "passing": sum(counts[v] for v in PASSING),
                    "not_applicable": counts["not_applicable"],
                    "remaining": remaining,
                    "remaining_percent": _percent(remaining, self.screened),
                    "excluded_by_this_alone": self.alone[cid],
                }
            )
        return rows

    def ranked_worklist(self) -> list[WorklistRow]:
        """Eligible first, then by how few unknowns stand between the patient and a decision, then id."""
        return sorted(self.worklist, key=lambda w: (w.decision != "eligible", len(w.unknown), w.candidate_id))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def _csv_bytes(header: Sequence[str], rows: Sequence[dict[str, object]]) -> bytes:
    """CSV with every cell neutralised against spreadsheet formulas (FHIR ids and codes are outside text)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_row(header))
    for row in rows:
        writer.writerow(csv_row(_cell(row.get(name)) for name in header))
    return buffer.getvalue().encode("utf-8")


def _cell(value: object) -> Cell:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return str(value)
    return value


ATTRITION_COLUMNS = (
    "step",
    "criterion",
    "kind",
    "description",
    "excluding",
    "unknown",
    "passing",
    "not_applicable",
    "remaining",
    "remaining_percent",
    "excluded_by_this_alone",
)
WORKLIST_COLUMNS = ("rank", "candidate_id", "decision", "unknown_count", "unknown_criteria", "data_to_settle")
COVERAGE_COLUMNS = (
    "resource_type",
    "system",
    "code",
    "display",
    "read",
    "used",
    "unmapped",
    "ignored",
    "ignored_by_reason",
)


def worklist_rows(tally: PopulationTally) -> list[dict[str, object]]:
    """The worklist as CSV rows (rank 1 = closest to a decision)."""
    return [
        {
            "rank": rank,
            "candidate_id": row.candidate_id,
            "decision": row.decision,
            "unknown_count": len(row.unknown),
            "unknown_criteria": " ".join(row.unknown),
            "data_to_settle": " | ".join(row.missing),
        }
        for rank, row in enumerate(tally.ranked_worklist(), start=1)
    ]


def coverage_rows(intake: IntakeTally) -> list[dict[str, object]]:
    """Resources read, used, unmapped and ignored, by type and by (type, system, code)."""
    rows = []
    for row in intake.coverage_rows():
        ignored = row["ignored"]
        assert isinstance(ignored, dict)
        rows.append(
            {
                "resource_type": row["resource_type"],
                "system": row["system"],
                "code": row["code"],
                "display": row["display"],
                "read": row["read"],
                "used": row["used"],
                "unmapped": row["unmapped"],
                "ignored": sum(ignored.values()),
                "ignored_by_reason": ";".join(f"{k}={v}" for k, v in ignored.items()),
            }
        )
    return rows


def funnel_svg(attrition: Sequence[dict[str, object]], width: int = 760) -> str:
    """The attrition funnel as inline SVG: one bar per step, length proportional to patients remaining."""
    bar_height, gap, label_width = 18, 6, 210
    total = int(attrition[0]["remaining"] or 0)  # type: ignore[call-overload]
    span = width - label_width - 90
    height = len(attrition) * (bar_height + gap) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Attrition funnel" font-family="sans-serif" font-size="12">'
    ]
    for index, row in enumerate(attrition):
        remaining = int(row["remaining"])  # type: ignore[call-overload]
        length = round(span * remaining / total) if total else 0
        y = 5 + index * (bar_height + gap)
        label = "screened" if index == 0 else f"{row['criterion']} ({row['kind']})"
        excluded = "" if index == 0 else f" (-{int(attrition[index - 1]['remaining']) - remaining})"  # type: ignore[call-overload]
        x = label_width + (span - length) // 2
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end">{label}</text>'
            f'<rect x="{x}" y="{y}" width="{max(length, 1)}" height="{bar_height}" fill="#2f6f9f"/>'
            f'<text x="{label_width + span + 6}" y="{y + 13}">{remaining:,}{excluded}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def report_html(
    attrition: Sequence[dict[str, object]],
    worklist: Sequence[dict[str, object]],
    coverage: Sequence[dict[str, object]],
    summary: dict[str, object],
) -> str:
    """The recruitment meeting's page: funnel, worklist, coverage; self-contained, no scripts."""
    env = Environment(
        loader=PackageLoader("nmocart.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    template = env.get_template("prescreen_report.html.j2")
    return template.render(
        funnel=funnel_svg(attrition),
        attrition=attrition,
        worklist=worklist[:WORKLIST_SHOWN],
        worklist_total=len(worklist),
        coverage=[row for row in coverage if not row["system"]],
        coverage_codes=sorted(
            (row for row in coverage if row["system"] and row["unmapped"]),
            key=lambda r: (-int(r["unmapped"]), str(r["resource_type"]), str(r["system"]), str(r["code"])),  # type: ignore[call-overload]
        )[:50],
        summary=summary,
    )


def write_outputs(
    folder: Path,
    tally: PopulationTally,
    intake: IntakeTally,
    summary: dict[str, object],
) -> None:
    """Write attrition.csv, worklist.csv, coverage.csv and report.html into ``folder``."""
    attrition = tally.attrition_rows()
    worklist = worklist_rows(tally)
    coverage = coverage_rows(intake)
    (folder / ATTRITION).write_bytes(_csv_bytes(ATTRITION_COLUMNS, attrition))
    (folder / WORKLIST).write_bytes(_csv_bytes(WORKLIST_COLUMNS, worklist))
    (folder / COVERAGE).write_bytes(_csv_bytes(COVERAGE_COLUMNS, coverage))
    (folder / REPORT_HTML).write_text(report_html(attrition, worklist, coverage, summary), encoding="utf-8")


def open_results(folder: Path) -> BinaryIO:
    """The results.ndjson stream (written line by line as patients arrive)."""
    return (folder / RESULTS).open("wb")
