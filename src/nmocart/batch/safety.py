"""Raw bytes to graded lines: parse a safety record, grade it, serialise one output line.

The adapter between the batch runner and the pure grading core; every failure becomes
an error object naming the source, the subject (when readable) and the problem.
"""

from __future__ import annotations

from typing import Any

import orjson

from nmocart.batch import Outcome, SourceItem, error_object
from nmocart.kernel.errors import RecordError, parse_json_record
from nmocart.safety.grade import as_dict, grade_subject
from nmocart.safety.parameters import SafetyParameters
from nmocart.safety.record import SafetyRecord


def parse_record(data: bytes | str) -> SafetyRecord:
    """Validate one JSON safety record; raises :class:`RecordError` with field-path messages."""
    return parse_json_record(SafetyRecord, data, "subject_id")


def read_item(item: SourceItem) -> SafetyRecord | dict[str, object]:
    """The validated record of one raw item, or its error object."""
    if item.read_error is not None:
        return error_object(item.source, "subject_id", None, [item.read_error])
    try:
        return parse_record(item.payload)
    except RecordError as exc:
        return error_object(item.source, "subject_id", exc.record_id, exc.problems)


def grade_item(params: SafetyParameters, item: SourceItem) -> tuple[dict[str, Any], bool]:
    """The graded object of one raw record and True, or its error object and False."""
    record = read_item(item)
    if isinstance(record, dict):
        return record, False
    return as_dict(grade_subject(record, params)), True


def evaluate_item(params: SafetyParameters, item: SourceItem) -> Outcome:
    """One NDJSON line for one raw record (picklable through ``functools.partial``)."""
    obj, ok = grade_item(params, item)
    record_id = obj.get("subject_id")
    return Outcome(orjson.dumps(obj), ok, record_id if isinstance(record_id, str) else None)
