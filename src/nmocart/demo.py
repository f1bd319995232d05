"""The main job on the embedded defaults: the shipped example candidates through every path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
from rich.console import Console

from nmocart import screening_report
from nmocart.eligibility import screen
from nmocart.protocol import load_protocol
from nmocart.record import parse_record

EXAMPLES = ("eligible", "ineligible", "incomplete")
"""The study team's example candidates shipped in ``nmocart/data/examples``."""


def example_bytes(name: str) -> bytes:
    """One shipped example record, byte for byte."""
    return (resources.files("nmocart") / "data" / "examples" / f"{name}.json").read_bytes()


def run(out: Path, console: Console) -> list[Path]:
    """Screen the examples (checklists to ``console``; JSON, NDJSON and HTML into ``out``)."""
    protocol = load_protocol()
    folder = out / "screening"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    results = []
    for name in EXAMPLES:
        result = screen(parse_record(example_bytes(name)), protocol)
        results.append(result)
        screening_report.print_checklist(console, result)
        path = folder / f"{result.candidate_id}.json"
        path.write_bytes(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        written.append(path)
    ndjson = folder / "screening.ndjson"
    ndjson.write_bytes(b"".join(orjson.dumps(r.as_dict()) + b"\n" for r in results))
    html = folder / "screening.html"
    html.write_text(
        screening_report.html_pages(results, [f"example {n}.json" for n in EXAMPLES]),
        encoding="utf-8",
    )
    written += [ndjson, html]
    return written
