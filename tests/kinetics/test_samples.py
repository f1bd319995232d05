"""Input errors of the sample CSV name the row, the column and the fix (spec section 1)."""

from __future__ import annotations

import pytest

from nmocart.kinetics.samples import DEFAULT_ANALYTE, SampleInputError, read_samples

HEADER = "subject,time,conc,blq\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SampleInputError) as info:
        read_samples(text)
    return info.value.problems


def test_missing_columns_are_named() -> None:
    (p,) = problems("subject,time,value\nA,0,1\n")
    assert p.startswith("row 1 (header): missing columns conc, blq; add them")


def test_non_numeric_conc_names_the_row_and_the_fix() -> None:
    text = HEADER + "A,0,,1\nA,1,abc,0\n"
    assert problems(text) == ["row 3: conc 'abc' is not a number; write a number or mark the row blq=1"]


def test_empty_conc_of_a_measurable_row() -> None:
    assert problems(HEADER + "A,1,,0\n") == ["row 2: conc is empty; write a number or mark the row blq=1"]


def test_non_numeric_and_non_finite_time() -> None:
    ps = problems(HEADER + "A,day1,5,0\nA,nan,5,0\nA,inf,5,0\n")
    assert [p.split(":")[0] for p in ps] == ["row 2", "row 3", "row 4"]
    assert all("time" in p and "write the days since infusion as a number" in p for p in ps)


def test_negative_conc() -> None:
    assert problems(HEADER + "A,1,-2.5,0\n") == [
        "row 2: conc -2.5 is negative; write the measured value (>= 0) or mark the row blq=1"
    ]


def test_duplicate_times_name_both_rows() -> None:
    ps = problems(HEADER + "A,0,,1\nB,1,5,0\nA,1,5,0\nA,1.0,6,0\n")
    assert ps == [
        "row 5: duplicate sample: subject A, analyte CAR transgene, time 1 is already at "
        "row 4; remove or correct one of them"
    ]


def test_same_time_in_another_analyte_is_not_a_duplicate() -> None:
    text = "subject,time,conc,blq,analyte\nA,1,5,0,qPCR\nA,1,7,0,flow\n"
    table = read_samples(text)
    assert table.profiles.n == 2
    assert table.analyte == ("qPCR", "flow")


def test_blq_must_be_0_or_1() -> None:
    (p,) = problems(HEADER + "A,1,5,yes\n")
    assert p.startswith("row 2: blq 'yes' must be 0 or 1")


def test_blq_row_conc_is_ignored() -> None:
    table = read_samples(HEADER + "A,0,<LLOQ,1\nA,1,5,0\n")
    assert table.profiles.conc.tolist() == [0.0, 5.0]
    assert table.profiles.measurable.tolist() == [False, True]


def test_ragged_rows_are_named() -> None:
    ps = problems(HEADER + "A,1,5\nA,2,x,0\nA,-,1,0\n")
    assert ps[0].startswith("row 2: has 3 fields but the header has 4")


def test_all_problems_listed_sorted_by_row() -> None:
    ps = problems(HEADER + "A,1,x,0\nA,y,1,0\nA,2,-1,0\n")
    assert [p.split(":")[0] for p in ps] == ["row 2", "row 3", "row 4"]


def test_lloq_and_unit_checks() -> None:
    text = "subject,time,conc,blq,unit,lloq\nA,0,,1,copies/ug,20\nA,1,5,0,cells/uL,-1\n"
    ps = problems(text)
    assert ps[0].startswith("row 3: lloq '-1' is not a positive number")
    assert ps[1].startswith("row 3: unit 'cells/uL' differs from 'copies/ug' (row 2)")


def test_empty_file_and_header_only() -> None:
    assert problems("")[0].startswith("row 1: the file is empty")
    assert problems(HEADER)[0].startswith("row 2: the file has no samples")


def test_valid_file_sorted_grouped_in_order_of_appearance() -> None:
    text = (
        "Subject,Time,Conc,BLQ,unit,lloq\n"
        "B,7,100,0,copies/ug,20\nA,0,,1,copies/ug,20\nB,0,,1,copies/ug,\n"
        "A,7,30,0,copies/ug,25\n\n"
    )
    table = read_samples(text)
    assert table.subject == ("B", "A")
    assert table.analyte == (DEFAULT_ANALYTE, DEFAULT_ANALYTE)
    assert table.unit == ("copies/ug", "copies/ug")
    assert table.lloq.tolist() == [20.0, 25.0]
    assert table.profiles.profile.tolist() == [0, 0, 1, 1]
    assert table.profiles.time.tolist() == [0.0, 7.0, 0.0, 7.0]
    assert table.row.tolist() == [4, 2, 3, 5]


def test_problem_list_is_truncated_in_the_message() -> None:
    text = HEADER + "".join(f"A,{i},bad,0\n" for i in range(60))
    with pytest.raises(SampleInputError) as info:
        read_samples(text)
    assert len(info.value.problems) == 60
    assert str(info.value).splitlines()[-1] == "... and 10 more problems"
