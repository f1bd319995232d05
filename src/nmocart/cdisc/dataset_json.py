"""Dataset-JSON 1.1 documents (CDISC spec section 3): top-level attributes in the spec's order.

Character lengths are the longest value of the column (1 when all are null); dates carry no
length. Serialisation is compact orjson with a final newline: the same datasets and creation
date-time always give the same bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

import nmocart
from nmocart.cdisc.domains import Dataset
from nmocart.cdisc.metadata import DatasetMeta, Value, Variable

VERSION = "1.1.0"
ORIGINATOR = "nmocart"


def metadata_version_oid(studyid: str) -> str:
    """``MDV.<STUDYID>.SDTMIG.3.4``: the define.xml MetaDataVersion every file refers to."""
    return f"MDV.{studyid}.SDTMIG.3.4"


def item_oid(meta: DatasetMeta, var: Variable) -> str:
    """``IT.<DS>.<VAR>``."""
    return f"IT.{meta.name}.{var.name}"


def text_length(values: list[Value]) -> int:
    """The longest value in bytes (values are ASCII), 1 when every value is null."""
    lengths = [len(v) for v in values if isinstance(v, str)]
    return max(lengths, default=0) or 1


def column_lengths(dataset: Dataset) -> dict[str, int | None]:
    """Per variable, its Dataset-JSON ``length`` (strings only; None for numbers and dates)."""
    out: dict[str, int | None] = {}
    for j, var in enumerate(dataset.meta.variables):
        out[var.name] = text_length([row[j] for row in dataset.rows]) if var.data_type == "string" else None
    return out


def columns(dataset: Dataset) -> list[dict[str, Any]]:
    """The ``columns`` array: itemOID, name, label, dataType, length (strings), keySequence (keys)."""
    lengths = column_lengths(dataset)
    out = []
    for var in dataset.meta.variables:
        column: dict[str, Any] = {
            "itemOID": item_oid(dataset.meta, var),
            "name": var.name,
            "label": var.label,
            "dataType": var.data_type,
        }
        if lengths[var.name] is not None:
            column["length"] = lengths[var.name]
        key = dataset.meta.key_sequence(var.name)
        if key is not None:
            column["keySequence"] = key
        out.append(column)
    return out


def document(dataset: Dataset, studyid: str, created: str) -> dict[str, Any]:
    """The Dataset-JSON 1.1 object of one dataset."""
    meta = dataset.meta
    return {
        "datasetJSONCreationDateTime": created,
        "datasetJSONVersion": VERSION,
        "fileOID": f"{studyid}.{meta.name}",
        "originator": ORIGINATOR,
        "sourceSystem": {"name": ORIGINATOR, "version": nmocart.__version__},
        "studyOID": studyid,
        "metaDataVersionOID": metadata_version_oid(studyid),
        "metaDataRef": "../define.xml",
        "itemGroupOID": f"IG.{meta.name}",
        "records": len(dataset.rows),
        "name": meta.name,
        "label": meta.label,
        "columns": columns(dataset),
        "rows": [list(row) for row in dataset.rows],
    }


def dumps(doc: dict[str, Any]) -> bytes:
    """Deterministic bytes of a document (compact, keys in insertion order, final newline)."""
    return orjson.dumps(doc) + b"\n"
