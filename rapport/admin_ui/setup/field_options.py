"""The options of each field type as form inputs, read from the metadata format.

Which options a type has, what kind of input each needs, its limits, choices, help and
whether it must be given come from ``schemas/field.json`` (``$defs/<type>``); defaults come
from the type's class (``FieldType.defaults``) or the schema. Nothing here lists field
types: a type with a new ``$defs`` entry gets its form. A few option *keys* mean more than a
schema can say, and get a choice among the org's objects and fields instead of a text box:
``target`` names an object; a roll-up's ``child_object`` and ``relationship_field`` are one
choice among the relations pointing at the object; its ``field`` is a field of that child.

An option's input is named after its key (the roll-up's relation: ``relation``; picklist
values: ``values-<row>-value``, ``-label``, ``-default``, ``-active``, ``-remove``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import cache
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from rapport.admin_ui.setup.forms import FormErrors, humanise
from rapport.metadata import schema
from rapport.metadata.model import FieldDef, OnDelete, PicklistValue
from rapport.runtime.compiled import CompiledOrg
from rapport.runtime.fields import FIELD_TYPES

Form = ImmutableMultiDict[str, str]
#: empty rows of picklist values a form offers below the values it has
BLANK_VALUE_ROWS = 3
#: the most rows of values one form post is read for
MAX_VALUE_ROWS = 1000
RELATION_INPUT = "relation"

_LABELS = {
    "max_length": "Maximum length", "min": "Smallest value", "max": "Largest value",
    "precision": "Precision (digits in all)", "scale": "Scale (digits after the point)",
    "restricted": "Only the listed values are accepted", "target": "Related object",
    "on_delete": "When the related record is deleted", "relationship_name": "Relationship name",
    "return_type": "Return type", "expression": "Formula", "child_object": "Summarised records",
    "function": "Function", "field": "Summarised field", "filter": "Which child records count (a filter)",
    "format": "Format", "start": "First number",
}


class OptionKind(StrEnum):
    NUMBER = "number"
    FLAG = "flag"
    CHOICE = "choice"
    OBJECT = "object"
    RELATION = "relation"
    CHILD_FIELD = "child_field"
    NAME = "name"
    TEXT = "text"
    FORMULA = "formula"
    VALUES = "values"
    JSON = "json"


#: option keys that name something of the org, and how they are chosen
_REFERENCES = {"target": OptionKind.OBJECT, "child_object": OptionKind.RELATION, "field": OptionKind.CHILD_FIELD}
#: option keys chosen together with another one (in that one's input)
_CHOSEN_WITH = {"relationship_field": "child_object"}


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    kind: OptionKind
    help: str | None = None
    required: bool = False
    default: Any = None
    #: an enum's values
    enum: tuple[str, ...] = ()

    @property
    def input(self) -> str:
        """The name of the option's input in the form."""
        return RELATION_INPUT if self.kind is OptionKind.RELATION else self.key


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    #: the ``<optgroup>`` the choice is shown in, if any
    group: str | None = None


@cache
def _field_schema() -> dict[str, Any]:
    return schema("field")


def type_names() -> list[str]:
    """The field types an admin can add, in the metadata format's order."""
    listed = [t for t in _field_schema()["properties"]["type"]["enum"] if t in FIELD_TYPES]
    return listed + [t for t in FIELD_TYPES if t not in listed]


def type_description(type_name: str) -> str:
    return str(_field_schema()["$defs"].get(type_name, {}).get("description", ""))


@cache
def options_of(type_name: str) -> tuple[Option, ...]:
    """The options of ``type_name`` as the metadata format declares them."""
    definition = _field_schema()["$defs"].get(type_name, {})
    required = set(definition.get("required", ()))
    required |= {_CHOSEN_WITH[key] for key in required if key in _CHOSEN_WITH}
    defaults = FIELD_TYPES[type_name].defaults
    options = []
    for key, prop in definition.get("properties", {}).items():
        if key in _CHOSEN_WITH:
            continue
        default = defaults.get(key, prop.get("default"))
        options.append(Option(key=key, label=_LABELS.get(key, humanise(key)), kind=_kind(key, prop),
                              help=prop.get("description"), required=key in required,
                              default=str(default) if isinstance(default, StrEnum) else default,
                              enum=tuple(prop.get("enum", ()))))
    return tuple(options)


def _kind(key: str, prop: Mapping[str, Any]) -> OptionKind:
    ref = str(prop.get("$ref", ""))
    if key in _REFERENCES:
        return _REFERENCES[key]
    if "enum" in prop:
        return OptionKind.CHOICE
    if prop.get("type") == "integer":
        return OptionKind.NUMBER
    if prop.get("type") == "boolean":
        return OptionKind.FLAG
    if prop.get("type") == "array" and "value" in prop.get("items", {}).get("properties", {}):
        return OptionKind.VALUES
    if ref.endswith("/formula"):
        return OptionKind.FORMULA
    if ref.endswith("/name"):
        return OptionKind.NAME
    if "type" not in prop and not ref:
        return OptionKind.JSON
    return OptionKind.TEXT


def input_of(type_name: str, key: str) -> str | None:
    """The input of ``type_name``'s form that metadata key ``key`` is entered in, if any."""
    for option in options_of(type_name):
        if option.key == key or _CHOSEN_WITH.get(key) == option.key:
            return option.input
    return None


def option_keys(type_name: str) -> set[str]:
    """Every option key of ``type_name``, those chosen together with another included."""
    return set(_field_schema()["$defs"].get(type_name, {}).get("properties", {}))


def has_option_kind(type_name: str, kind: OptionKind) -> bool:
    return any(o.kind is kind for o in options_of(type_name))


# -- choices among the org's objects and fields ----------------------------------------------

def choices(option: Option, model: CompiledOrg, object_name: str, typed: Mapping[str, Any]) -> list[Choice]:
    """What ``option`` can be set to in ``object_name``'s field (empty: typed freely)."""
    if option.kind is OptionKind.CHOICE:
        return [Choice(v, humanise(v)) for v in option.enum]
    if option.kind is OptionKind.OBJECT:
        return [Choice(o.name, f"{o.defn.label} ({o.name})") for o in model.objects.values()]
    relations = _relations(model, object_name)
    if option.kind is OptionKind.RELATION:
        return [Choice(f"{child}.{name}", f"{model.objects[child].defn.plural_label} by their {label} ({child}.{name})")
                for child, name, label in relations]
    if option.kind is OptionKind.CHILD_FIELD:
        chosen = str(typed.get(RELATION_INPUT) or "").split(".")[0]
        children = dict.fromkeys(child for child, _, _ in relations if not chosen or child == chosen)
        found = []
        for child in children:
            obj = model.objects[child].defn
            for defn in obj.fields:
                can = sorted(FIELD_TYPES[defn.type].aggregates - {"count"})
                if can:
                    found.append(Choice(defn.name, f"{defn.label} ({', '.join(can)})", group=obj.plural_label))
        return found
    return []


def _relations(model: CompiledOrg, object_name: str) -> list[tuple[str, str, str]]:
    """(child object, its field, that field's label) for every field pointing at the object."""
    obj = model.objects.get(object_name)
    return [(child, f.name, f.defn.label) for child, f in obj.children] if obj is not None else []


# -- a field's options as the form holds them, and back ----------------------------------------

def typed_options(type_name: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the form's option inputs hold for a field's metadata ``data`` (None: a new field)."""
    typed: dict[str, Any] = {}
    for option in options_of(type_name):
        value = data.get(option.key) if data is not None else None
        if value is None and option.kind is not OptionKind.RELATION:
            value = option.default
        match option.kind:
            case OptionKind.FLAG:
                typed[option.input] = bool(value)
            case OptionKind.RELATION:
                child, via = (data or {}).get("child_object"), (data or {}).get("relationship_field")
                typed[option.input] = f"{child}.{via}" if child and via else ""
            case OptionKind.VALUES:
                typed[option.input] = [_row(v) for v in value or ()]
            case OptionKind.JSON:
                typed[option.input] = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
            case _:
                typed[option.input] = "" if value is None else str(value)
    return typed


def _row(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": value.get("value", ""), "label": value.get("label", ""),
            "default": bool(value.get("default", False)), "active": bool(value.get("active", True))}


def parse_options(type_name: str, form: Form, errors: FormErrors) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options posted in ``form`` as metadata (defaults left out), and as the form held
    them (to show them again); what cannot be read is added to ``errors`` at its input."""
    data: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for option in options_of(type_name):
        name = option.input
        if option.kind is OptionKind.VALUES:
            rows = _posted_rows(form, name)
            typed[name] = rows
            if rows:
                data[option.key] = [_value_data(row) for row in rows]
            continue
        if option.kind is OptionKind.FLAG:
            flag = form.get(name) in ("true", "on")
            typed[name] = flag
            if flag != bool(option.default):
                data[option.key] = flag
            continue
        raw = form.get(name, "").replace("\r\n", "\n")
        typed[name] = raw
        text = raw.strip()
        if not text:
            continue
        value = _parse_one(option, text, errors)
        if value is None or value == option.default:
            continue
        if option.kind is OptionKind.RELATION:
            child, _, via = text.partition(".")
            data["child_object"], data["relationship_field"] = child, via
        else:
            data[option.key] = value
    return data, typed


def _parse_one(option: Option, text: str, errors: FormErrors) -> Any:
    match option.kind:
        case OptionKind.NUMBER:
            try:
                return int(text.replace(",", "").replace(" ", ""))
            except ValueError:
                errors.add(option.input, f"{option.label}: '{text}' is not a whole number")
                return None
        case OptionKind.CHOICE if text not in option.enum:
            allowed = ", ".join(humanise(v) for v in option.enum)
            errors.add(option.input, f"{option.label}: '{text}' is not one of the choices ({allowed})")
            return None
        case OptionKind.RELATION if "." not in text:
            errors.add(option.input, f"{option.label}: choose one of the relations listed")
            return None
        case OptionKind.JSON:
            try:
                return json.loads(text)
            except ValueError as error:
                where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) \
                    else ""
                reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
                errors.add(option.input, f"{option.label}: this is not valid JSON ({reason}{where})")
                return None
        case OptionKind.FORMULA:
            return text
    return text


def _posted_rows(form: Form, name: str) -> list[dict[str, Any]]:
    """The picklist value rows of the form, without removed and empty ones."""
    try:
        count = min(int(form.get(f"{name}-rows", "0")), MAX_VALUE_ROWS)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        prefix = f"{name}-{i}-"
        value, label = form.get(prefix + "value", "").strip(), form.get(prefix + "label", "").strip()
        if form.get(prefix + "remove") or not (value or label):
            continue
        rows.append({"value": value or label, "label": label, "default": bool(form.get(prefix + "default")),
                     "active": bool(form.get(prefix + "active"))})
    return rows


def _value_data(row: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"value": row["value"]}
    if row["label"] and row["label"] != row["value"]:
        data["label"] = row["label"]
    if row["default"]:
        data["default"] = True
    if not row["active"]:
        data["active"] = False
    return data


def definition(data: Mapping[str, Any]) -> FieldDef:
    """A field's metadata (as JSON, not yet checked) as the frozen model, with its type's
    defaults, for the widget of its default value and the check of that value. The loader
    checks the whole field when the change is planned."""
    known = {f.name for f in fields(FieldDef)} - {"derived"}
    options = {**FIELD_TYPES[data["type"]].defaults, **{k: v for k, v in data.items() if k in known}}
    options["values"] = tuple(
        PicklistValue(value=v["value"], label=v.get("label", v["value"]), default=v.get("default", False),
                      active=v.get("active", True)) for v in options.get("values", ()))
    on_delete = options.get("on_delete")
    options["on_delete"] = OnDelete(on_delete) if on_delete in tuple(OnDelete) else None
    options["label"] = options.get("label") or humanise(str(data.get("name", "")))
    return FieldDef(**options)
