"""The CONSORT-style screening flow diagram (assessed, excluded by reason, enrolled) as SVG.

Drawn from the screening log's counts (``nmocart.db.screening_log.consort_flow``); text is
escaped and the geometry depends only on the counts, so the same log gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from nmocart.db.screening_log import ConsortFlow

_STROKE = 'stroke="#14325c" stroke-width="1.5"'


def _box(x: int, y: int, w: int, lines: Sequence[str]) -> tuple[str, int]:
    """A box with one bold title line and plain lines; returns the SVG and its height."""
    h = 14 + 20 * len(lines)
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4" fill="#ffffff" {_STROKE}/>']
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{x + 10}" y="{y + 23 + 20 * i}"{weight}>{escape(line)}</text>')
    return "\n".join(out), h


def _arrow(x1: int, y1: int, x2: int, y2: int) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" {_STROKE} marker-end="url(#arrow)"/>'


def flow_svg(flow: ConsortFlow) -> str:
    """Assessed -> (excluded by reason, at the side) -> still in screening -> enrolled."""
    width = 800
    main_x, main_w, side_x, side_w = 30, 320, 420, 360
    centre = main_x + main_w // 2
    parts: list[str] = []
    box, h = _box(main_x, 20, main_w, [f"Assessed for eligibility (n={flow.assessed})"])
    parts.append(box)
    top = 20 + h
    reasons = [f"{criterion} not met / present: {n}" for criterion, n in flow.excluded_by_criterion.items()]
    if flow.screen_failure_without_criterion:
        reasons.append(f"screen failure, no criterion failed: {flow.screen_failure_without_criterion}")
    side_lines = [
        f"Excluded (n={flow.excluded})",
        f"Screen failures: {flow.screen_failures}",
        *(f"  {r}" for r in reasons),
        f"Withdrew before enrolment: {flow.withdrawn_before_enrolment}",
    ]
    side_y = top + 30
    box, side_h = _box(side_x, side_y, side_w, side_lines)
    parts.append(box)
    parts.append(_arrow(centre, side_y + side_h // 2, side_x, side_y + side_h // 2))
    next_y = side_y + side_h + 30
    parts.append(_arrow(centre, top, centre, next_y))
    box, h = _box(
        main_x,
        next_y,
        main_w,
        [f"Still in screening (n={flow.in_screening})", "screening, eligible or consented"],
    )
    parts.append(box)
    enrolled_y = next_y + h + 40
    parts.append(_arrow(centre, next_y + h, centre, enrolled_y))
    box, h = _box(
        main_x,
        enrolled_y,
        main_w,
        [f"Enrolled (n={flow.enrolled})", f"withdrawn after enrolment: {flow.withdrawn_after_enrolment}"],
    )
    parts.append(box)
    height = enrolled_y + h + 20
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="flow-title" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="14">\n'
        '<title id="flow-title">Screening flow: assessed, excluded by reason, enrolled</title>\n'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#14325c"/></marker></defs>\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )
