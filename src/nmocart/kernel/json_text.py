r"""JSON text as people's tools write it: byte-order marks, UTF-16, and duplicate keys.

A JSON object with the same key twice is rejected: parsers keep one of them silently
(``"sex": "male", "sex": "female"`` would change a decision). The check is cheap on the
common case (:func:`may_repeat_keys`): after validation, the ``:`` of the text are counted
against the keys the models were given. Only when they differ (a colon inside a string,
or a real duplicate) does :func:`repeated_keys` run: ``orjson`` parses and re-serialises
the text (no key dropped if the colon counts match and there is no ``\\u`` escape), and
only if still unsure the pure-Python pass, which names every duplicate's path.
"""

from __future__ import annotations

import json
from typing import get_args

import orjson
from pydantic import BaseModel

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class TextEncodingError(ValueError):
    """The bytes are not UTF-8 JSON text; the message says how to save the file."""


def utf8_payload(data: bytes | str) -> bytes | str:
    """``data`` without a UTF-8 byte-order mark; UTF-16 (with or without a BOM) is an error."""
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM) :]
    if data.startswith(_UTF16_BOMS) or looks_utf16(data[:4]):
        raise TextEncodingError("the file is UTF-16 encoded; save the file as UTF-8")
    return data


def looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: JSON starts with ASCII, so every other byte of it is zero."""
    if len(head) < 4:
        return False
    little = head[1] == head[3] == 0 and head[0] != 0 and head[2] != 0
    big = head[0] == head[2] == 0 and head[1] != 0 and head[3] != 0
    return little or big


class _Pairs(dict[str, object]):
    """A parsed object that remembers the keys its text repeated."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Pairs:
    obj = _Pairs(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        obj.repeated = tuple(repeated)
    return obj


def _paths(value: object) -> list[str]:
    """The paths (``labs[3].unit``) of every repeated key under ``value``, in document order."""
    found: list[str] = []
    stack: list[tuple[object, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _Pairs):
            found.extend(f"{where}.{key}" if where else key for key in node.repeated)
            children = [(child, f"{where}.{key}" if where else key) for key, child in node.items()]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(child, f"{where}[{index}]") for index, child in enumerate(node)]))
    return found


def _cannot_repeat(data: bytes | str) -> bool:
    """True when the text provably has no repeated key (the fast path); False when unsure."""
    raw = data.encode() if isinstance(data, str) else data
    if b"\\u" in raw:
        return False
    try:
        again = orjson.dumps(orjson.loads(raw))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
        return False
    return raw.count(b":") == again.count(b":")


def repeated_keys(data: bytes | str) -> list[str]:
    """The paths of keys that an object in ``data`` repeats, in document order; [] if none.

    Text that is not JSON gives []: the validator that runs next reports the syntax error.
    """
    if _cannot_repeat(data):
        return []
    try:
        parsed = json.loads(data, object_pairs_hook=_object)
    except (ValueError, RecursionError):
        return []
    return _paths(parsed)


def _nested_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose annotation can hold models (directly or in a list)."""
    cached: tuple[str, ...] | None = model.__dict__.get("__nmocart_nested__")
    if cached is not None:
        return cached

    def holds_model(annotation: object) -> bool:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return True
        return any(holds_model(arg) for arg in get_args(annotation))

    found = tuple(name for name, info in model.model_fields.items() if holds_model(info.annotation))
    type.__setattr__(model, "__nmocart_nested__", found)
    return found


def keys_given(model: BaseModel) -> int:
    """How many keys the validated JSON objects held, counted once each (fields set, nested)."""
    total = len(model.__pydantic_fields_set__)
    for name in _nested_fields(type(model)):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            total += keys_given(value)
        elif isinstance(value, list | tuple) and value and isinstance(value[0], BaseModel):
            if _nested_fields(type(value[0])):
                total += sum(keys_given(item) for item in value)
            else:  # flat items (labs): the hot path; a miscount only ever means "unsure"
                total += sum(len(item.__pydantic_fields_set__) for item in value)
    return total


def may_repeat_keys(data: bytes | str, model: BaseModel) -> bool:
    """False when the text that validated into ``model`` provably repeats no key (cheap).

    Every key of JSON text is followed by one literal ``:`` outside strings, so the text has
    at least as many ``:`` as keys, more if a key repeats or a string holds a colon. When the
    count equals the keys the (strict, extra-forbidding) models were given, nothing repeats.
    """
    colons = data.count(b":") if isinstance(data, bytes) else data.count(":")
    return colons != keys_given(model)
