"""What the candidate pages show, computed from the database layer's views (no rules here).

The to-do list links each missing datum to the form field that settles it; validation
messages are mapped onto the form inputs they name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from nmocart.web.record_forms import SECTIONS, Section, error_field, pointer_target

_LAB_TEST = re.compile(r"\ba (?P<test>[a-z_]+) result\b")


@dataclass(frozen=True)
class TodoItem:
    """One datum the engine says would settle an unknown, and where to enter it."""

    text: str
    href: str


def todo_items(candidate_id: str, missing: Sequence[str]) -> list[TodoItem]:
    """The result's ``missing`` lines, each linked to the section form (and field) that settles it."""
    items = []
    for line in missing:
        pointer = line.split(": ", 1)[0]
        section, _index, field = pointer_target(pointer)
        query: dict[str, str] = {}
        if section == "labs":
            match = _LAB_TEST.search(line)
            if match is not None:
                query["f.test"] = match["test"]
        anchor = f"field-f-{field}" if field else "form"
        href = f"/candidates/{candidate_id}/edit/{section}"
        if query:
            href += "?" + urlencode(query)
        items.append(TodoItem(line, f"{href}#{anchor}"))
    return items


def verdict_tally(result: Mapping[str, Any]) -> list[tuple[str, int]]:
    """How many criteria got each verdict, worst first (for the page header)."""
    order = ("not_met", "present", "unknown", "met", "absent", "not_applicable")
    counts = {word: sum(c["verdict"] == word for c in result["criteria"]) for word in order}
    return [(word, counts[word]) for word in order if counts[word]]


def form_errors(
    problems: Sequence[str], section: Section, index: int | None
) -> tuple[dict[str, str], list[str]]:
    """Validation lines mapped to this form's inputs, and every line for the summary."""
    errors: dict[str, str] = {}
    for problem in problems:
        path, _, message = problem.partition(": ")
        if path == "reason":
            errors["reason"] = message
            continue
        key = error_field(problem, section, index)
        if key is not None:
            errors.setdefault(key, message)
    return errors, list(problems)


def section_or_none(name: str) -> Section | None:
    """The record section called ``name``, if there is one."""
    return SECTIONS.get(name)
