"""What a record form holds, and what a posted one asks for.

A form shows its layout's fields: the ones the user may change as inputs; the ones they may
only read, that the layout makes read-only, or that the system computes, as values. Posted,
each input is parsed by its field's widget into the API's input; a lookup's typed title is
checked against the chosen id, or resolved when there is none (no script); the layout's
required fields must have a value; a read-only field's value must not have changed. Only
the fields the user changed go to the record service, which checks everything else.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from rapport.admin_ui.records.layouts import PageLayout, PlacedField, Section
from rapport.admin_ui.records.lookup import resolve_title
from rapport.admin_ui.records.reading import titles_by_id
from rapport.admin_ui.widgets import LookupWidget, field_view
from rapport.platform.errors import Problem
from rapport.runtime.compiled import CompiledField, CompiledObject
from rapport.runtime.fields import FieldValueError
from rapport.runtime.permissions import Access, FieldAccess

Form = ImmutableMultiDict[str, str]
#: the hidden inputs of a form: the version it was opened at, and the values it showed then
VERSION, OPENED = "_version", "_opened"


class Locked(StrEnum):
    """Why a field on a form is shown but cannot be changed there."""

    COMPUTED = "computed"
    PERMISSION = "permission"
    LAYOUT = "layout"


@dataclass(frozen=True)
class FormField:
    placed: PlacedField
    locked: Locked | None
    required: bool

    @property
    def name(self) -> str:
        return self.placed.name

    @property
    def field(self) -> CompiledField:
        return self.placed.field

    @property
    def editable(self) -> bool:
        return self.locked is None


@dataclass(frozen=True)
class FormSection:
    label: str
    columns: int
    fields: tuple[FormField, ...]


@dataclass
class Posted:
    """A posted form: the values the user changed (the API's input), what to show again on an
    error (the text they typed, a lookup's typed title), and the problems found on the form."""

    changes: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, Any] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def form_sections(layout: PageLayout, obj: CompiledObject, access: Access, extra: tuple[str, ...] = ()
                  ) -> list[FormSection]:
    """The layout's sections as a form; ``extra`` fields (pre-filled, not on the layout) join
    the first section."""
    sections = list(layout.sections)
    grant = access.on(obj.name)
    added = tuple(PlacedField(obj.fields[name], grant.field_access(name)) for name in extra)
    if added:
        first = sections[0] if sections else Section("Details", 1, ())
        sections[:1] = [Section(first.label, first.columns, first.fields + added)]
    return [FormSection(s.label, s.columns, tuple(_form_field(p) for p in s.fields)) for s in sections]


def fillable(obj: CompiledObject, access: Access, names: Any) -> list[str]:
    """Those of ``names`` that are fields the user may fill in on ``obj``."""
    grant = access.on(obj.name)
    return [n for n in names if n in obj.fields and obj.fields[n].type.writable
            and grant.field_access(n) is FieldAccess.EDIT]


def _form_field(placed: PlacedField) -> FormField:
    compiled = placed.field
    if not compiled.type.writable:
        locked: Locked | None = Locked.COMPUTED
    elif placed.access is not FieldAccess.EDIT:
        locked = Locked.PERMISSION
    elif placed.readonly:
        locked = Locked.LAYOUT
    else:
        locked = None
    required = locked is None and (placed.required or compiled.type.is_required(compiled.defn))
    return FormField(placed, locked, required)


def read_posted(request: Request, tx: Any, fields: list[FormField], opened: dict[str, Any], *,
                creating: bool) -> Posted:
    """What the posted form asks for. ``opened`` holds the values the form showed when it was
    opened: an input whose value is unchanged is not sent (on a new record, a blank one)."""
    form: Form = request.state.form
    posted = Posted()
    lookups: dict[str, list[tuple[FormField, str | None, str]]] = defaultdict(list)
    for item in fields:
        compiled, name = item.field, item.name
        if item.locked is Locked.COMPUTED:
            continue
        if item.locked is not None:
            if name in form and not same_value(compiled, _parse(compiled, form, name), opened.get(name)):
                posted.problems.append(Problem(f"/{name}", "forms.read_only", _locked_message(item)))
            continue
        raw = form.getlist(name)
        posted.shown[name] = raw[0] if len(raw) == 1 else (raw or None)
        value = _parse(compiled, form, name)
        if compiled.defn.target:
            typed = form.get(LookupWidget.label_input(name), "").strip()
            posted.titles[name] = typed
            lookups[compiled.defn.target].append((item, value, typed))
            continue
        _take(posted, item, value, opened, creating)
    for target, items in lookups.items():
        _resolve_lookups(request, tx, target, items, posted, opened, creating)
    return posted


def _resolve_lookups(request: Request, tx: Any, target: str, items: list[tuple[FormField, str | None, str]],
                     posted: Posted, opened: dict[str, Any], creating: bool) -> None:
    """A lookup's value is what its search box says: the chosen id if its title is what the box
    holds, else the one record of that name; an empty box empties the lookup."""
    known = titles_by_id(request, tx, target, [value for _, value, typed in items if value and typed])
    target_obj = tx.model.objects[target]
    for item, value, typed in items:
        if not typed:
            value = posted.shown[item.name] = None
        elif not value or known.get(value, "").casefold() != typed.casefold():
            value, error = resolve_title(request, tx, target_obj, typed)
            if error is not None:
                posted.problems.append(Problem(f"/{item.name}", "forms.lookup_unresolved", error))
                continue
            posted.shown[item.name] = value
        _take(posted, item, value, opened, creating)


def _take(posted: Posted, item: FormField, value: Any, opened: dict[str, Any], creating: bool) -> None:
    compiled = item.field
    blank = value == [] or compiled.type.is_blank(value)
    if item.required and blank:
        posted.problems.append(Problem(f"/{item.name}", "forms.required", f"{compiled.defn.label} is required."))
    if creating:
        if not blank:  # a blank input on a new record is left out: defaults and default formulas apply
            posted.changes[item.name] = value
    elif not same_value(compiled, value, opened.get(item.name)):
        posted.changes[item.name] = value


def _parse(compiled: CompiledField, form: Form, name: str) -> Any:
    return field_view(compiled.defn, compiled.type).widget.parse(form, name)


def same_value(compiled: CompiledField, a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same value of the field: both blank, shown alike in the
    form, or equal once coerced by the field's type."""
    kind, defn = compiled.type, compiled.defn
    if (a == [] or kind.is_blank(a)) and (b == [] or kind.is_blank(b)):
        return True
    if field_view(defn, kind, a).input_value == field_view(defn, kind, b).input_value:
        return True
    try:
        return bool(kind.coerce(a, defn) == kind.coerce(b, defn))
    except (FieldValueError, ArithmeticError, TypeError, ValueError):
        return False


def _locked_message(item: FormField) -> str:
    label = item.field.defn.label
    if item.locked is Locked.PERMISSION:
        return f"{label} is read-only for you: you may see it but not change it."
    return f"{label} is read-only on this form and was not changed."


def opened_values(fields: list[FormField], values: dict[str, Any]) -> str:
    """The hidden input that remembers what the form showed (JSON of the non-computed fields)."""
    return json.dumps({f.name: values.get(f.name) for f in fields if f.locked is not Locked.COMPUTED},
                      separators=(",", ":"), default=str)


def read_opened(form: Form, fallback: dict[str, Any]) -> dict[str, Any]:
    """The values the posted form showed when opened (``fallback`` if they are missing)."""
    try:
        opened = json.loads(form.get(OPENED, ""))
    except ValueError:
        return fallback
    return opened if isinstance(opened, dict) else fallback


def read_version(form: Form) -> int | None:
    version = form.get(VERSION, "").strip()
    return int(version) if version.isascii() and version.isdigit() and len(version) < 12 else None
