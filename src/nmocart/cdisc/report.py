"""The validation report (``--report FILE``): one self-contained HTML page of what was checked.

For the data manager's file: the export's identity (study, protocol version and parameter hash,
creation date-time, nmocart version), the rows per dataset, every check with its result and
failures, and the warnings. No scripts, no external resources, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

import nmocart
from nmocart.cdisc.validation import Check

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>CDISC export validation: {{ studyid }}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
.pass { color: #176117; font-weight: bold; }
.fail { color: #a01010; font-weight: bold; }
</style></head><body>
<h1>CDISC SDTM export: validation report</h1>
<p><b>{{ verdict }}</b>: {{ passed }} of {{ checks|length }} checks passed.</p>
<table>
<tr><th>Study</th><td>{{ studyid }}</td></tr>
<tr><th>Protocol</th><td>version {{ protocol_version }}, parameters sha256 {{ parameters_sha256 }}</td></tr>
<tr><th>Created</th><td>{{ created }}</td></tr>
<tr><th>Written by</th><td>nmocart {{ version }}</td></tr>
<tr><th>Standards</th>
<td>SDTMIG 3.4, CDISC/NCI SDTM CT 2026-03-27, Dataset-JSON 1.1, Define-XML 2.1, SAS XPORT v5</td></tr>
</table>
<h2>Datasets</h2>
<table><tr><th>Dataset</th><th>Label</th><th>Rows</th></tr>
{% for name, label, rows in datasets %}<tr><td>{{ name }}</td><td>{{ label }}</td><td>{{ rows }}</td></tr>
{% endfor %}</table>
<h2>Checks</h2>
<table><tr><th>Check</th><th>File</th><th>What</th><th>Result</th><th>Failures</th></tr>
{% for c in checks %}<tr><td>{{ c.name }}</td><td>{{ c.target }}</td><td>{{ c.detail }}</td>
<td class="{{ 'pass' if c.passed else 'fail' }}">{{ 'pass' if c.passed else 'FAIL' }}</td>
<td>{% for f in c.failures %}{{ f }}<br>{% endfor %}</td></tr>
{% endfor %}</table>
<h2>Warnings</h2>
{% if warnings %}<ul>{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% else %}<p>None.</p>{% endif %}
</body></html>
"""


@dataclass(frozen=True)
class ReportContext:
    """What the report shows besides the checks."""

    studyid: str
    protocol_version: str
    parameters_sha256: str
    created: str
    datasets: Sequence[tuple[str, str, int]]
    warnings: Sequence[str]


def render_report(context: ReportContext, checks: Sequence[Check]) -> str:
    """The report page as HTML text (autoescaped)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    passed = sum(1 for c in checks if c.passed)
    return env.from_string(TEMPLATE).render(
        studyid=context.studyid,
        protocol_version=context.protocol_version,
        parameters_sha256=context.parameters_sha256,
        created=context.created,
        version=nmocart.__version__,
        datasets=context.datasets,
        warnings=context.warnings,
        checks=checks,
        passed=passed,
        verdict="VALID" if passed == len(checks) else "INVALID: nothing was written",
    )
