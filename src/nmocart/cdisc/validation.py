"""Validation of a written export before it is moved into place (CDISC spec sections 3, 6, 7).

Each check reads the files back: every Dataset-JSON against the official 1.1 schema and its rows
against its columns, define.xml against the Define-XML 2.1 XSD, every XPT file (read by pyreadstat
and by pandas) against its Dataset-JSON twin, the controlled terminology and the cross-domain
rules. The result is a list of :class:`Check` for the report; the export fails on any failure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from lxml import etree

from nmocart.cdisc.metadata import CODELISTS, DATASETS, DatasetMeta, Value
from nmocart.cdisc.xpt import read_meta, read_rows, text_problem

SCHEMA_RESOURCE = ("data", "cdisc", "dataset-json-1.1", "dataset.schema.json")
XSD_RESOURCE = ("data", "cdisc", "define-xml-2.1", "cdisc-define-2.1", "define2-1-0.xsd")
MAX_SHOWN = 5
"""Failures listed per check; the rest are counted."""


@dataclass(frozen=True)
class Check:
    """One check: what was checked, on which file, whether it passed, and the failures."""

    name: str
    target: str
    passed: bool
    detail: str
    failures: tuple[str, ...] = ()


def _check(name: str, target: str, detail: str, failures: Sequence[str]) -> Check:
    shown = list(failures[:MAX_SHOWN])
    if len(failures) > MAX_SHOWN:
        shown.append(f"... and {len(failures) - MAX_SHOWN} more")
    return Check(name, target, not failures, detail, tuple(shown))


def _resource(parts: tuple[str, ...]) -> Path:
    return Path(str(resources.files("nmocart").joinpath(*parts)))


@lru_cache(maxsize=1)
def dataset_json_validator() -> jsonschema.protocols.Validator:
    """The official Dataset-JSON 1.1 schema (draft 2019-09), shipped in the package."""
    schema = orjson.loads(_resource(SCHEMA_RESOURCE).read_bytes())
    cls = jsonschema.Draft201909Validator
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


@lru_cache(maxsize=1)
def define_schema() -> etree.XMLSchema:
    """The Define-XML 2.1 XSD (with ODM 1.3.2 and the W3C schemas it imports), shipped in the package."""
    return etree.XMLSchema(etree.parse(str(_resource(XSD_RESOURCE))))


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _cell_problem(value: Any, column: dict[str, Any]) -> str | None:
    kind = column["dataType"]
    if value is None:
        return None
    if kind == "string":
        if not isinstance(value, str):
            return f"{value!r} is not a string"
        if value == "":
            return "empty string (missing must be null)"
        if len(value.encode("utf-8")) > column["length"]:
            return f"{value!r} is longer than the column length {column['length']}"
        return text_problem(value)
    if kind == "integer":
        return (
            None if isinstance(value, int) and not isinstance(value, bool) else f"{value!r} is not an integer"
        )
    if kind == "float":
        return None if isinstance(value, float) else f"{value!r} is not a float"
    if kind == "date":
        if not isinstance(value, str) or not DATE.match(value):
            return f"{value!r} is not a YYYY-MM-DD date"
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a calendar date"
        return None
    return f"unexpected dataType {kind!r}"


def check_json(path: Path, doc: dict[str, Any], meta: DatasetMeta) -> list[Check]:
    """The schema, the dataset's metadata and every row against its columns."""
    name = path.name
    schema_errors = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: {e.message}"
        for e in dataset_json_validator().iter_errors(doc)
    ]
    checks = [_check("Dataset-JSON 1.1 schema", name, "official JSON schema, draft 2019-09", schema_errors)]
    problems: list[str] = []
    columns = doc.get("columns", [])
    if [c.get("name") for c in columns] != list(meta.names):
        problems.append(
            f"columns {[c.get('name') for c in columns]} differ from the spec's {list(meta.names)}"
        )
    for c, var in zip(columns, meta.variables, strict=False):
        if c.get("label") != var.label or c.get("dataType") != var.data_type:
            problems.append(f"column {var.name}: label or dataType differs from the spec")
        if ("length" in c) != (var.data_type == "string"):
            problems.append(f"column {var.name}: length present for a non-string or absent for a string")
    rows = doc.get("rows", [])
    if doc.get("records") != len(rows):
        problems.append(f"records {doc.get('records')} but {len(rows)} rows")
    for r, row in enumerate(rows):
        if len(row) != len(columns):
            problems.append(f"row {r}: {len(row)} values for {len(columns)} columns")
            continue
        for value, column in zip(row, columns, strict=True):
            why = _cell_problem(value, column)
            if why is not None:
                problems.append(f"row {r} {column['name']}: {why}")
    checks.append(
        _check("rows against columns", name, f"{len(rows)} rows: types, lengths, nulls, ASCII", problems)
    )
    return checks


def check_define(path: Path, docs: dict[str, dict[str, Any]]) -> list[Check]:
    """define.xml against the XSD, and every column of every dataset described in it."""
    tree = etree.parse(str(path))
    schema = define_schema()
    schema.validate(tree)
    errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    checks = [_check("Define-XML 2.1 XSD", path.name, "define2-1-0.xsd with ODM 1.3.2", errors)]
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    items = {str(e.get("OID")): e for e in tree.iterfind(".//odm:ItemDef", ns)}
    groups = {str(e.get("OID")): e for e in tree.iterfind(".//odm:ItemGroupDef", ns)}
    problems: list[str] = []
    for name, doc in docs.items():
        group = groups.get(doc["itemGroupOID"])
        if group is None:
            problems.append(f"{name}: no ItemGroupDef {doc['itemGroupOID']}")
            continue
        refs = [str(r.get("ItemOID")) for r in group.iterfind("odm:ItemRef", ns)]
        if refs != [c["itemOID"] for c in doc["columns"]]:
            problems.append(f"{name}: ItemRefs differ from the Dataset-JSON columns")
        for column in doc["columns"]:
            item = items.get(column["itemOID"])
            if item is None:
                problems.append(f"{name}: no ItemDef {column['itemOID']}")
                continue
            length = column.get("length", 8 if column["dataType"] in ("integer", "float") else None)
            if item.get("Length") != (None if length is None else str(length)):
                problems.append(
                    f"{column['itemOID']}: Length {item.get('Length')} but the data says {length}"
                )
    checks.append(
        _check(
            "define.xml describes the data", path.name, "ItemGroupDefs, ItemRefs, ItemDef lengths", problems
        )
    )
    return checks


def check_xpt(path: Path, doc: dict[str, Any], meta: DatasetMeta) -> list[Check]:
    """The XPT file's member, labels and rows (read by pyreadstat and by pandas) against the JSON twin."""
    member, label, names, labels, widths = read_meta(path)
    problems = []
    if member != meta.name:
        problems.append(f"member name {member!r}, expected {meta.name!r}")
    if label != doc["label"]:
        problems.append(f"dataset label {label!r}, expected {doc['label']!r}")
    if names != [c["name"] for c in doc["columns"]] or labels != [c["label"] for c in doc["columns"]]:
        problems.append("variable names or labels differ from the Dataset-JSON columns")
    else:
        for column, width in zip(doc["columns"], widths, strict=True):
            wanted = _xpt_width(column, doc["rows"], names.index(column["name"]))
            if width != wanted:
                problems.append(f"{column['name']}: stored in {width} bytes, expected {wanted}")
    checks = [
        _check(
            "XPT v5 metadata",
            path.name,
            "member name, dataset label, variable names, labels and widths (8 for numbers)",
            problems,
        )
    ]
    expected = [tuple(row) for row in doc["rows"]]
    if names != list(meta.names):
        unreadable = [f"variables {names} are not the spec's {list(meta.names)}; rows not compared"]
        return checks + [
            _check(f"XPT rows == JSON rows ({reader})", path.name, "rows compared", unreadable)
            for reader in ("pyreadstat", "pandas")
        ]
    by_readstat, by_pandas = read_rows(path, meta)
    for reader, rows in (("pyreadstat", by_readstat), ("pandas", by_pandas)):
        diffs = _row_diffs(expected, rows)
        checks.append(
            _check(f"XPT rows == JSON rows ({reader})", path.name, f"{len(expected)} rows compared", diffs)
        )
    return checks


def _xpt_width(column: dict[str, Any], rows: Sequence[Sequence[Any]], j: int) -> int:
    """The XPT storage width a column must have: 8 for numbers, else its longest value (1 if none)."""
    if column["dataType"] in ("integer", "float"):
        return 8
    if "length" in column:
        return int(column["length"])
    return max((len(row[j]) for row in rows if isinstance(row[j], str)), default=0) or 1


def _row_diffs(expected: Sequence[tuple[Value, ...]], actual: Sequence[tuple[Value, ...]]) -> list[str]:
    if len(expected) != len(actual):
        return [f"{len(actual)} rows read back, {len(expected)} in the JSON"]
    return [
        f"row {i}: {a!r} != {e!r}" for i, (e, a) in enumerate(zip(expected, actual, strict=True)) if e != a
    ]


PK_CONC = re.compile(r"^day\*(.+)$")


def _allowed(codelist: str, value: str) -> bool:
    cl = CODELISTS[codelist]
    if cl.external is not None:
        return value.isdigit()
    if cl.term(value) is not None:
        return True
    if codelist == "PKUNIT":
        match = PK_CONC.match(value)
        return value == "cells/uL" or (
            match is not None and match.group(1) in ("copies/ug", "DNA copies/ug", "copies/uL", "cells/uL")
        )
    return False


GRADES = {"LBTOXGR": {"0", "1", "2", "3", "4"}, "AETOXGR": {"1", "2", "3", "4", "5"}}


def check_terminology(docs: dict[str, dict[str, Any]]) -> Check:
    """Every value of a variable with a codelist is one of its terms (or a declared extension)."""
    problems = []
    for meta in DATASETS:
        doc = docs[meta.name]
        for j, var in enumerate(meta.variables):
            for row in doc["rows"]:
                value = row[j]
                if value is None:
                    continue
                if var.codelist is not None and not _allowed(var.codelist, value):
                    problems.append(f"{meta.name}.{var.name} {value!r} is not in codelist {var.codelist}")
                if var.name in GRADES and value not in GRADES[var.name]:
                    problems.append(
                        f"{meta.name}.{var.name} {value!r} is not a grade {sorted(GRADES[var.name])}"
                    )
    return _check(
        "controlled terminology", "all datasets", "spec section 7 codelists and grade ranges", problems
    )


def _column(doc: dict[str, Any], name: str) -> list[Any]:
    j = [c["name"] for c in doc["columns"]].index(name)
    return [row[j] for row in doc["rows"]]


def check_cross_domain(docs: dict[str, dict[str, Any]]) -> Check:
    """Spec section 6: subjects in DM, IE criteria in TI, PP only with PC, unique keys and --SEQ."""
    problems = []
    subjects = set(_column(docs["DM"], "USUBJID"))
    for name in ("IE", "AE", "LB", "PC", "PP"):
        for usubjid in sorted(set(_column(docs[name], "USUBJID")) - subjects):
            problems.append(f"{name}: USUBJID {usubjid} is not in DM")
    ti = set(zip(_column(docs["TI"], "IETESTCD"), _column(docs["TI"], "IETEST"), strict=True))
    for pair in sorted(
        set(zip(_column(docs["IE"], "IETESTCD"), _column(docs["IE"], "IETEST"), strict=True)) - ti
    ):
        problems.append(f"IE: criterion {pair[0]} ({pair[1][:40]}...) is not in TI")
    pc = set(zip(_column(docs["PC"], "USUBJID"), _column(docs["PC"], "PCGRPID"), strict=True))
    for pair in sorted(
        set(zip(_column(docs["PP"], "USUBJID"), _column(docs["PP"], "PPGRPID"), strict=True)) - pc
    ):
        problems.append(f"PP: {pair[0]} group {pair[1]} has no PC records")
    for meta in DATASETS:
        doc = docs[meta.name]
        keys = list(zip(*(_column(doc, k) for k in meta.keys), strict=True))
        if len(keys) != len(set(keys)):
            problems.append(f"{meta.name}: keys {', '.join(meta.keys)} are not unique")
        seq = f"{meta.name}SEQ"
        if seq in meta.names:
            pairs = list(zip(_column(doc, "USUBJID"), _column(doc, seq), strict=True))
            if len(pairs) != len(set(pairs)):
                problems.append(f"{meta.name}: {seq} is not unique within a subject")
        if meta.name != "TI":
            order = [
                (u, s)
                for u, s in zip(
                    _column(doc, "USUBJID"),
                    _column(doc, seq) if seq in meta.names else [0] * len(doc["rows"]),
                    strict=True,
                )
            ]
            if order != sorted(order):
                problems.append(f"{meta.name}: rows are not sorted by USUBJID, {seq}")
    return _check("cross-domain rules", "all datasets", "spec section 6 and row order", problems)


def validate_export(folder: Path) -> list[Check]:
    """Every check on the files of an export folder (``json/``, ``xpt/``, ``define.xml``)."""
    checks: list[Check] = []
    docs: dict[str, dict[str, Any]] = {}
    for meta in DATASETS:
        path = folder / "json" / f"{meta.name.lower()}.json"
        doc = orjson.loads(path.read_bytes())
        docs[meta.name] = doc
        checks += check_json(path, doc, meta)
    checks += check_define(folder / "define.xml", docs)
    for meta in DATASETS:
        checks += check_xpt(folder / "xpt" / f"{meta.name.lower()}.xpt", docs[meta.name], meta)
    checks.append(check_terminology(docs))
    checks.append(check_cross_domain(docs))
    return checks
