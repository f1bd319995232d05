"""The main job on the embedded defaults: screening, safety grading and cellular kinetics.

Screens the study team's three example candidates, grades and reports the seeded
12-subject synthetic safety study, and runs the NCA of a seeded 12-subject synthetic
kinetics study, writing every output under one folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
from rich.console import Console
from rich.text import Text

from nmocart.reports import screening as screening_report
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import parse_record

EXAMPLES = ("eligible", "ineligible", "incomplete")
"""The study team's example candidates shipped in ``nmocart/data/examples``."""


def example_bytes(name: str) -> bytes:
    """One shipped example record, byte for byte."""
    return (resources.files("nmocart") / "data" / "examples" / f"{name}.json").read_bytes()


def run(out: Path, console: Console, shown_as: Path | None = None) -> list[Path]:
    """All three capabilities on the embedded defaults; returns every path written.

    ``shown_as`` is the folder named in the messages when ``out`` is a staging folder.
    """
    shown = out if shown_as is None else shown_as
    from nmocart.demo.kinetics import write_demo as kinetics_demo
    from nmocart.demo.safety import write_demo as safety_demo

    console.rule("[bold]Screening: the study team's three example candidates")
    written = run_screening(out / "screening", console)
    console.rule("[bold]Safety: seeded synthetic study of 12 treated subjects")
    safety = safety_demo(out / "safety")
    console.print(Text(f"graded and reported {len(safety)} files; open {shown / 'safety'}/ for the report"))
    console.rule("[bold]Cellular kinetics: seeded synthetic study (Stein et al. 2019 model)")
    kinetics = kinetics_demo(out / "kinetics")
    folder = shown / "kinetics"
    console.print(Text(f"NCA tables, summary, plots and report: {len(kinetics)} files in {folder}/"))
    return written + safety + kinetics


def run_screening(folder: Path, console: Console) -> list[Path]:
    """Screen the examples (checklists to ``console``; JSON, NDJSON and HTML into ``folder``)."""
    protocol = load_protocol()
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
