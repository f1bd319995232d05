"""Rendering of screening results for people: a terminal checklist and a printable HTML page.

Record text reaches rich only as ``Text`` objects (never parsed as markup: a medication named
``prednisone [/]`` or ``[link=...]`` prints as written) and jinja2 only autoescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import jinja2
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nmocart import __version__
from nmocart.screening.eligibility import ScreeningResult

VERDICT_STYLE = {
    "met": "green",
    "absent": "green",
    "not_applicable": "dim",
    "unknown": "yellow",
    "not_met": "bold red",
    "present": "bold red",
}
DECISION_STYLE = {"eligible": "bold green", "ineligible": "bold red", "incomplete": "bold yellow"}


def checklist(result: ScreeningResult) -> Group:
    """The terminal checklist: header, one row per criterion, then the to-do list of unknowns."""
    stamp = result.protocol
    header = Text.assemble(
        ("Candidate ", "bold"),
        (result.candidate_id, "bold cyan"),
        "   decision: ",
        (result.decision.upper(), DECISION_STYLE[result.decision]),
        f"\nas of {result.as_of.isoformat()}   protocol {stamp['id']} v{stamp['version']}"
        f"   parameters sha256 {stamp['parameters_sha256'][:12]}",
    )
    table = Table(show_lines=False, expand=True, header_style="bold")
    table.add_column("Criterion", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Reason", ratio=3)
    table.add_column("Evidence", ratio=1, style="dim")
    for c in result.criteria:
        table.add_row(  # Text, not str: record data is never read as rich markup
            Text(c.id),
            Text(c.verdict, style=VERDICT_STYLE[c.verdict]),
            Text(c.reason),
            Text(" ".join(c.evidence)),
        )
    parts: list[Text | Table | Panel] = [header, table]
    if result.missing:
        todo = Text("\n").join(Text(f"[ ] {m}") for m in result.missing)
        parts.append(Panel(todo, title="To do: data that would settle the unknowns", border_style="yellow"))
    return Group(*parts)


def print_checklist(console: Console, result: ScreeningResult) -> None:
    """Print one candidate's checklist to ``console``."""
    console.print(checklist(result))
    console.print()


def verdict_tally(result: ScreeningResult) -> list[tuple[str, int]]:
    """How many criteria got each verdict, in a fixed order (for the page header)."""
    order = ("not_met", "present", "unknown", "met", "absent", "not_applicable")
    counts = {word: sum(c.verdict == word for c in result.criteria) for word in order}
    return [(word, counts[word]) for word in order if counts[word]]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("nmocart.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def html_pages(results: Sequence[ScreeningResult], sources: Sequence[str]) -> str:
    """One self-contained, printable HTML document with one page per candidate."""
    template = _environment().get_template("screening.html.j2")
    return template.render(
        pages=[(r, s) for r, s in zip(results, sources, strict=True)],
        version=__version__,
        tally=verdict_tally,
        verdict_class={
            "met": "ok",
            "absent": "ok",
            "not_applicable": "na",
            "unknown": "unk",
            "not_met": "bad",
            "present": "bad",
        },
    )
