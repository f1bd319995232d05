"""Writing the ``--out`` folder: table (CSV and JSON), summary, plots and an HTML report.

An adapter around the domain core: file names are fixed and sorted, numbers formatted as in
``table``, images embedded in the report as base64 so it is one self-contained file.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

import jinja2

from nmocart.kinetics.nca import PARAMETERS, NcaResult
from nmocart.kinetics.samples import SampleTable
from nmocart.kinetics.summary import SUMMARY_COLUMNS, summarise, summary_csv
from nmocart.kinetics.table import (
    COLUMNS,
    TIME_UNIT,
    format_number,
    parameter_unit,
    table_csv,
    table_json,
)
from nmocart.reports.kinetics_plots import plot_individual, plot_median


def _slug(text: str) -> str:
    """A file-name-safe lower-case form of an analyte name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "analyte"


def write_outputs(out: Path, samples: SampleTable, result: NcaResult, source_name: str = "") -> list[Path]:
    """Write every output into ``out`` (created if needed); return the paths in write order."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, data: str | bytes) -> Path:
        path = out / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8", newline="\n")
        else:
            path.write_bytes(data)
        written.append(path)
        return path

    csv_text = table_csv(samples, result)
    write("kinetics_nca.csv", csv_text)
    write("kinetics_nca.json", table_json(samples, result))
    rows = summarise(samples, result)
    write("kinetics_summary.csv", summary_csv(rows))
    figures: list[tuple[str, str, str]] = []
    for k, analyte in enumerate(dict.fromkeys(samples.analyte), start=1):
        stem = f"kinetics_{k}_{_slug(analyte)}"
        ind = plot_individual(samples, result, analyte, out / f"{stem}_individual.png")
        med = plot_median(samples, analyte, out / f"{stem}_median.png")
        written.extend([ind, med])
        for path, caption in (
            (ind, f"{analyte}: individual profiles, log scale, LLOQ and terminal-phase fit"),
            (med, f"{analyte}: median and interquartile range by nominal day"),
        ):
            figures.append((path.name, caption, base64.b64encode(path.read_bytes()).decode()))
    write("kinetics_report.html", render_report(samples, result, figures, source_name))
    return written


def render_report(
    samples: SampleTable,
    result: NcaResult,
    figures: list[tuple[str, str, str]],
    source_name: str,
) -> str:
    """The HTML report: options, summary, per-subject table with notes, embedded figures."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nmocart.reports", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    template = env.get_template("kinetics_report.html.j2")
    summary = summarise(samples, result)
    summary_rows = [
        [
            r.analyte,
            r.parameter,
            r.unit,
            str(r.n),
            *(format_number(x) for x in (r.mean, r.sd, r.geomean, r.geocv_pct, r.median, r.min, r.max)),
        ]
        for r in summary
    ]
    # The same cells as the CSV table, so the report never disagrees with it.
    table_rows = list(csv.reader(io.StringIO(table_csv(samples, result))))[1:]
    # Column units in the header only when every analyte shares one concentration unit.
    conc_units = set(samples.unit)
    shared = conc_units.pop() if len(conc_units) == 1 else None
    units = (
        ["", ""]
        + [parameter_unit(p, shared, TIME_UNIT) if shared is not None else "" for p in PARAMETERS]
        + [""]
    )
    persistence = [
        [
            samples.subject[i],
            samples.analyte[i],
            format_number(float(result.values["tlast"][i])),
            "yes" if result.measurable_at_last_sample[i] else "no",
        ]
        for i in range(result.n)
    ]
    return template.render(
        persistence=persistence,
        source_name=source_name,
        options=result.options,
        time_unit=TIME_UNIT,
        n_profiles=result.n,
        summary_columns=SUMMARY_COLUMNS,
        summary_rows=summary_rows,
        columns=COLUMNS,
        units=units,
        table_rows=table_rows,
        figures=figures,
    )
