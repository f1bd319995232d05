"""Web forms for every section of the screening record, derived from the validating models.

The forms are generated from the pydantic models of ``nmocart.screening.record`` so a field
added to the record appears in the forms, and the record a form produces is validated by the
same ``parse_record`` as the CLI (same messages). Blank inputs are left out of the record (a
field not given stays unknown, never "no"); text that is not a number is passed on as text so
the validator names the field and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from nmocart.screening import record as rec

ItemModel = type[BaseModel]


@dataclass(frozen=True)
class FormField:
    """One input of a section form."""

    name: str
    kind: Literal["date", "tristate", "boolean", "choice", "number", "text", "rows"]
    required: bool
    choices: tuple[str, ...] = ()
    rows_model: ItemModel | None = None

    @property
    def label(self) -> str:
        """The field name as words (``qtc_ms`` -> ``qtc ms``)."""
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Section:
    """One section of the record: a list of items, a single object, or the candidate's own fields."""

    name: str
    title: str
    shape: Literal["list", "object", "fields"]
    fields: tuple[FormField, ...]


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return Union[tuple(args)], optional  # noqa: UP007 - a runtime union of the remaining types
    return annotation, False


def _literal_words(annotation: Any) -> tuple[str, ...] | None:
    """The allowed words of a Literal (or a union of Literals), else None."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        words: list[str] = []
        for arg in get_args(annotation):
            inner = _literal_words(arg)
            if inner is None:
                return None
            words.extend(inner)
        return tuple(words)
    return None


def form_field(name: str, annotation: Any, required: bool) -> FormField:
    """The input that edits one model field, chosen from its type."""
    inner, optional = _unwrap_optional(annotation)
    if get_origin(inner) is Annotated:  # e.g. IsoDate: the checked type is the first argument
        inner = get_args(inner)[0]
    words = _literal_words(inner)
    if words is not None:
        return FormField(name, "choice", required, words)
    if inner is dt.date:
        return FormField(name, "date", required)
    if inner is bool:
        return FormField(name, "tristate" if optional else "boolean", required)
    if inner in (float, int):
        return FormField(name, "number", required)
    if inner is str:
        return FormField(name, "text", required)
    if get_origin(inner) is tuple:
        model = get_args(inner)[0]
        if isinstance(model, type) and issubclass(model, BaseModel):
            return FormField(name, "rows", required, rows_model=model)
    raise TypeError(f"no form input for {name}: {annotation!r}")


def model_fields(model: ItemModel, only: tuple[str, ...] | None = None) -> tuple[FormField, ...]:
    """The form fields of a model (or of the ``only`` names), in the model's order."""
    hints = typing.get_type_hints(model)
    return tuple(
        form_field(name, hints[name], info.is_required())
        for name, info in model.model_fields.items()
        if only is None or name in only
    )


_LIST_SECTIONS: tuple[tuple[str, str, ItemModel], ...] = (
    ("attacks", "Attacks", rec.Attack),
    ("antibody_tests", "Antibody tests", rec.AntibodyTest),
    ("medications", "Medications", rec.Medication),
    ("conditions", "Conditions (medical history)", rec.Condition),
    ("labs", "Laboratory results", rec.Lab),
    ("pregnancy_tests", "Pregnancy tests", rec.PregnancyTest),
    ("ecgs", "ECGs", rec.Ecg),
    ("tcell_proliferation", "T-cell proliferation", rec.TcellProliferation),
)

_SCALARS = tuple(
    name
    for name in rec.ScreeningRecord.model_fields
    if name not in {"candidate_id", "investigator", *(s[0] for s in _LIST_SECTIONS)}
)

SECTIONS: dict[str, Section] = {
    "candidate": Section(
        "candidate",
        "Candidate",
        "fields",
        model_fields(rec.ScreeningRecord, _SCALARS),
    ),
    **{name: Section(name, title, "list", model_fields(model)) for name, title, model in _LIST_SECTIONS},
    "investigator": Section(
        "investigator", "Investigator's assessment", "object", model_fields(rec.Investigator)
    ),
}
"""Every section of the record, in the record's order."""

NESTED_ROWS = 3
"""Blank nested rows offered beyond the existing ones (an attack's syndromes)."""


def _scalar(field: FormField, raw: str) -> object:
    """A form value as the JSON value the record expects; blank values are handled by the caller."""
    if field.kind in ("tristate", "boolean"):
        return {"true": True, "false": False}.get(raw, raw)
    if field.kind == "number":
        try:
            return int(raw) if re.fullmatch(r"[+-]?\d+", raw) else float(raw)
        except ValueError:
            return raw
    return raw


def _values(fields: tuple[FormField, ...], form: Mapping[str, str], prefix: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for field in fields:
        key = f"{prefix}{field.name}"
        if field.kind == "rows":
            assert field.rows_model is not None
            sub_fields = model_fields(field.rows_model)
            rows: list[dict[str, object]] = []
            index = 0
            while any(f"{key}.{index}.{sub.name}" in form for sub in sub_fields):
                row = _values(sub_fields, form, f"{key}.{index}.")
                if row:
                    rows.append(row)
                index += 1
            out[field.name] = rows
            continue
        raw = form.get(key, "").strip()
        if raw == "":
            continue
        out[field.name] = _scalar(field, raw)
    return out


def item_from_form(section: Section, form: Mapping[str, str]) -> dict[str, object]:
    """The JSON object a section form describes (field inputs are named ``f.<field>``)."""
    return _values(section.fields, form, "f.")


def apply_edit(
    record: dict[str, Any],
    section: Section,
    action: str,
    index: int | None,
    form: Mapping[str, str],
) -> dict[str, Any]:
    """The record after one form action; the caller validates it with ``parse_record``.

    ``action`` is ``add``, ``update`` or ``remove`` an item (list sections), ``save`` (object
    and field sections), ``collected-empty`` (the section was collected with nothing to report:
    ``[]``) or ``not-collected`` (``null``).
    """
    new = dict(record)
    if section.shape == "fields":
        for field in section.fields:
            new.pop(field.name, None)
        new.update(item_from_form(section, form))
        return new
    if action == "not-collected":
        new[section.name] = None
        return new
    if section.shape == "object":
        new[section.name] = item_from_form(section, form)
        return new
    items = list(new.get(section.name) or [])
    if action == "collected-empty":
        if items:
            raise EditError(f"{section.name}: remove the items first; the section still holds {len(items)}")
        new[section.name] = []
        return new
    if action == "add":
        items.append(item_from_form(section, form))
    elif action in ("update", "remove"):
        if index is None or not 0 <= index < len(items):
            raise EditError(f"{section.name}[{index}]: no such item; reload the page and try again")
        if action == "update":
            items[index] = item_from_form(section, form)
        else:
            del items[index]
    else:
        raise EditError(
            f"action: {action!r} is not one of add, update, remove, save, collected-empty, not-collected"
        )
    new[section.name] = items
    return new


class EditError(ValueError):
    """A form action that cannot apply to the record (names the field and the fix)."""


def form_values(section: Section, item: Mapping[str, Any] | None) -> dict[str, str]:
    """The input values that show an existing item (or the candidate's fields) in a form."""
    out: dict[str, str] = {}
    if item is None:
        return out
    for field in section.fields:
        value = item.get(field.name)
        if field.kind == "rows":
            assert field.rows_model is not None
            for i, row in enumerate(value or []):
                for sub in model_fields(field.rows_model):
                    out[f"f.{field.name}.{i}.{sub.name}"] = _text(row.get(sub.name))
            continue
        out[f"f.{field.name}"] = _text(value)
    return out


def _text(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_PATH = re.compile(r"^(?P<section>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<rest>.+))?$")


def error_field(problem: str, section: Section, index: int | None) -> str | None:
    """The form input a validation message blames (``labs[3].unit: ...`` -> ``f.unit``), if on this form."""
    path = problem.split(": ", 1)[0]
    match = _PATH.match(path)
    if match is None:
        return None
    if section.shape == "fields":
        return f"f.{match['section']}" if match["index"] is None and match["rest"] is None else None
    if match["section"] != section.name or match["rest"] is None:
        return None
    if section.shape == "list" and (match["index"] is None or int(match["index"]) != index):
        return None
    rest = match["rest"]
    rest = re.sub(r"\[(\d+)\]", r".\1", rest)
    return f"f.{rest}"


def pointer_target(pointer: str) -> tuple[str, int | None, str | None]:
    """Where a JSON Pointer of the evidence or the to-do list lives: section, item index, field."""
    parts = [p for p in pointer.split("/") if p]
    if not parts:
        return ("candidate", None, None)
    head = parts[0]
    if head in SECTIONS and SECTIONS[head].shape == "list":
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return (head, index, None)
    if head == "investigator":
        return ("investigator", None, parts[1] if len(parts) > 1 else None)
    return ("candidate", None, head)
