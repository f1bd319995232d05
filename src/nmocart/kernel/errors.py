"""Input errors a person can act on: the field path, what is wrong, and the fix.

Pydantic's ``ValidationError`` and JSON decoding errors are turned into lines such as
``labs[3].unit: 'mmol/L' is not a unit for creatinine; use mg/dL, umol/L or µmol/L``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from nmocart.kernel.iso_date import NO_SUCH_DAY, NOT_A_DATE
from nmocart.kernel.json_text import TextEncodingError, may_repeat_keys, repeated_keys, utf8_payload

Model = TypeVar("Model", bound=BaseModel)

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field or check its spelling",
    "date_from_datetime_parsing": "write the date as YYYY-MM-DD",
    "date_parsing": "write a real calendar date as YYYY-MM-DD",
    "date_type": "write the date as a string YYYY-MM-DD",
    "bool_type": "write true, false or null",
    "bool_parsing": "write true, false or null",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "string_type": "write a string",
    "list_type": "write a list, [] when collected with nothing to report, or null when not collected",
    "model_type": "write a JSON object",
    "dict_type": "write a JSON object",
    "model_attributes_type": "write a JSON object",
    "json_invalid": "fix the JSON syntax",
    "json_type": "write a JSON object",
    "string_pattern_mismatch": "use only the allowed characters",
    "too_short": "give at least one item",
    "greater_than": "correct the number",
    "greater_than_equal": "correct the number",
    "less_than": "correct the number",
    "less_than_equal": "correct the number",
    "finite_number": "write a finite number",
}

_NO_ECHO = {"json_invalid", "json_type", "value_error", "assertion_error", "missing"}


class FieldError(ValueError):
    """Raised by a model-level validator to blame one field of that model.

    Its text is ``@field: message``; :func:`describe_validation_error` moves the field
    into the path, so ``labs[3]`` + ``@unit: ...`` reads ``labs[3].unit: ...``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"@{field}: {message}")


def field_path(loc: Sequence[int | str]) -> str:
    """``('labs', 3, 'unit')`` as ``labs[3].unit``; the empty location as ``(record)``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(record)"


def _message(error: dict[str, object]) -> str:
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    if kind in {NOT_A_DATE, NO_SUCH_DAY}:  # the message reads after the text as given
        return f"{error.get('input')!r} {msg}"
    if kind in {"enum", "literal_error"}:
        given = error.get("input")
        return f"{given!r} is not one of the allowed words; {msg[0].lower()}{msg[1:]}"
    fix = _FIXES.get(kind)
    if kind == "missing":
        return "required field is missing; add it"
    if "input" in error and kind not in _NO_ECHO:
        given = error["input"]
        shown = repr(given) if not isinstance(given, dict | list) else type(given).__name__
        msg = f"{msg} (got {shown})"
    return f"{msg}; {fix}" if fix else msg


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per problem: ``path: what is wrong; how to fix it``."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = _message(dict(error))
        if message.startswith("@") and ": " in message:
            field, message = message[1:].split(": ", 1)
            loc = (*loc, field)
        lines.append(f"{field_path(loc)}: {message}")
    return lines


def readable_id(data: bytes | str, key: str) -> str | None:
    """The record's identifier when the JSON is readable and holds a string there, else None."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get(key) if isinstance(parsed, dict) else None
    if not isinstance(value, str) or not value.isprintable():
        return None  # an id with control characters is never echoed back
    return value


class RecordError(ValueError):
    """A record that failed validation: one line per problem, and its id when readable."""

    def __init__(self, problems: list[str], record_id: str | None) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.record_id = record_id


def parse_json_record(model: type[Model], data: bytes | str, id_key: str) -> Model:
    """Validate one JSON record into ``model``; raise :class:`RecordError` naming every problem.

    A UTF-8 byte-order mark is accepted; UTF-16 text and repeated keys are rejected.
    """
    try:
        payload = utf8_payload(data)
    except TextEncodingError as exc:
        raise RecordError([f"(record): {exc}"], None) from None
    try:
        record = model.model_validate_json(payload)
    except ValidationError as exc:
        problems = _repeated(payload) + describe_validation_error(exc)
        raise RecordError(problems, readable_id(payload, id_key)) from None
    if may_repeat_keys(payload, record):
        repeated = _repeated(payload)
        if repeated:
            raise RecordError(repeated, readable_id(payload, id_key))
    return record


def _repeated(payload: bytes | str) -> list[str]:
    """One problem per key repeated in its object."""
    return [
        f"{path}: the key appears more than once in its object; keep one" for path in repeated_keys(payload)
    ]
