"""The per-profile NCA table (spec section 3) as rows, CSV and JSON, and parameter units.

Numbers are written with 12 significant digits (``format(x, ".12g")``): deterministic,
locale-free and far inside the 1e-6 relative accuracy the reference comparison needs.
A parameter that is not estimable is an empty CSV cell and a JSON null. CSV cells go through
``csv_row`` (no cell can run as a spreadsheet formula).
"""

from __future__ import annotations

import csv
import io
import math

import orjson

from nmocart.kernel.csv_cells import csv_row
from nmocart.kinetics.nca import PARAMETERS, NcaResult
from nmocart.kinetics.samples import SampleTable

COLUMNS: tuple[str, ...] = ("subject", "analyte", *PARAMETERS, "notes")
"""The CSV columns, exactly as spec section 3 lists them."""

TIME_UNIT = "day"
"""Time unit of the protocol's sample times (days since infusion)."""

_INTEGER = frozenset({"lambda_z_n_points"})


def format_number(x: float) -> str:
    """A finite number with 12 significant digits; ``""`` for NaN (not estimable)."""
    if not math.isfinite(x):
        return ""
    if x == 0:
        return "0"
    return format(x, ".12g")


def json_number(x: float) -> float | None:
    """The JSON value of a parameter: the same 12-digit rounding as the CSV, or null."""
    if not math.isfinite(x):
        return None
    return float(format(x, ".12g"))


def parameter_unit(name: str, conc_unit: str, time_unit: str = TIME_UNIT) -> str:
    """The unit of a parameter given the concentration and time units ("" if unitless)."""
    c = conc_unit or "conc unit"
    if name in {"cmax", "clast_obs", "clast_pred"}:
        return c
    if name in {"tmax", "tlast", "half_life", "lambda_z_time_first", "lambda_z_time_last"}:
        return time_unit
    if name in {"auc_0_28", "auclast", "aucinf_obs"}:
        return f"{c}*{time_unit}"
    if name == "lambda_z":
        return f"1/{time_unit}"
    return ""


def table_csv(samples: SampleTable, result: NcaResult) -> str:
    """The table as CSV text: one row per profile, the spec's columns, empty = not estimable."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_row(COLUMNS))
    cols = [result.values[p].tolist() for p in PARAMETERS]
    for i in range(result.n):
        cells = [samples.subject[i], samples.analyte[i]]
        for p, values in zip(PARAMETERS, cols, strict=True):
            x = values[i]
            cells.append(str(int(x)) if p in _INTEGER and math.isfinite(x) else format_number(x))
        cells.append(result.note_text(i))
        writer.writerow(csv_row(cells))
    return buf.getvalue()


def table_records(samples: SampleTable, result: NcaResult) -> list[dict[str, object]]:
    """One JSON-ready record per profile: the spec's columns, units and persistence."""
    cols = [result.values[p].tolist() for p in PARAMETERS]
    records: list[dict[str, object]] = []
    for i in range(result.n):
        rec: dict[str, object] = {"subject": samples.subject[i], "analyte": samples.analyte[i]}
        for p, values in zip(PARAMETERS, cols, strict=True):
            x = values[i]
            if p in _INTEGER:
                rec[p] = int(x) if math.isfinite(x) else None
            else:
                rec[p] = json_number(x)
        rec["notes"] = result.note_text(i)
        rec["conc_unit"] = samples.unit[i]
        rec["measurable_at_last_sample"] = bool(result.measurable_at_last_sample[i])
        records.append(rec)
    return records


def table_json(samples: SampleTable, result: NcaResult) -> bytes:
    """The table as indented JSON: the options used, the time unit and one object per profile."""
    doc = {
        "auc_method": result.options.auc_method,
        "auc_0_28_interval": [0.0, result.options.auc_interval_end],
        "time_unit": TIME_UNIT,
        "profiles": table_records(samples, result),
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
