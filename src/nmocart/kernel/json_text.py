r"""JSON text as people's tools write it: byte-order marks, UTF-16, and duplicate keys.

A JSON object with the same key twice is rejected: parsers keep one of them silently
(``"sex": "male", "sex": "female"`` would change a decision). The check is fast on the
common case: ``orjson`` parses and re-serialises the text, and when the re-serialised
text has as many ``:`` as the input (and the input has no ``\\u`` escapes) no key can
have been dropped. Only otherwise (a colon inside a string, an escape, or a real
duplicate) does the slower pure-Python pass run, which names every duplicate's path.
"""

from __future__ import annotations

import json

import orjson

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
