"""A list view being edited: read from the metadata or the editor's form, changed by the
editor's buttons, and written back as the list view's metadata.

The form carries the draft as numbered inputs: ``c{k}`` (a column's field path), per filter
row ``f{k}_field``, ``f{k}_op`` and ``f{k}_value`` (and-ed), per sort key ``o{k}_field`` and
``o{k}_dir``. A stored filter the rows cannot show (``or``, ``not``, nested groups) is edited
as JSON instead (``filter_json``), in the API's filter model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rapport.admin_ui.setup._component_editing import Errors, add_error, move, rows
from rapport.admin_ui.setup._field_paths import IS_NOT_NULL, IS_NULL, FieldPath, operator_label
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.fields import FieldValueError


@dataclass
class Condition:
    field: str
    op: str
    value: str = ""


@dataclass
class SortKey:
    field: str
    descending: bool = False


@dataclass
class ListViewDraft:
    name: str
    label: str = ""
    columns: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    #: the filter as JSON text, when the rows cannot show it (None: the rows are the filter)
    filter_json: str | None = None
    sort: list[SortKey] = field(default_factory=list)

    # -- reading and writing ---------------------------------------------------------
    @classmethod
    def new(cls, obj: CompiledObject) -> ListViewDraft:
        first = obj.defn.name_field or next(iter(obj.defn.field_names()), None)
        return cls("", columns=[first] if first else [])

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> ListViewDraft:
        tree = data.get("filter")
        conditions = _as_rows(tree)
        sort = [SortKey(k.lstrip("-"), k.startswith("-")) for k in data.get("sort", [])]
        return cls(data["name"], data.get("label", ""), list(data.get("columns", [])), conditions or [],
                   json.dumps(tree, indent=2) if conditions is None else None, sort)

    @classmethod
    def from_form(cls, form: Any, name: str) -> ListViewDraft:
        columns = [form[f"c{k}"] for k in rows(form, "c{}")]
        conditions = [Condition(form[f"f{k}_field"], form.get(f"f{k}_op", ""), form.get(f"f{k}_value", ""))
                      for k in rows(form, "f{}_field")]
        sort = [SortKey(form[f"o{k}_field"], form.get(f"o{k}_dir") == "desc") for k in rows(form, "o{}_field")]
        filter_json = form.get("filter_json") if form.get("filter_mode") == "json" else None
        if filter_json is not None and not filter_json.strip():
            filter_json = None  # emptied: back to rows
        return cls(name, form.get("label", "").strip(), columns, conditions, filter_json, sort)

    def to_metadata(self, object_name: str, paths: dict[str, FieldPath]) -> tuple[dict[str, Any], Errors]:
        """The list view's metadata, and the problems the form can see before the loader does."""
        errors: Errors = {}
        data: dict[str, Any] = {"object": object_name, "name": self.name}
        if self.label:
            data["label"] = self.label
        if not self.columns:
            add_error(errors, "columns", "Choose at least one column.")
        for k, column in enumerate(self.columns):
            if column in self.columns[:k]:
                add_error(errors, f"c{k}", f"'{column}' is already a column.")
        data["columns"] = list(self.columns)
        tree = self._filter(paths, errors)
        if tree is not None:
            data["filter"] = tree
        for k, key in enumerate(self.sort):
            if key.field in [s.field for s in self.sort[:k]]:
                add_error(errors, f"o{k}", f"The list is already sorted by '{key.field}'.")
        if self.sort:
            data["sort"] = [("-" if key.descending else "") + key.field for key in self.sort]
        return data, errors

    def _filter(self, paths: dict[str, FieldPath], errors: Errors) -> Any:
        if self.filter_json is not None:
            try:
                return json.loads(self.filter_json)
            except ValueError as error:
                add_error(errors, "filter", f"The filter is not valid JSON: {error}.")
                return None
        nodes = [_node(c, paths.get(c.field), f"f{k}", errors) for k, c in enumerate(self.conditions)]
        if not nodes:
            return None
        return nodes[0] if len(nodes) == 1 else {"and": nodes}

    def part_of(self, rest: str) -> str:
        """The editor part a loader problem inside the list view points at."""
        segments = rest.strip("/").split("/")
        match segments:
            case ["name" | "label" as key, *_]:
                return key
            case ["columns", c, *_]:
                return f"c{c}"
            case ["sort", s, *_]:
                return f"o{s}"
            case ["filter", *inner] if self.filter_json is None:
                if len(self.conditions) > 1 and len(inner) > 1 and inner[0] == "and":
                    return f"f{inner[1]}"
                return "f0" if len(self.conditions) == 1 else "filter"
            case ["filter", *_] | ["columns"]:
                return segments[0]
        return ""


def _as_rows(tree: Any) -> list[Condition] | None:
    """The rows of a stored filter (a condition, or an ``and`` of conditions), or None when
    the rows cannot show it."""
    if tree is None:
        return []
    nodes = tree["and"] if isinstance(tree, dict) and set(tree) == {"and"} and isinstance(tree["and"], list) \
        else [tree]
    conditions = []
    for node in nodes:
        if not (isinstance(node, dict) and set(node) == {"field", "op", "value"}
                and isinstance(node["field"], str) and isinstance(node["op"], str)):
            return None
        if node["op"] == IS_NULL and isinstance(node["value"], bool):
            conditions.append(Condition(node["field"], IS_NULL if node["value"] else IS_NOT_NULL))
        else:
            conditions.append(Condition(node["field"], node["op"], _text(node["value"])))
    return conditions


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _node(condition: Condition, path: FieldPath | None, part: str, errors: Errors) -> dict[str, Any]:
    """A filter row as a condition of the filter model, its value checked by the field's type."""
    if condition.op in (IS_NULL, IS_NOT_NULL):
        return {"field": condition.field, "op": IS_NULL, "value": condition.op == IS_NULL}
    text = condition.value.strip()
    if path is None:  # a path the editor does not offer: the loader names what is wrong
        return {"field": condition.field, "op": condition.op, "value": text}
    if condition.op not in path.operators():
        allowed = ", ".join(f"'{operator_label(op)}'" for op in path.operators())
        add_error(errors, part, f"'{operator_label(condition.op)}' does not fit {path.label}; choose one of {allowed}.")
        return {"field": condition.field, "op": condition.op, "value": text}
    texts = [t.strip() for t in text.split(",") if t.strip()] if path.takes_list(condition.op) else [text]
    if not text:
        add_error(errors, part, f"Give a value for {path.label} to be compared with (or choose 'is empty').")
        return {"field": condition.field, "op": condition.op, "value": text}
    try:
        operand = path.type.coerce_operand(condition.op, texts if path.takes_list(condition.op) else text, path.defn)
    except FieldValueError as error:
        add_error(errors, part, f"{path.label}: {error.message}.")
        return {"field": condition.field, "op": condition.op, "value": text}
    if path.takes_list(condition.op):
        return {"field": condition.field, "op": condition.op,
                "value": [_json(v, t) for v, t in zip(operand, texts)]}
    return {"field": condition.field, "op": condition.op, "value": _json(operand, text)}


def _json(coerced: Any, text: str) -> Any:
    """A checked operand as JSON: true/false and numbers as themselves, anything else (dates,
    ids, picklist values) as the text typed, which the filter reads the same way."""
    if isinstance(coerced, bool):
        return coerced
    if isinstance(coerced, int) or (isinstance(coerced, Decimal) and coerced == coerced.to_integral_value()):
        return int(coerced)
    if isinstance(coerced, Decimal) and Decimal(repr(float(coerced))) == coerced:
        return float(coerced)
    return text


def edit(draft: ListViewDraft, verb: str, at: tuple[int, ...], form: Any, paths: dict[str, FieldPath]
         ) -> tuple[str | None, Errors]:
    """Apply the button ``verb`` (at row ``at``) to ``draft``: the control to focus next, and
    any problem with the request."""
    errors: Errors = {}
    k = at[0] if at else -1
    for condition in draft.conditions:  # a row whose field changed offers that field's operators
        path = paths.get(condition.field)
        if path is not None and condition.op not in path.operators():
            condition.op = path.operators()[0]
    if verb == "add_column":
        column = form.get("add_column", "")
        if column not in paths or column in draft.columns:
            add_error(errors, "add_column", "Choose a field that is not a column yet.")
        else:
            draft.columns.append(column)
        return "add_column", errors
    if verb == "remove_column" and 0 <= k < len(draft.columns):
        del draft.columns[k]
        return "add_column", errors
    if verb in ("column_up", "column_down"):
        return move(draft.columns, k, verb, "c", "column"), errors
    if verb == "add_filter":
        first = next(iter(paths.values()))
        draft.conditions.append(Condition(first.path, first.operators()[0]))
        return f"f{len(draft.conditions) - 1}_field", errors
    if verb == "remove_filter" and 0 <= k < len(draft.conditions):
        del draft.conditions[k]
        return "add_filter", errors
    if verb == "add_sort":
        used = {s.field for s in draft.sort}
        free = next((p for p in paths if p not in used), None)
        if free is not None:
            draft.sort.append(SortKey(free))
        return f"o{len(draft.sort) - 1}_field", errors
    if verb == "remove_sort" and 0 <= k < len(draft.sort):
        del draft.sort[k]
        return "add_sort", errors
    if verb in ("sort_up", "sort_down"):
        return move(draft.sort, k, verb, "o", "sort"), errors
    if verb == "refresh" and 0 <= k < len(draft.conditions):
        return f"f{k}_op", errors
    return None, errors
