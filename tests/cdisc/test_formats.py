"""The files: XPT v5 refusals and round trip, Dataset-JSON 1.1, Define-XML 2.1, and the validation checks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from nmocart.cdisc.domains import Dataset
from nmocart.cdisc.export import ExportResult, ExportValidationError, export_study
from nmocart.cdisc.inputs import ExportInputError
from nmocart.cdisc.metadata import AE, DATASETS, DatasetMeta, Variable
from nmocart.cdisc.validation import validate_export
from nmocart.cdisc.xpt import XptFormatError, read_rows, v5_problems, write_xpt

from .study import ENROLLED_ONLY_KINETICS, adverse_event, enrolled_study, safety_records, study_input

CREATED = "2026-11-25T12:00:00"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    return export_study(enrolled_study(), tmp_path_factory.mktemp("export") / "sdtm", CREATED)


def _doc(result: ExportResult, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((result.folder / "json" / f"{name}.json").read_bytes())
    return doc


def test_every_dataset_is_written_in_both_formats_with_define(exported: ExportResult) -> None:
    names = [m.name.lower() for m in DATASETS]
    assert sorted(p.name for p in (exported.folder / "xpt").iterdir()) == sorted(f"{n}.xpt" for n in names)
    assert sorted(p.name for p in (exported.folder / "json").iterdir()) == sorted(f"{n}.json" for n in names)
    assert (exported.folder / "define.xml").is_file()
    assert not [p for p in exported.folder.parent.iterdir() if p.name.endswith(".partial")]


def test_every_check_passed_including_schema_xsd_and_round_trip(exported: ExportResult) -> None:
    names = {c.name for c in exported.checks}
    assert {
        "Dataset-JSON 1.1 schema",
        "rows against columns",
        "Define-XML 2.1 XSD",
        "XPT rows == JSON rows (pyreadstat)",
        "XPT rows == JSON rows (pandas)",
        "controlled terminology",
        "cross-domain rules",
    } <= names
    assert all(c.passed for c in exported.checks), [c for c in exported.checks if not c.passed]


@pytest.mark.parametrize("meta", DATASETS, ids=lambda m: m.name)
def test_every_xpt_file_read_back_equals_its_dataset_json_twin(
    exported: ExportResult, meta: DatasetMeta
) -> None:
    doc = _doc(exported, meta.name.lower())
    path = exported.folder / "xpt" / f"{meta.name.lower()}.xpt"
    by_readstat, by_pandas = read_rows(path, meta)
    expected = [tuple(row) for row in doc["rows"]]
    assert by_readstat == expected
    assert by_pandas == expected
    frame, info = pyreadstat.read_xport(str(path))
    assert info.table_name == meta.name
    assert info.file_label == meta.label
    assert info.column_labels == [v.label for v in meta.variables]
    assert list(pd.read_sas(str(path), format="xport", encoding="ascii").columns) == list(meta.names)
    assert len(frame) == doc["records"]


def test_xpt_files_are_version_5(exported: ExportResult) -> None:
    head = (exported.folder / "xpt" / "dm.xpt").read_bytes()[:80]
    assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")  # v8 says LIBV8


def test_dataset_json_top_level_attributes_in_the_spec_order(exported: ExportResult) -> None:
    doc = _doc(exported, "dm")
    assert list(doc) == [
        "datasetJSONCreationDateTime",
        "datasetJSONVersion",
        "fileOID",
        "originator",
        "sourceSystem",
        "studyOID",
        "metaDataVersionOID",
        "metaDataRef",
        "itemGroupOID",
        "records",
        "name",
        "label",
        "columns",
        "rows",
    ]
    assert doc["datasetJSONCreationDateTime"] == CREATED
    assert (doc["datasetJSONVersion"], doc["fileOID"], doc["itemGroupOID"]) == (
        "1.1.0",
        "CD19-CAR-T-NMOSD.DM",
        "IG.DM",
    )
    assert doc["metaDataVersionOID"] == "MDV.CD19-CAR-T-NMOSD.SDTMIG.3.4"
    assert doc["metaDataRef"] == "../define.xml"


def test_columns_carry_lengths_for_strings_only_and_key_sequences(exported: ExportResult) -> None:
    columns = {c["name"]: c for c in _doc(exported, "lb")["columns"]}
    assert columns["STUDYID"] == {
        "itemOID": "IT.LB.STUDYID",
        "name": "STUDYID",
        "label": "Study Identifier",
        "dataType": "string",
        "length": 16,
        "keySequence": 1,
    }
    assert columns["LBTESTCD"]["keySequence"] == 3
    assert columns["LBSEQ"]["keySequence"] == 4
    assert "length" not in columns["LBSTRESN"]
    assert "length" not in columns["LBDTC"]  # dates carry no length
    assert columns["LBDTC"]["dataType"] == "date"
    assert columns["VISITNUM"]["dataType"] == "float"
    assert columns["LBTESTCD"]["length"] == 5  # CREAT


def test_an_all_null_text_column_has_length_1(exported: ExportResult) -> None:
    columns = {c["name"]: c for c in _doc(exported, "ae")["columns"]}
    assert columns["AEBODSYS"]["length"] == 1


def test_define_xml_carries_the_grading_scales_and_codes(exported: ExportResult) -> None:
    tree = etree.parse(str(exported.folder / "define.xml"))
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
    ctcae = tree.find(".//odm:CodeList[@OID='CL.CTCAE']/odm:ExternalCodeList", ns)
    assert ctcae is not None
    assert (ctcae.get("Dictionary"), ctcae.get("Version")) == ("CTCAE", "5.0")
    lbtoxgr = tree.find(".//odm:ItemDef[@OID='IT.LB.LBTOXGR']/odm:CodeListRef", ns)
    assert lbtoxgr is not None
    assert lbtoxgr.get("CodeListOID") == "CL.CTCAE"
    assert tree.find(".//odm:ItemDef[@OID='IT.AE.AETOXGR']/def:ValueListRef", ns) is not None
    where = tree.find(".//def:WhereClauseDef[@OID='WC.AE.AETOXGR.ASTCT']/odm:RangeCheck", ns)
    assert where is not None
    assert where.get("Comparator") == "IN"
    assert [v.text for v in where] == [
        "Cytokine release syndrome",
        "Immune effector cell-associated neurotoxicity syndrome",
    ]
    sex_f = tree.find(".//odm:CodeList[@OID='CL.SEX']/odm:EnumeratedItem[@CodedValue='F']/odm:Alias", ns)
    assert sex_f is not None
    assert sex_f.get("Name") == "C16576"
    extension = tree.find(
        ".//odm:CodeList[@OID='CL.PKUNIT']/odm:EnumeratedItem[@CodedValue='day*copies/ug']", ns
    )
    assert extension is not None
    assert extension.get("{http://www.cdisc.org/ns/def/v2.1}ExtendedValue") == "Yes"
    comment = tree.find(".//def:CommentDef[@OID='COM.TI']", ns)
    assert comment is not None
    assert "IN03: Diagnostic criteria for AQP4-IgG positive NMOSD" in "".join(comment.itertext())
    leaf = tree.find(".//odm:ItemGroupDef[@OID='IG.PC']/def:leaf", ns)
    assert leaf is not None
    assert leaf.get("{http://www.w3.org/1999/xlink}href") == "xpt/pc.xpt"


def _copy(result: ExportResult, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(result.folder, folder)
    return folder


def _failed(folder: Path) -> set[str]:
    return {f"{c.name} ({c.target})" for c in validate_export(folder) if not c.passed}


def test_validation_catches_an_empty_string_and_a_schema_violation(
    exported: ExportResult, tmp_path: Path
) -> None:
    folder = _copy(exported, tmp_path)
    doc = _doc(exported, "ae")
    doc["rows"][0][7] = ""  # AEBODSYS: missing must be null
    doc["records"] = "4"
    (folder / "json" / "ae.json").write_bytes(orjson.dumps(doc))
    assert _failed(folder) >= {"Dataset-JSON 1.1 schema (ae.json)", "rows against columns (ae.json)"}


def test_validation_catches_an_xpt_that_differs_from_its_json_twin(
    exported: ExportResult, tmp_path: Path
) -> None:
    folder = _copy(exported, tmp_path)
    shutil.copy(folder / "xpt" / "ie.xpt", folder / "xpt" / "ti.xpt")
    failed = _failed(folder)
    assert "XPT rows == JSON rows (pyreadstat) (ti.xpt)" in failed
    assert "XPT v5 metadata (ti.xpt)" in failed


def test_validation_catches_an_invalid_define(exported: ExportResult, tmp_path: Path) -> None:
    folder = _copy(exported, tmp_path)
    text = (
        (folder / "define.xml")
        .read_text(encoding="utf-8")
        .replace('Purpose="Tabulation"', 'Purpose="Tabulation" Bogus="1"')
    )
    (folder / "define.xml").write_text(text, encoding="utf-8")
    assert "Define-XML 2.1 XSD (define.xml)" in _failed(folder)


def test_validation_catches_a_subject_missing_from_dm(exported: ExportResult, tmp_path: Path) -> None:
    folder = _copy(exported, tmp_path)
    dm = _doc(exported, "dm")
    assert dm["rows"][0][2] == "CD19-CAR-T-NMOSD-SCR-0002"  # the ineligible candidate with IE rows
    dm["rows"] = dm["rows"][1:]
    dm["records"] = len(dm["rows"])
    (folder / "json" / "dm.json").write_bytes(orjson.dumps(dm))
    assert "cross-domain rules (all datasets)" in _failed(folder)


def test_terminology_check_rejects_a_value_outside_its_codelist(
    exported: ExportResult, tmp_path: Path
) -> None:
    folder = _copy(exported, tmp_path)
    dm = _doc(exported, "dm")
    j = [c["name"] for c in dm["columns"]].index("SEX")
    dm["rows"][0][j] = "U"
    (folder / "json" / "dm.json").write_bytes(orjson.dumps(dm))
    assert "controlled terminology (all datasets)" in _failed(folder)


def _dataset(value: str) -> Dataset:
    ds = Dataset(AE)
    row: list[Any] = [None] * len(AE.variables)
    row[:4] = ["S", "AE", "S-1", 1]
    row[5] = value
    ds.add(tuple(row), "safety.ndjson:1 /adverse_events/0")
    return ds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Fièvre", "printable ASCII only"),
        ("tab\there", "printable ASCII only"),
        ("x" * 201, "at most 200"),
        ("Fever ", "ends with a space"),
    ],
)
def test_v5_refuses_values_it_cannot_hold_and_writes_nothing(
    value: str, message: str, tmp_path: Path
) -> None:
    ds = _dataset(value)
    problems = v5_problems(ds)
    assert len(problems) == 1
    assert problems[0].startswith("safety.ndjson:1 /adverse_events/0: AE.AETERM ")
    assert message in problems[0]
    with pytest.raises(XptFormatError):
        write_xpt(ds, tmp_path / "ae.xpt")
    assert not (tmp_path / "ae.xpt").exists()


def test_v5_accepts_exactly_200_printable_bytes() -> None:
    assert v5_problems(_dataset("x" * 200)) == []


def test_v5_refuses_long_names_and_labels() -> None:
    meta = DatasetMeta(
        "XX",
        "A label",
        "EVENTS",
        "One record",
        ("STUDYID",),
        (Variable("STUDYID", "Study Identifier"), Variable("TOOLONGNM", "x"), Variable("OK", "y" * 41)),
    )
    problems = v5_problems(Dataset(meta))
    assert any("XX.TOOLONGNM: not a v5 variable name" in p for p in problems)
    assert any("XX.OK: label" in p and "over 40 characters" in p for p in problems)


def test_a_non_ascii_adverse_event_is_rejected_before_anything_is_written(tmp_path: Path) -> None:
    safety = safety_records()[:1]
    safety[0]["adverse_events"].append(adverse_event("Fièvre", 2, 3, 1))
    with pytest.raises(ExportInputError) as info:
        export_study(study_input(safety=safety, kinetics=ENROLLED_ONLY_KINETICS), tmp_path / "out", CREATED)
    assert info.value.problems == [
        "safety.ndjson:1 /adverse_events/3: AE.AETERM, AE.AEDECOD 'Fièvre' holds 'è' (U+00E8); "
        "XPT v5 values are printable ASCII only, write it in plain ASCII at the source"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_check_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nmocart.cdisc import export as export_module
    from nmocart.cdisc.validation import Check

    monkeypatch.setattr(
        export_module, "validate_export", lambda folder: [Check("forced", "x", False, "d", ("bad",))]
    )
    with pytest.raises(ExportValidationError, match="forced"):
        export_study(enrolled_study(), tmp_path / "out", CREATED)
    assert list(tmp_path.iterdir()) == []


def test_the_target_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ExportInputError, match="exists and is not an empty folder"):
        export_study(enrolled_study(), tmp_path / "out", CREATED)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_study(enrolled_study(), empty, CREATED).folder == empty
    assert (empty / "define.xml").is_file()


def test_same_input_same_bytes(tmp_path: Path, exported: ExportResult) -> None:
    again = export_study(enrolled_study(), tmp_path / "again", CREATED)
    for meta in DATASETS:
        name = meta.name.lower()
        assert (again.folder / "json" / f"{name}.json").read_bytes() == (
            exported.folder / "json" / f"{name}.json"
        ).read_bytes()
    assert (again.folder / "define.xml").read_bytes() == (exported.folder / "define.xml").read_bytes()


def test_the_shipped_schemas_are_the_study_teams_reference_files(shared_dir: Path) -> None:
    reference = shared_dir / "reference" / "cdisc"
    shipped = Path(__file__).resolve().parents[2] / "src" / "nmocart" / "data" / "cdisc"
    files = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    assert len(files) >= 13
    for relative in files:
        assert (shipped / relative).read_bytes() == (reference / relative).read_bytes(), relative


def test_define_validates_against_the_reference_xsd(exported: ExportResult, shared_dir: Path) -> None:
    xsd = shared_dir / "reference" / "cdisc" / "define-xml-2.1" / "cdisc-define-2.1" / "define2-1-0.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    assert schema.validate(etree.parse(str(exported.folder / "define.xml"))), schema.error_log


def test_validation_catches_an_xpt_width_that_differs_from_the_json_length(
    exported: ExportResult, tmp_path: Path
) -> None:
    folder = _copy(exported, tmp_path)
    ti = _doc(exported, "ti")
    column = next(c for c in ti["columns"] if c["name"] == "IETEST")
    assert column["length"] == 197
    column["length"] = 200
    (folder / "json" / "ti.json").write_bytes(orjson.dumps(ti))
    failed = {c.name: c for c in validate_export(folder) if not c.passed}
    assert "XPT v5 metadata" in failed
    assert failed["XPT v5 metadata"].failures == ("IETEST: stored in 197 bytes, expected 200",)
