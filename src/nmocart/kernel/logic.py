"""Three-valued (Kleene) logic over facts that carry their own explanation.

A :class:`Fact` is true, false or unknown (``None``) together with the one-line reason,
the JSON Pointers of the record items it rests on, and, when unknown, the data that
would settle it. ``all_of`` and ``any_of`` combine facts by Kleene's strong logic and
keep only the explanation of the terms that decided the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import NamedTuple

Truth = bool | None
"""True, false, or unknown (``None``)."""


class Fact(NamedTuple):
    """A three-valued statement about the record, with its reason, evidence and missing data."""

    value: Truth
    reason: str
    evidence: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


def _fact(value: Truth, reason: str, evidence: tuple[str, ...], missing: tuple[str, ...] = ()) -> Fact:
    """Build a Fact through ``tuple.__new__``, half the cost of the generated ``__new__``.

    Hundreds of facts are built per screened record.
    """
    return tuple.__new__(Fact, (value, reason, evidence, missing))


def _tuple(items: Iterable[str]) -> tuple[str, ...]:
    return items if type(items) is tuple else tuple(items)


def true(reason: str, evidence: Iterable[str] = ()) -> Fact:
    """A fact known to hold."""
    return _fact(True, reason, _tuple(evidence))


def false(reason: str, evidence: Iterable[str] = ()) -> Fact:
    """A fact known not to hold."""
    return _fact(False, reason, _tuple(evidence))


def unknown(reason: str, missing: Iterable[str], evidence: Iterable[str] = ()) -> Fact:
    """A fact that cannot be decided; ``missing`` names the data that would settle it."""
    return _fact(None, reason, _tuple(evidence), _tuple(missing))


def _merge(value: Truth, parts: list[Fact]) -> Fact:
    if len(parts) == 1:
        only = parts[0]
        return _fact(value, only.reason, only.evidence, only.missing if value is None else ())
    return _fact(
        value,
        "; ".join(dict.fromkeys([p.reason for p in parts if p.reason])),
        tuple(dict.fromkeys(chain.from_iterable([p.evidence for p in parts]))),
        tuple(dict.fromkeys(chain.from_iterable([p.missing for p in parts]))) if value is None else (),
    )


def any_of(*facts: Fact) -> Fact:
    """Kleene OR: true if any term is true, false if all are false, else unknown."""
    if not facts:
        return false("no term")
    trues = [f for f in facts if f.value is True]
    if trues:
        return _merge(True, trues)
    unknowns = [f for f in facts if f.value is None]
    if unknowns:
        return _merge(None, unknowns)
    return _merge(False, list(facts))


def all_of(*facts: Fact) -> Fact:
    """Kleene AND: false if any term is false, true if all are true, else unknown."""
    if not facts:
        return true("no term")
    falses = [f for f in facts if f.value is False]
    if falses:
        return _merge(False, falses)
    unknowns = [f for f in facts if f.value is None]
    if unknowns:
        return _merge(None, unknowns)
    return _merge(True, list(facts))


def negate(fact: Fact, reason: str | None = None) -> Fact:
    """Kleene NOT, optionally with a reworded reason."""
    value = None if fact.value is None else not fact.value
    return Fact(value, reason if reason is not None else fact.reason, fact.evidence, fact.missing)


def with_reason(fact: Fact, reason: str) -> Fact:
    """The same fact with another reason."""
    return Fact(fact.value, reason, fact.evidence, fact.missing)
