"""DM and the linking of people (spec sections 2 and 5.3), and the cross-input rejections of section 1."""

from __future__ import annotations

import datetime as dt

import pytest

from nmocart.cdisc.domains import build_study, study_day
from nmocart.cdisc.inputs import ExportInputError

from .study import (
    ENROLLED_ONLY_KINETICS,
    ENROLMENT,
    dataset,
    enrolled_study,
    safety_records,
    screening_records,
    study_input,
)


def _dm() -> dict[str, dict[str, object]]:
    return {r["SUBJID"]: r for r in dataset(build_study(enrolled_study()), "DM")}


def test_one_row_per_person_sorted_by_usubjid_with_enrolled_subjects_under_their_subject_id() -> None:
    dm = dataset(build_study(enrolled_study()), "DM")
    assert [r["USUBJID"] for r in dm] == [
        "CD19-CAR-T-NMOSD-SCR-0002",
        "CD19-CAR-T-NMOSD-SCR-0003",
        "CD19-CAR-T-NMOSD-SUBJ-001",
        "CD19-CAR-T-NMOSD-SUBJ-002",
    ]
    assert {(r["SITEID"], r["COUNTRY"]) for r in dm} == {("01", "CHN")}


def test_treated_subject_has_arms_reference_dates_and_age_at_consent() -> None:
    row = _dm()["SUBJ-001"]
    assert (row["ARMCD"], row["ARM"], row["ACTARMCD"], row["ACTARM"], row["ARMNRS"]) == (
        "CD19CART",
        "CD19 CAR-T",
        "CD19CART",
        "CD19 CAR-T",
        None,
    )
    assert {row[k] for k in ("RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC")} == {"2026-03-20"}
    assert row["RFICDTC"] == "2026-03-01"
    assert (row["BRTHDTC"], row["AGE"], row["AGEU"], row["SEX"]) == ("1981-11-20", 44, "YEARS", "M")
    assert row["RFPENDTC"] == "2026-05-15"  # the last PC sample, day 56
    assert (row["DTHFL"], row["DTHDTC"]) == (None, None)


def test_enrolled_not_treated_and_screen_failures() -> None:
    dm = _dm()
    assert dm["SUBJ-002"]["ARMNRS"] == "ASSIGNED, NOT TREATED"
    assert (dm["SUBJ-002"]["ARMCD"], dm["SUBJ-002"]["ACTARMCD"]) == ("CD19CART", None)
    assert dm["SUBJ-002"]["RFSTDTC"] is None
    assert dm["SUBJ-002"]["RFPENDTC"] == "2026-03-06"  # enrolment date
    assert dm["SCR-0002"]["ARMNRS"] == "SCREEN FAILURE"  # ineligible
    assert dm["SCR-0003"]["ARMNRS"] == "SCREEN FAILURE"  # incomplete
    assert dm["SCR-0003"]["RFICDTC"] == "2026-03-02"  # consented, not enrolled
    assert dm["SCR-0002"]["RFICDTC"] is None
    assert dm["SCR-0002"]["AGE"] == 52  # at the screening as_of 2026-03-02 (born 1974-02-11)


def test_without_enrolment_an_eligible_candidate_is_not_assigned_and_safety_subjects_stand_alone() -> None:
    study = build_study(study_input())
    dm = {r["SUBJID"]: r for r in dataset(study, "DM")}
    assert dm["SCR-0001"]["ARMNRS"] == "NOT ASSIGNED"
    assert dm["SCR-0001"]["ARMCD"] is None
    alone = dm["SYN-900"]
    assert (alone["SEX"], alone["BRTHDTC"], alone["AGE"], alone["AGEU"]) == ("F", None, None, None)
    assert (alone["ARMCD"], alone["ACTARMCD"], alone["ARMNRS"]) == ("CD19CART", "CD19CART", None)
    assert (alone["DTHFL"], alone["DTHDTC"]) == ("Y", "2026-04-12")
    assert alone["RFICDTC"] is None


def test_without_enrolment_a_candidate_id_equal_to_a_safety_subject_id_is_that_subject() -> None:
    safety = safety_records()[:1]
    safety[0]["subject_id"] = "SCR-0001"
    kinetics = ENROLLED_ONLY_KINETICS.replace("SUBJ-001", "SCR-0001")
    dm = {r["SUBJID"]: r for r in dataset(build_study(study_input(safety=safety, kinetics=kinetics)), "DM")}
    row = dm["SCR-0001"]
    assert (row["ACTARMCD"], row["BRTHDTC"], row["RFICDTC"], row["RFSTDTC"]) == (
        "CD19CART",
        "1981-11-20",
        None,
        "2026-03-20",
    )
    assert row["AGE"] == 44  # at the screening date: consent unknown
    assert len(dm) == 4


@pytest.mark.parametrize(
    ("consent", "age"), [("2026-02-28", 21), ("2026-03-01", 22)], ids=["day-before", "march-first"]
)
def test_a_29_february_birthday_turns_older_on_1_march_in_common_years(consent: str, age: int) -> None:
    screening = screening_records()
    screening[3]["birth_date"] = "2004-02-29"
    enrolment = f"candidate_id,subject_id,consent_date,enrolment_date\nSCR-0004,,{consent},\n"
    study = build_study(
        study_input(
            screening=screening,
            safety=safety_records()[:1],
            kinetics=ENROLLED_ONLY_KINETICS,
            enrolment=enrolment + "SCR-0001,SUBJ-001,2026-03-01,2026-03-05\n",
        )
    )
    dm = {r["SUBJID"]: r for r in dataset(study, "DM")}
    assert dm["SCR-0004"]["AGE"] == age


@pytest.mark.parametrize(
    ("day", "reference", "expected"),
    [
        (dt.date(2026, 3, 20), dt.date(2026, 3, 20), 1),
        (dt.date(2026, 3, 21), dt.date(2026, 3, 20), 2),
        (dt.date(2026, 3, 19), dt.date(2026, 3, 20), -1),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 20), -19),
        (None, dt.date(2026, 3, 20), None),
        (dt.date(2026, 3, 20), None, None),
    ],
)
def test_study_day_has_no_day_zero(
    day: dt.date | None, reference: dt.date | None, expected: int | None
) -> None:
    assert study_day(day, reference) == expected


def _rejected(**kwargs: object) -> list[str]:
    with pytest.raises(ExportInputError) as info:
        build_study(study_input(**kwargs))  # type: ignore[arg-type]
    return info.value.problems


def test_sex_differing_between_screening_and_safety_is_rejected() -> None:
    safety = safety_records()[:1]
    safety[0]["sex"] = "female"
    problems = _rejected(safety=safety, kinetics=ENROLLED_ONLY_KINETICS, enrolment=ENROLMENT)
    assert any("sex 'female' differs from 'male'" in p and "SCR-0001" in p for p in problems)


def test_duplicate_candidate_and_safety_subject_are_rejected() -> None:
    screening = screening_records()
    screening.append(screening[1])
    safety = safety_records()
    safety.append(safety[1])
    problems = _rejected(screening=screening, safety=safety)
    assert any("candidate_id 'SCR-0002' is already at screening.ndjson:2" in p for p in problems)
    assert any("subject_id 'SYN-900' is already at safety.ndjson:2" in p for p in problems)


def test_a_safety_subject_missing_from_the_enrolment_file_is_rejected() -> None:
    problems = _rejected(enrolment=ENROLMENT)
    assert any("safety subject 'SYN-900' is not enrolled in enrolment.csv" in p for p in problems)


def test_enrolment_rows_must_name_screened_candidates_once_and_subjects_once() -> None:
    enrolment = (
        "candidate_id,subject_id,consent_date,enrolment_date\n"
        "SCR-0001,SUBJ-001,2026-03-01,2026-03-05\n"
        "SCR-9999,SUBJ-009,2026-03-01,2026-03-05\n"
        "SCR-0001,SUBJ-003,2026-03-01,2026-03-05\n"
        "SCR-0004,SUBJ-001,2026-03-01,2026-03-05\n"
    )
    problems = _rejected(safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS, enrolment=enrolment)
    assert any(
        p.startswith("enrolment.csv row 3: candidate_id 'SCR-9999' is not in the screening") for p in problems
    )
    assert any(
        p.startswith("enrolment.csv row 4: candidate_id 'SCR-0001' is already at row 2") for p in problems
    )
    assert any(
        p.startswith("enrolment.csv row 5: subject_id 'SUBJ-001' is already at row 2") for p in problems
    )


def test_two_people_with_one_subjid_are_rejected() -> None:
    enrolment = ENROLMENT.replace("SCR-0004,SUBJ-002", "SCR-0004,SCR-0002")
    problems = _rejected(safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS, enrolment=enrolment)
    assert any("two subjects have SUBJID 'SCR-0002'" in p for p in problems)


def test_a_kinetics_subject_without_a_safety_record_is_rejected() -> None:
    problems = _rejected(
        safety=safety_records()[:1], kinetics=ENROLLED_ONLY_KINETICS.replace("SUBJ-001", "X-1")
    )
    assert problems == [
        "samples.csv: row 2: subject 'X-1' has no safety record; add its safety record (the subject "
        "column holds safety subject_ids) or correct the id"
    ]
