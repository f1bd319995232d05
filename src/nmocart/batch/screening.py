"""Screening of raw records for the batch runner: parse, screen, serialise one line per record."""

from __future__ import annotations

import datetime as dt

import orjson

from nmocart.batch import Outcome, SourceItem, error_object
from nmocart.screening.eligibility import ScreeningResult, screen
from nmocart.screening.protocol import Protocol
from nmocart.screening.record import RecordError, check_reference_date, parse_record


def screen_item(
    protocol: Protocol, as_of: dt.date | None, item: SourceItem
) -> ScreeningResult | dict[str, object]:
    """The screening result of one raw record, or its error object."""
    if item.read_error is not None:
        return error_object(item.source, "candidate_id", None, [item.read_error])
    try:
        record = parse_record(item.payload)
        check_reference_date(record, as_of)
    except RecordError as exc:
        return error_object(item.source, "candidate_id", exc.record_id, exc.problems)
    return screen(record, protocol, as_of)


def evaluate_item(protocol: Protocol, as_of: dt.date | None, item: SourceItem) -> Outcome:
    """One NDJSON output line for one raw record (picklable through ``functools.partial``)."""
    outcome = screen_item(protocol, as_of, item)
    if isinstance(outcome, ScreeningResult):
        return Outcome(orjson.dumps(outcome.as_dict()), True, outcome.candidate_id)
    record_id = outcome.get("candidate_id")
    return Outcome(orjson.dumps(outcome), False, record_id if isinstance(record_id, str) else None)
