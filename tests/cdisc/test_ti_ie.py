"""TI (the protocol's criteria) and IE (criteria not met), spec sections 5.1 and 5.2."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings

from nmocart.cdisc.domains import IN3_SHORT, Person, build_ie, build_study, build_ti, criterion_text, ietestcd
from nmocart.cdisc.inputs import Sourced
from nmocart.screening.eligibility import screen
from nmocart.screening.protocol import load_protocol
from nmocart.screening.record import parse_record

from ..screening.strategies import records
from .study import dataset, enrolled_study, screening_records, study_input


def test_ti_has_the_19_criteria_in_protocol_order_with_two_digit_codes() -> None:
    ti, _ = build_ti(load_protocol())
    codes = [row[2] for row in ti.rows]
    assert codes == [f"IN{i:02d}" for i in range(1, 8)] + [f"EX{i:02d}" for i in range(1, 13)]
    assert {row[4] for row in ti.rows[:7]} == {"INCLUSION"}
    assert {row[4] for row in ti.rows[7:]} == {"EXCLUSION"}
    assert {row[0] for row in ti.rows} == {"CD19-CAR-T-NMOSD"}
    assert {row[5] for row in ti.rows} == {"1"}


def test_ietestcd_pads_to_two_digits() -> None:
    assert ietestcd("IN1") == "IN01"
    assert ietestcd("EX9") == "EX09"
    assert ietestcd("EX12") == "EX12"


def test_in3_gets_the_study_teams_meaningful_text_and_the_full_text_goes_to_define() -> None:
    protocol = load_protocol()
    ti, shortened = build_ti(protocol)
    assert ti.rows[2][3] == IN3_SHORT
    assert list(shortened) == ["IN03"]
    full = shortened["IN03"]
    assert len(full) == 559
    assert "\n" not in full
    assert "  " not in full
    assert full == " ".join(protocol.criterion("IN3").text.split())


def test_whitespace_runs_collapse_and_short_texts_stay_whole() -> None:
    assert criterion_text("  Age 18-60\n and   gender unlimited; ") == (
        "Age 18-60 and gender unlimited;",
        False,
    )


def test_a_criterion_of_exactly_200_characters_is_kept_and_201_is_shortened() -> None:
    exact = "word " * 39 + "abcde"  # 200 characters
    assert len(exact) == 200
    assert criterion_text(exact) == (exact, False)
    longer = exact + "f"
    text, short = criterion_text(longer)
    assert short
    assert text.endswith(" ...")
    assert len(text) <= 200
    head = text[: -len(" ...")]
    assert longer.startswith(head)
    assert longer[len(head)] == " "  # cut back to a word boundary
    assert len(head) <= 196


def test_ie_lists_exactly_the_exclusions_present_of_the_ineligible_example() -> None:
    ie = dataset(build_study(enrolled_study()), "IE")
    assert [(r["USUBJID"], r["IESEQ"], r["IESPID"], r["IETESTCD"]) for r in ie] == [
        ("CD19-CAR-T-NMOSD-SCR-0002", 1, "EX2", "EX02"),
        ("CD19-CAR-T-NMOSD-SCR-0002", 2, "EX5", "EX05"),
        ("CD19-CAR-T-NMOSD-SCR-0002", 3, "EX6", "EX06"),
    ]
    assert {(r["IEORRES"], r["IESTRESC"], r["IECAT"]) for r in ie} == {("Y", "Y", "EXCLUSION")}
    assert {r["IEDTC"] for r in ie} == {"2026-03-02"}
    assert {r["IEDY"] for r in ie} == {None}  # never treated


def test_unknown_criteria_of_the_incomplete_example_give_no_row() -> None:
    protocol = load_protocol()
    incomplete = screening_records()[2]
    result = screen(parse_record(orjson.dumps(incomplete)), protocol)
    assert result.decision == "incomplete"
    assert any(c.verdict == "unknown" for c in result.criteria)
    ie = dataset(build_study(enrolled_study()), "IE")
    assert not [r for r in ie if r["USUBJID"].endswith("SCR-0003")]


def test_an_inclusion_not_met_is_written_n_and_a_screen_failure_in_dm() -> None:
    old = screening_records()
    old[0]["birth_date"] = "1950-01-01"  # 76 on the screening date: IN1 not met
    study = build_study(study_input(screening=old))
    ie = [r for r in dataset(study, "IE") if r["USUBJID"].endswith("SCR-0001")]
    assert [(r["IETESTCD"], r["IECAT"], r["IEORRES"], r["IESTRESC"]) for r in ie] == [
        ("IN01", "INCLUSION", "N", "N")
    ]
    dm = {r["USUBJID"]: r for r in dataset(study, "DM")}
    assert dm["CD19-CAR-T-NMOSD-SCR-0001"]["ARMNRS"] == "SCREEN FAILURE"
    assert dm["CD19-CAR-T-NMOSD-SCR-0001"]["ARMCD"] is None


def test_ie_study_day_is_counted_from_the_infusion_for_a_treated_screen_failure() -> None:
    enrolment = (
        "candidate_id,subject_id,consent_date,enrolment_date\nSCR-0002,SUBJ-001,2026-03-01,2026-03-05\n"
    )
    safety = enrolled_study().safety[0].record.model_dump(mode="json")
    safety["sex"] = "female"
    study = build_study(
        study_input(
            safety=[safety],
            kinetics="subject,time,conc,blq\nSUBJ-001,1,100,0\n",
            enrolment=enrolment,
        )
    )
    ie = dataset(study, "IE")
    assert {r["USUBJID"] for r in ie} == {"CD19-CAR-T-NMOSD-SUBJ-001"}
    assert {r["IEDY"] for r in ie} == {-18}  # 2026-03-02 is 18 days before the infusion on 2026-03-20
    assert any("SCR-0002 is enrolled as SUBJ-001" in w and "ineligible" in w for w in study.warnings)


@settings(max_examples=120, deadline=None)
@given(records())
def test_ie_rows_are_exactly_the_criteria_not_met_or_present(record: dict[str, Any]) -> None:
    protocol = load_protocol()
    parsed = parse_record(orjson.dumps(record))
    result = screen(parsed, protocol)
    person = Person(
        parsed.candidate_id,
        f"{protocol.id}-{parsed.candidate_id}",
        Sourced("record.json", parsed),
        result,
        None,
        False,
        None,
        None,
    )
    ie = build_ie(protocol, [person])
    expected = [
        (c.id, "N" if c.kind == "inclusion" else "Y")
        for c in result.criteria
        if c.verdict in ("not_met", "present")
    ]
    assert [(row[4], row[8]) for row in ie.rows] == expected
    assert [row[3] for row in ie.rows] == list(range(1, len(expected) + 1))
    assert all(row[10] == result.as_of.isoformat() for row in ie.rows)
