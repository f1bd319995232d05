"""The study's safety report (safety spec section 6): one self-contained HTML page and CSV tables.

Tables are built by pure functions from the graded subjects; ``write_report`` is the thin
adapter that renders them (jinja2, csv, matplotlib Agg) into a folder. The output holds no
clock reading and the plot is written without metadata, so the same records give the same
bytes.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape

import nmocart
from nmocart.kernel.csv_cells import csv_text
from nmocart.reports.plot_text import literal
from nmocart.safety.episode import DayGrade, Episode
from nmocart.safety.grade import SubjectSafety, as_dict, grade_subject
from nmocart.safety.parameters import SafetyParameters
from nmocart.safety.record import SafetyRecord

GRADES = (0, 1, 2, 3, 4)
AE_GRADES = (1, 2, 3, 4, 5)
GRADE_COLOURS = {1: "#f6d55c", 2: "#f39c34", 3: "#d7301f", 4: "#67000d"}
"""Grade colours of the swimmer plot: light to dark, readable in greyscale print too."""


@dataclass(frozen=True)
class Table:
    """A titled table: header and rows of cells, as written to CSV and HTML alike."""

    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class SubjectSummary:
    """What the report needs of one graded subject: a few numbers, never the whole grading.

    The report keeps one of these per subject while the graded subjects stream past, so its
    memory does not grow with the number of lab results or assessments.
    """

    subject_id: str
    crs: Episode
    """Maximum grade, onset and duration; assessments as (date, study day, grade) only."""
    icans: Episode
    early_icaht: int | None
    late_icaht: int | None
    hypogammaglobulinemia: bool | None
    adverse_events: tuple[tuple[str, int], ...] | None
    """(term, grade) as reported; None when not collected."""
    lab_shifts: tuple[tuple[str, str, str], ...] | None
    """(CTCAE term, baseline grade, worst post-baseline grade) per term graded; None: no labs."""


def _slim(episode: Episode) -> Episode:
    days = episode.assessments
    slim = None if days is None else tuple(DayGrade(d.date, d.study_day, d.grade, ()) for d in days)
    return Episode(slim, episode.max_grade, episode.onset_day, episode.duration_days)


def summarise(subject: SubjectSafety) -> SubjectSummary:
    """The report's summary of one graded subject."""
    shifts = None
    if subject.labs is not None:
        by_term: dict[str, tuple[str, str]] = {}
        for item in subject.labs:
            base = item.baseline
            base_grade = "no baseline" if base is None else _grade_text(base.grade)
            worst = (subject.worst_lab_grades or {}).get(item.term)
            by_term[item.term] = (base_grade, _grade_text(worst))
        shifts = tuple((term, base, worst) for term, (base, worst) in by_term.items())
    aes = subject.record.adverse_events
    return SubjectSummary(
        subject_id=subject.record.subject_id,
        crs=_slim(subject.crs),
        icans=_slim(subject.icans),
        early_icaht=subject.icaht.early_grade,
        late_icaht=subject.icaht.late_grade,
        hypogammaglobulinemia=subject.hypogammaglobulinemia,
        adverse_events=None if aes is None else tuple((ae.term, ae.grade) for ae in aes),
        lab_shifts=shifts,
    )


def percent(n: int, total: int) -> str:
    """``n (x.x%)``; a dash when there is no denominator."""
    return f"{n} ({100 * n / total:.1f}%)" if total else "-"


def median_range(values: Sequence[int]) -> str:
    """``median (min-max)``, or a dash for no values."""
    if not values:
        return "-"
    median = statistics.median(values)
    shown = f"{median:g}" if isinstance(median, float) else str(median)
    return f"{shown} ({min(values)}-{max(values)})"


def ae_incidence(subjects: Sequence[SubjectSummary]) -> Table:
    """Subjects with each AE term by their worst reported grade, n (%) of subjects with AE data."""
    collected = [s for s in subjects if s.adverse_events is not None]
    worst: dict[str, dict[str, int]] = {}
    for subject in collected:
        for term, grade in subject.adverse_events or ():
            per_subject = worst.setdefault(term, {})
            sid = subject.subject_id
            per_subject[sid] = max(per_subject.get(sid, 0), grade)
    total = len(collected)
    rows = []
    for term in sorted(worst):
        grades = list(worst[term].values())
        rows.append(
            (
                term,
                *(percent(grades.count(g), total) for g in AE_GRADES),
                percent(len(grades), total),
                percent(sum(g >= 3 for g in grades), total),
            )
        )
    return Table(
        "ae_incidence",
        "Adverse events by term and worst grade",
        ("term", *(f"grade {g}" for g in AE_GRADES), "any grade", "grade >= 3"),
        tuple(rows),
        f"n (%) of the {total} subjects whose adverse events were collected; "
        "each subject counted once per term, at the worst grade reported by the investigator.",
    )


def _episodes(subjects: Sequence[SubjectSummary], name: str) -> list[Episode]:
    return [s.crs if name == "CRS" else s.icans for s in subjects]


def episode_incidence(subjects: Sequence[SubjectSummary], name: str) -> Table:
    """CRS or ICANS: subjects by maximum grade, with median (range) onset day and duration."""
    episodes = [e for e in _episodes(subjects, name) if e.max_grade is not None]
    total = len(episodes)
    maxima = [e.max_grade for e in episodes]
    onset = [e.onset_day for e in episodes if e.onset_day is not None]
    duration = [e.duration_days for e in episodes if e.duration_days is not None]
    rows = [(f"maximum grade {g}", percent(maxima.count(g), total)) for g in GRADES]
    rows += [
        ("any grade (>= 1)", percent(sum(m is not None and m >= 1 for m in maxima), total)),
        ("grade >= 3", percent(sum(m is not None and m >= 3 for m in maxima), total)),
        ("onset day, median (range)", median_range(onset)),
        ("duration in days, median (range)", median_range(duration)),
    ]
    not_collected = len(subjects) - total
    note = f"n (%) of the {total} subjects assessed for {name}"
    if not_collected:
        note += f"; {not_collected} not assessed (unknown, not counted)"
    return Table(
        f"{name.lower()}_incidence",
        f"{name} by maximum grade (ASTCT)",
        ("", "subjects"),
        tuple(rows),
        note + ". Onset and duration over subjects with an episode.",
    )


def lab_shift(subjects: Sequence[SubjectSummary]) -> Table:
    """Per CTCAE term, subjects by baseline grade (rows) and worst post-baseline grade."""
    columns = (*(str(g) for g in GRADES), "not graded")
    counts: dict[tuple[str, str, str], int] = {}
    terms: set[str] = set()
    for subject in subjects:
        for key in subject.lab_shifts or ():  # not collected: the subject is in no shift table
            terms.add(key[0])
            counts[key] = counts.get(key, 0) + 1
    rows = []
    baseline_rows = (*(str(g) for g in GRADES), "not graded", "no baseline")
    for term in sorted(terms):
        for base_grade in baseline_rows:
            cells = [counts.get((term, base_grade, col), 0) for col in columns]
            if any(cells):
                rows.append((term, base_grade, *(str(c) for c in cells), str(sum(cells))))
    return Table(
        "lab_shift",
        "Laboratory shift tables (CTCAE v5.0): baseline grade by worst post-baseline grade",
        ("term", "baseline grade", *(f"worst {c}" for c in columns), "subjects"),
        tuple(rows),
        "Subjects with at least one post-baseline result of the term. 'not graded': a limit the "
        "grade depends on was missing (a ULN; or an LLN for a count or haemoglobin at or above "
        "its grade-2 cut), so no grade was given.",
    )


def _grade_text(grade: int | None) -> str:
    return "not graded" if grade is None else str(grade)


def icaht_table(subjects: Sequence[SubjectSummary]) -> Table:
    """Subjects by early (days 0-30) and late (days 31-100) ICAHT grade."""
    total = len(subjects)
    early = [s.early_icaht for s in subjects]
    late = [s.late_icaht for s in subjects]
    rows = [(f"grade {g}", percent(early.count(g), total), percent(late.count(g), total)) for g in GRADES]
    rows.append(("unknown", percent(early.count(None), total), percent(late.count(None), total)))
    return Table(
        "icaht",
        "ICAHT (EHA/EBMT)",
        ("", "early ICAHT (days 0-30)", "late ICAHT (days 31-100)"),
        tuple(rows),
        f"n (%) of all {total} subjects. Unknown: no ANC on or before day 0 (early) or fewer "
        "than two ANC dates on days 31-100 (late).",
    )


def hypogammaglobulinemia_table(subjects: Sequence[SubjectSummary]) -> Table:
    """Subjects with IgG < 400 mg/dL after baseline, without it, and never measured then."""
    total = len(subjects)
    hypo = [s.hypogammaglobulinemia for s in subjects]
    rows = (
        ("yes (IgG < 400 mg/dL after baseline)", percent(hypo.count(True), total)),
        ("no", percent(hypo.count(False), total)),
        ("unknown (no IgG after baseline)", percent(hypo.count(None), total)),
    )
    return Table(
        "hypogammaglobulinemia",
        "Hypogammaglobulinaemia (protocol definition)",
        ("", "subjects"),
        rows,
        f"n (%) of all {total} subjects.",
    )


def subject_table(subjects: Sequence[SubjectSummary]) -> Table:
    """One row per subject: CRS, ICANS, ICAHT, hypogammaglobulinaemia and the AEs reported."""

    def episode(e: Episode) -> str:
        if e.max_grade is None:
            return "not assessed"
        if e.max_grade == 0:
            return "none"
        return f"grade {e.max_grade}, day {e.onset_day}, {e.duration_days} d"

    rows = []
    for s in subjects:
        aes = s.adverse_events
        listed = (
            "not collected" if aes is None else "; ".join(f"{term} (grade {g})" for term, g in aes) or "none"
        )
        hypo = s.hypogammaglobulinemia
        rows.append(
            (
                s.subject_id,
                episode(s.crs),
                episode(s.icans),
                _grade_text(s.early_icaht).replace("not graded", "unknown"),
                _grade_text(s.late_icaht).replace("not graded", "unknown"),
                "unknown" if hypo is None else "yes" if hypo else "no",
                listed,
            )
        )
    return Table(
        "subjects",
        "Per subject",
        ("subject", "CRS", "ICANS", "early ICAHT", "late ICAHT", "hypogamma", "reported AEs"),
        tuple(rows),
        "CRS/ICANS: maximum grade, onset study day, duration in days.",
    )


def build_tables(subjects: Sequence[SubjectSummary]) -> list[Table]:
    """Every table of the report, in the order they appear."""
    return [
        subject_table(subjects),
        episode_incidence(subjects, "CRS"),
        episode_incidence(subjects, "ICANS"),
        icaht_table(subjects),
        hypogammaglobulinemia_table(subjects),
        lab_shift(subjects),
        ae_incidence(subjects),
    ]


def swimmer_svg(subjects: Sequence[SubjectSummary]) -> str:
    """Swimmer plot: per subject, CRS (upper bar) and ICANS (lower, hatched) grade by study day."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    with matplotlib.rc_context({"svg.hashsalt": "nmocart-safety", "svg.fonttype": "none", "font.size": 10}):
        height = 1.6 + 0.42 * max(len(subjects), 1)
        # An SVG canvas: the layout step measures text with the SVG renderer instead of painting
        # a pixel buffer (at 100 dpi that buffer alone took 170 MB for 1,000 subjects).
        fig = Figure(figsize=(10, height))
        FigureCanvasSVG(fig)
        ax = fig.subplots()
        last_day = 14
        for lane, subject in enumerate(reversed(subjects)):
            for offset, episode, hatch in ((0.05, subject.crs, None), (-0.4, subject.icans, "///")):
                for day in episode.assessments or ():
                    last_day = max(last_day, day.study_day)
                    if day.grade:
                        ax.add_patch(
                            Rectangle(
                                (day.study_day - 0.5, lane + offset),
                                1.0,
                                0.35,
                                facecolor=GRADE_COLOURS[day.grade],
                                edgecolor="#333333",
                                linewidth=0.4,
                                hatch=hatch,
                            )
                        )
                assessed = [d.study_day for d in episode.assessments or ()]
                if assessed:
                    y = lane + offset + 0.175
                    ax.plot(
                        [min(assessed) - 0.5, max(assessed) + 0.5],
                        [y, y],
                        color="#d0d0d0",
                        linewidth=0.6,
                        linestyle=(0, (4, 3)),
                        zorder=0,
                    )
        ax.set_yticks(range(len(subjects)))
        ax.set_yticklabels([literal(s.subject_id) for s in reversed(subjects)])
        ax.set_ylim(-0.6, len(subjects) - 0.4)
        ax.set_xlim(-0.5, last_day + 0.5)
        ax.set_xticks(range(0, last_day + 1, 2))
        ax.set_xlabel("Study day (day 0 = CAR-T infusion)")
        ax.set_ylabel("Subject")
        ax.set_title("CRS and ICANS grade by study day (ASTCT)")
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
        handles = [
            Patch(facecolor=GRADE_COLOURS[g], edgecolor="#333333", label=f"grade {g}") for g in (1, 2, 3, 4)
        ]
        handles += [
            Patch(facecolor="white", edgecolor="#333333", label="CRS: upper bar"),
            Patch(facecolor="white", edgecolor="#333333", hatch="///", label="ICANS: lower bar"),
        ]
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            title="Grade / syndrome",
        )
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _csv_text(table: Table) -> str:
    return csv_text(table.header, table.rows)


def render_html(
    subjects: Sequence[SubjectSummary], tables: Sequence[Table], params: SafetyParameters, svg: str
) -> str:
    """The self-contained report page (inline CSS and SVG)."""
    env = Environment(
        loader=PackageLoader("nmocart.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    template = env.get_template("safety_report.html.j2")
    return template.render(
        tables=tables,
        svg=svg,
        parameters=params.identity(),
        version=nmocart.__version__,
        n_subjects=len(subjects),
    )


def write_report(records: Iterable[SafetyRecord], params: SafetyParameters, out: Path) -> list[Path]:
    """Write ``report.html``, one CSV per table and ``graded.ndjson`` into ``out``.

    Streaming: each record is graded, its output line spooled to a scratch file in ``out``
    and only its :class:`SubjectSummary` kept, so memory grows with the number of subjects
    by a few hundred bytes each, not with their assessments and lab results. Subjects are
    reported sorted by id (stable), whatever the input order.
    """
    out.mkdir(parents=True, exist_ok=True)
    summaries: list[SubjectSummary] = []
    spans: list[tuple[int, int]] = []
    spool_path = out / ".graded.spool"
    with spool_path.open("w+b") as spool:
        offset = 0
        for record in records:
            subject = grade_subject(record, params)
            line = orjson.dumps(as_dict(subject)) + b"\n"
            spool.write(line)
            spans.append((offset, len(line)))
            offset += len(line)
            summaries.append(summarise(subject))
        order = sorted(range(len(summaries)), key=lambda i: summaries[i].subject_id)
        subjects = [summaries[i] for i in order]
        tables = build_tables(subjects)
        written: list[Path] = []
        for table in tables:
            path = out / f"{table.name}.csv"
            path.write_text(_csv_text(table), encoding="utf-8", newline="")
            written.append(path)
        graded = out / "graded.ndjson"
        with graded.open("wb") as sink:
            for i in order:
                start, length = spans[i]
                spool.seek(start)
                sink.write(spool.read(length))
    spool_path.unlink()
    html = out / "report.html"
    page = render_html(subjects, tables, params, swimmer_svg(subjects))
    html.write_text(re.sub(r"[ \t]+\n", "\n", page), encoding="utf-8")
    return [html, *written, graded]
