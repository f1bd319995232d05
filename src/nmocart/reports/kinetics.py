"""Writing the ``--out`` folder: table (CSV and JSON), summary, plots and an HTML report.

An adapter around the domain core: file names are fixed and sorted, numbers in the CSV and
JSON files formatted as in ``table`` (12 significant digits), on the HTML page at clinically
sensible precision (:func:`page_number`); images embedded as base64 so the page is one file.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

import jinja2

from nmocart.kinetics.nca import PARAMETERS, NcaResult
from nmocart.kinetics.samples import SampleTable
from nmocart.kinetics.summary import SUMMARY_COLUMNS, summarise, summary_csv
from nmocart.kinetics.table import (
    COLUMNS,
    TIME_UNIT,
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


PAGE_DIGITS = 3
"""Significant digits of a parameter on the page (as NCA tables report them; CSV/JSON keep 12)."""

_FIT_QUALITY = frozenset({"r_squared", "adj_r_squared"})
_COUNTS = frozenset({"lambda_z_n_points", "n"})


def significant(x: float, digits: int = PAGE_DIGITS) -> str:
    """``x`` to ``digits`` significant digits in fixed notation with thousands separators.

    ``117884.8`` is ``117,885`` at 6 digits and ``118,000`` at 3; ``0.0419158`` is
    ``0.0419``; ``9.996`` is ``10.0``. Below 1e-6 in magnitude it switches to scientific
    notation (``1.00e-07``). Empty for NaN or infinity (not estimable).
    """
    if not math.isfinite(x):
        return ""
    if x == 0:
        return "0"
    value = float(format(x, f".{digits}g"))  # rounded first: 9.996 -> 10.0 has one more integer digit
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -6:
        return format(value, f".{digits - 1}e")
    return format(value, f",.{max(digits - 1 - exponent, 0)}f")


def page_number(x: float, parameter: str) -> str:
    """A parameter as shown on the page: counts whole, R² to 4 decimals, CV% to 1, else 3 digits.

    R² to 4 decimals because the terminal-phase rule compares adjusted R² to 1e-4.
    """
    if not math.isfinite(x):
        return ""
    if parameter in _COUNTS:
        return str(int(x))
    if parameter in _FIT_QUALITY:
        return f"{x:.4f}"
    if parameter == "geocv_pct":
        return f"{x:.1f}"
    return significant(x)


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
    summary_rows = []
    for r in summary:
        shown = "" if r.parameter in _COUNTS else r.parameter  # a mean of counts is not a count
        summary_rows.append(
            [
                r.analyte,
                r.parameter,
                r.unit,
                str(r.n),
                *(page_number(x, shown) for x in (r.mean, r.sd, r.geomean)),
                page_number(r.geocv_pct, "geocv_pct"),
                *(page_number(x, shown) for x in (r.median, r.min, r.max)),
            ]
        )
    # The same values as the CSV table, at the page's precision (the CSV keeps 12 digits).
    # Notes are footnotes under the table (numbered in the notes column), so it fits a screen.
    columns = [result.values[p].tolist() for p in PARAMETERS]
    table_rows = []
    notes: list[tuple[str, str, str]] = []
    for i in range(result.n):
        text = result.note_text(i)
        if text:
            notes.append((samples.subject[i], samples.analyte[i], text))
        table_rows.append(
            [
                samples.subject[i],
                samples.analyte[i],
                *(page_number(values[i], p) for p, values in zip(PARAMETERS, columns, strict=True)),
                f"[{len(notes)}]" if text else "",
            ]
        )
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
            page_number(float(result.values["tlast"][i]), "tlast"),
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
        notes=notes,
        figures=figures,
    )
