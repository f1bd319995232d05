"""PC (concentrations, BLQ as BLQ/null) and PP (NCA parameters, not estimable as NOT DONE), spec 5.6-5.7."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from nmocart.cdisc.domains import PP_PARAMETERS, build_study, pc_testcd
from nmocart.cdisc.inputs import ExportInputError
from nmocart.kinetics.nca import compute_nca
from nmocart.kinetics.samples import read_samples
from nmocart.kinetics.table import table_csv

from .study import dataset, safety_records, study_input

TWO_ANALYTES = """subject,time,conc,blq,analyte,unit,lloq
SUBJ-001,-0.5,0,1,CAR transgene,copies/ug,20
SUBJ-001,0,0,1,CAR transgene,copies/ug,20
SUBJ-001,1,1.5e2,0,CAR transgene,copies/ug,20
SUBJ-001,7.5,90000,0,CAR transgene,copies/ug,20
SUBJ-001,14,30000,0,CAR transgene,copies/ug,20
SUBJ-001,28,800,0,CAR transgene,copies/ug,20
SUBJ-001,56,0,1,CAR transgene,copies/ug,
SUBJ-001,0,0,1,CAR+ T cells,cells/uL,
SUBJ-001,3,12,0,CAR+ T cells,cells/uL,
SUBJ-001,7,60,0,CAR+ T cells,cells/uL,
SUBJ-001,10,30,0,CAR+ T cells,cells/uL,
SUBJ-001,14,16,0,CAR+ T cells,cells/uL,
SUBJ-001,21,7,0,CAR+ T cells,cells/uL,
SUBJ-001,28,3.5,0,CAR+ T cells,cells/uL,
"""


def _study(kinetics: str = TWO_ANALYTES) -> Any:
    return build_study(study_input(safety=safety_records()[:1], kinetics=kinetics))


def _pc(kinetics: str = TWO_ANALYTES) -> list[dict[str, Any]]:
    return dataset(_study(kinetics), "PC")


def test_pc_has_one_row_per_sample_ordered_by_test_code_then_time() -> None:
    pc = _pc()
    assert [(r["PCSEQ"], r["PCTESTCD"], r["PCSPID"]) for r in pc] == [
        (1, "CARTCELL", "9"),
        (2, "CARTCELL", "10"),
        (3, "CARTCELL", "11"),
        (4, "CARTCELL", "12"),
        (5, "CARTCELL", "13"),
        (6, "CARTCELL", "14"),
        (7, "CARTCELL", "15"),
        (8, "CARTRANS", "2"),
        (9, "CARTRANS", "3"),
        (10, "CARTRANS", "4"),
        (11, "CARTRANS", "5"),
        (12, "CARTRANS", "6"),
        (13, "CARTRANS", "7"),
        (14, "CARTRANS", "8"),
    ]
    assert all(r["PCGRPID"] == r["PCTESTCD"] for r in pc)


def test_blq_samples_are_blq_with_null_numbers_never_zero() -> None:
    pc = {r["PCSPID"]: r for r in _pc()}
    with_lloq = pc["3"]
    assert (with_lloq["PCORRES"], with_lloq["PCSTRESC"], with_lloq["PCSTRESN"], with_lloq["PCLLOQ"]) == (
        "<20",
        "BLQ",
        None,
        20.0,
    )
    without_lloq = pc["8"]
    assert (without_lloq["PCORRES"], without_lloq["PCSTRESC"], without_lloq["PCSTRESN"]) == (
        "BLQ",
        "BLQ",
        None,
    )
    assert without_lloq["PCLLOQ"] is None


def test_measured_values_keep_the_cell_as_written() -> None:
    measured = {r["PCSPID"]: r for r in _pc()}["4"]
    assert (measured["PCORRES"], measured["PCSTRESC"], measured["PCSTRESN"]) == ("1.5e2", "1.5e2", 150.0)
    assert (measured["PCORRESU"], measured["PCSTRESU"], measured["PCSPEC"], measured["PCNAM"]) == (
        "copies/ug",
        "copies/ug",
        "BLOOD",
        None,
    )


def test_collection_dates_are_the_infusion_plus_whole_days_and_study_days_skip_zero() -> None:
    pc = {r["PCSPID"]: r for r in _pc()}
    assert [(pc[k]["PCDTC"], pc[k]["PCDY"]) for k in ("2", "3", "5")] == [
        ("2026-03-19", -1),  # time -0.5: the day before the infusion
        ("2026-03-20", 1),
        ("2026-03-27", 8),  # time 7.5 -> 7 whole days
    ]
    assert {(r["PCRFTDTC"], r["PCTPTREF"]) for r in pc.values()} == {("2026-03-20", "CAR-T INFUSION")}


def test_pc_test_code_is_letters_and_digits_upper_case_first_eight() -> None:
    assert pc_testcd("CAR transgene") == "CARTRANS"
    assert pc_testcd("CAR+ T cells") == "CARTCELL"
    assert pc_testcd("ab-1") == "AB1"


@pytest.mark.parametrize(
    ("analyte", "unit", "message"),
    [
        ("1st CAR", "copies/ug", "must start with a letter"),
        ("CAR transgenes", "copies/ug", "as 'CAR transgene' does"),
        ("A" * 41, "copies/ug", "PCTEST holds at most 40"),
        ("CAR transgene", "copies/mL", "is not a PK unit the export knows"),
    ],
)
def test_pc_input_errors(analyte: str, unit: str, message: str) -> None:
    kinetics = (
        "subject,time,conc,blq,analyte,unit\n"
        "SUBJ-001,1,10,0,CAR transgene,copies/ug\n"
        f"SUBJ-001,1,10,0,{analyte},{unit}\n"
    )
    if analyte == "CAR transgene":
        kinetics = f"subject,time,conc,blq,analyte,unit\nSUBJ-001,1,10,0,{analyte},{unit}\n"
    with pytest.raises(ExportInputError) as info:
        _study(kinetics)
    assert any(message in p and p.startswith("samples.csv: row ") for p in info.value.problems)


def test_pp_has_the_15_parameters_per_profile_in_table_order() -> None:
    pp = dataset(_study(), "PP")
    assert len(pp) == 30
    assert [r["PPCAT"] for r in pp[:15]] == ["CAR transgene"] * 15  # "C" < "CAR+" sorts first
    assert [r["PPTESTCD"] for r in pp[:15]] == [p[1] for p in PP_PARAMETERS]
    assert [r["PPSEQ"] for r in pp] == list(range(1, 31))
    assert {(r["PPSCAT"], r["PPSPEC"], r["PPTPTREF"], r["PPRFTDTC"]) for r in pp} == {
        ("NON-COMPARTMENTAL", "BLOOD", "CAR-T INFUSION", "2026-03-20")
    }
    assert {r["PPGRPID"] for r in pp[:15]} == {"CARTRANS"}


def test_pp_values_are_the_kinetics_nca_table_cells() -> None:
    samples = read_samples(TWO_ANALYTES)
    table = list(csv.DictReader(io.StringIO(table_csv(samples, compute_nca(samples.profiles)))))
    pp = dataset(_study(), "PP")
    for row in pp:
        cells = next(t for t in table if t["analyte"] == row["PPCAT"])
        name = next(p[0] for p in PP_PARAMETERS if p[1] == row["PPTESTCD"])
        assert (row["PPORRES"] or "") == cells[name]
        assert row["PPSTRESC"] == row["PPORRES"]
        assert row["PPSTRESN"] == (None if row["PPORRES"] is None else float(row["PPORRES"]))


def test_not_estimable_parameters_are_not_done_with_the_engines_reason() -> None:
    pp = {(r["PPCAT"], r["PPTESTCD"]): r for r in dataset(_study(), "PP")}
    lamz = pp[("CAR transgene", "LAMZ")]
    assert (lamz["PPORRES"], lamz["PPORRESU"], lamz["PPSTRESN"], lamz["PPSTAT"]) == (
        None,
        None,
        None,
        "NOT DONE",
    )
    assert lamz["PPREASND"] == "only 2 measurable sample(s) after Tmax; the terminal phase needs 3"
    cmax = pp[("CAR transgene", "CMAX")]
    assert (cmax["PPSTAT"], cmax["PPREASND"]) == (None, None)
    estimated = pp[("CAR+ T cells", "LAMZ")]
    assert estimated["PPSTAT"] is None
    assert estimated["PPORRESU"] == "/day"
    assert pp[("CAR+ T cells", "LAMZNPT")]["PPORRES"] in {"3", "4", "5"}
    assert pp[("CAR+ T cells", "R2")]["PPORRESU"] is None


def test_parameter_units_follow_the_concentration_unit() -> None:
    pp = {(r["PPCAT"], r["PPTESTCD"]): r for r in dataset(_study(), "PP")}
    assert pp[("CAR transgene", "CMAX")]["PPORRESU"] == "copies/ug"
    assert pp[("CAR transgene", "TMAX")]["PPORRESU"] == "day"
    assert pp[("CAR transgene", "AUCLST")]["PPORRESU"] == "day*copies/ug"
    assert pp[("CAR+ T cells", "AUCIFO")]["PPSTRESU"] == "day*cells/uL"
    interval = pp[("CAR transgene", "AUCINT")]
    assert (interval["PPSTINT"], interval["PPENINT"]) == ("P0D", "P28D")
    assert (pp[("CAR transgene", "CMAX")]["PPSTINT"], pp[("CAR transgene", "CMAX")]["PPENINT"]) == (
        None,
        None,
    )


def test_without_a_unit_column_every_concentration_unit_is_null() -> None:
    study = _study("subject,time,conc,blq\nSUBJ-001,0,0,1\nSUBJ-001,1,10,0\nSUBJ-001,7,100,0\n")
    pc = dataset(study, "PC")
    assert {(r["PCTEST"], r["PCORRESU"], r["PCSTRESU"]) for r in pc} == {("CAR transgene", None, None)}
    pp = {r["PPTESTCD"]: r for r in dataset(study, "PP")}
    assert (pp["CMAX"]["PPORRESU"], pp["AUCLST"]["PPORRESU"], pp["TMAX"]["PPORRESU"]) == (None, None, "day")


def test_an_unknown_unit_is_one_problem_at_its_first_row() -> None:
    kinetics = "subject,time,conc,blq,unit\nSUBJ-001,1,10,0,ng/mL\nSUBJ-001,2,12,0,ng/mL\n"
    with pytest.raises(ExportInputError) as info:
        _study(kinetics)
    assert info.value.problems == [
        "samples.csv: row 2: unit 'ng/mL' is not a PK unit the export knows; use copies/ug, "
        "DNA copies/ug, copies/uL, cells/uL or leave the cell empty"
    ]
