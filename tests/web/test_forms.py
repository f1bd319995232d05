"""The record forms: derived from the models, round-trip items, map errors and pointers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmocart.db.screening_log import ConsortFlow
from nmocart.screening.record import ScreeningRecord
from nmocart.web.flow import flow_svg
from nmocart.web.pages import pointer_anchor, shown
from nmocart.web.record_forms import (
    SECTIONS,
    EditError,
    apply_edit,
    error_field,
    form_values,
    item_from_form,
    pointer_target,
)
from nmocart.web.views import todo_items
from tests.web.conftest import example_as


def test_every_record_field_has_a_form() -> None:
    """Every field of the record is edited by exactly one section (candidate_id is the key)."""
    covered = {f.name for f in SECTIONS["candidate"].fields} | {n for n in SECTIONS if n != "candidate"}
    assert covered | {"candidate_id"} == set(ScreeningRecord.model_fields)


def _known(value: Any) -> Any:
    """The value with every unknown (None) member left out, as a form gives it back."""
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_known(v) for v in value]
    return value


def test_example_items_round_trip_through_their_forms() -> None:
    """Each item of the examples, shown in its form and read back, is the same item."""
    for name in ("eligible", "ineligible", "incomplete"):
        record = example_as(name, "RT-1")
        for section_name, section in SECTIONS.items():
            if section.shape == "list":
                for item in record.get(section_name) or []:
                    back = item_from_form(section, form_values(section, item))
                    assert back == _known(item)
            elif section.shape == "fields":
                back = item_from_form(section, form_values(section, record))
                assert back == {
                    f.name: record[f.name] for f in section.fields if record.get(f.name) is not None
                }


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)),
    st.text(min_size=1, max_size=20).filter(lambda t: t.strip() == t),
)
def test_blank_stays_unknown_and_values_survive(flag: bool | None, fold: float | None, notes: str) -> None:
    """A blank input is left out (unknown), never turned into false or zero; values survive."""
    investigator = SECTIONS["investigator"]
    item = item_from_form(
        investigator, form_values(investigator, {"survival_over_12_weeks": flag, "notes": notes})
    )
    assert (
        item.get("survival_over_12_weeks") is flag
        if flag is not None
        else "survival_over_12_weeks" not in item
    )
    assert item["notes"] == notes
    tcell = SECTIONS["tcell_proliferation"]
    back = item_from_form(tcell, form_values(tcell, {"date": "2026-01-01", "fold_expansion": fold}))
    if fold is None:
        assert "fold_expansion" not in back
    else:
        assert back["fold_expansion"] == fold


def test_apply_edit_actions() -> None:
    record: dict[str, Any] = example_as("incomplete", "AE-1")
    labs = SECTIONS["labs"]
    removed = apply_edit(record, labs, "remove", 0, {})
    assert removed["labs"] == record["labs"][1:]
    assert record["labs"] != removed["labs"]  # the original is not modified
    assert apply_edit(record, labs, "not-collected", None, {})["labs"] is None
    with pytest.raises(EditError, match=r"^labs: remove the items first"):
        apply_edit(record, labs, "collected-empty", None, {})
    with pytest.raises(EditError, match=r"^labs\[99\]: no such item"):
        apply_edit(record, labs, "update", 99, {})
    emptied = apply_edit({**record, "labs": []}, labs, "collected-empty", None, {})
    assert emptied["labs"] == []
    candidate = apply_edit(
        record, SECTIONS["candidate"], "save", None, {"f.screening_date": "2026-03-02", "f.sex": "female"}
    )
    assert "birth_date" not in candidate  # blank: not recorded
    assert candidate["candidate_id"] == "AE-1"


def test_error_fields_and_pointers() -> None:
    assert error_field("labs[3].unit: bad", SECTIONS["labs"], 3) == "f.unit"
    assert error_field("labs[3].unit: bad", SECTIONS["labs"], 2) is None
    assert error_field("attacks[0].syndromes[1].type: bad", SECTIONS["attacks"], 0) == "f.syndromes.1.type"
    assert error_field("birth_date: bad", SECTIONS["candidate"], None) == "f.birth_date"
    assert pointer_target("/labs/3") == ("labs", 3, None)
    assert pointer_target("/investigator/notes") == ("investigator", None, "notes")
    assert pointer_target("/contraception_agreed") == ("candidate", None, "contraception_agreed")
    assert pointer_anchor("/labs/3") == "labs-3"
    assert pointer_anchor("/attacks/0/syndromes/1") == "attacks-0"
    assert pointer_anchor("/investigator/other_risk") == "investigator-other_risk"
    assert pointer_anchor("/birth_date") == "birth_date"
    assert shown(None) == "not recorded"
    assert shown(False) == "no"
    assert shown([]) == "none"


def test_todo_links() -> None:
    items = todo_items(
        "C-1",
        (
            "/labs: a hbv_dna result dated 2026-02-02..2026-03-02",
            "/investigator/survival_over_12_weeks: investigator's estimate",
            "/tcell_proliferation: a CD3/CD28 T-cell proliferation result",
        ),
    )
    assert [i.href for i in items] == [
        "/candidates/C-1/edit/labs?f.test=hbv_dna#form",
        "/candidates/C-1/edit/investigator#field-f-survival_over_12_weeks",
        "/candidates/C-1/edit/tcell_proliferation#form",
    ]


def test_flow_svg_counts_and_escaping() -> None:
    flow = ConsortFlow(
        assessed=7,
        excluded=3,
        screen_failures=2,
        excluded_by_criterion={"EX2": 1, "EX<5>": 1},
        screen_failure_without_criterion=0,
        withdrawn_before_enrolment=1,
        in_screening=2,
        enrolled=2,
        withdrawn_after_enrolment=1,
    )
    svg = flow_svg(flow)
    assert svg == flow_svg(flow)
    for text in (
        "Assessed for eligibility (n=7)",
        "Excluded (n=3)",
        "EX2 not met / present: 1",
        "Enrolled (n=2)",
    ):
        assert text in svg
    assert "EX&lt;5&gt;" in svg
    assert "<EX<5>" not in svg
    from lxml import etree

    etree.fromstring(svg.encode())
    assert orjson.dumps(flow.as_dict())
