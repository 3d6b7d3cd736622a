"""Load a metadata bundle: JSON Schema first, then the frozen model, then semantic checks.

``load_bundle`` never stops at the first problem. Malformed input (wrong shape, unknown
keys, bad names) is reported from the JSON Schemas in ``schemas/``, every error at once,
and loading stops there: semantic checks on malformed data only add noise. Well-formed
input becomes the frozen model (field-type option defaults filled in) and is then checked
for what a schema cannot say: duplicates, reserved names, references to objects and fields.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any
from collections.abc import Mapping

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from rapport.metadata import _checks, _schema_errors
from rapport.metadata.field_spec import FieldTypeSpec
from rapport.metadata.model import (
    Bundle, Component, FieldDef, Layout, LayoutItem, LayoutSection, ListView, ObjectDef,
    OnDelete, PicklistValue, RelatedList, Sharing, SortKey,
)
from rapport.platform.errors import NotFound, ProblemCollector, ValidationFailed, pointer

__all__ = ["SCHEMA_NAMES", "load_bundle", "schema"]

SCHEMA_NAMES = (
    "bundle", "common", "object", "field", "layout", "list_view",
    "validation_rule", "workflow_rule", "script", "profile", "permission_set",
)
SCHEMA_BASE = "https://rapport.dev/schemas/"
_INVALID = "metadata bundle is invalid"


# -- schemas ------------------------------------------------------------------------------

@cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files("rapport.metadata") / "schemas"
    return {name: json.loads((folder / f"{name}.json").read_text("utf-8")) for name in SCHEMA_NAMES}


@cache
def _registry() -> Registry:
    return Registry().with_resources(
        (SCHEMA_BASE + f"{name}.json", Resource.from_contents(contents, DRAFT202012))
        for name, contents in _schemas().items()
    )


# Validating every field against field.json evaluates its 20 ``if type == …`` branches
# twice (once more for ``unevaluatedProperties``): seconds for a large org. So the bundle is
# validated with fields checked only for being objects, and each field against its own
# type's schema, flattened mechanically from field.json (common keys + ``$defs/<type>``).
# Fields whose type is missing or unknown still go through field.json itself.

@cache
def _shallow_validator() -> Draft202012Validator:
    shallow = {"$id": SCHEMA_BASE + "field.json", "type": "object"}
    registry = _registry().with_resource(SCHEMA_BASE + "field.json",
                                         Resource.from_contents(shallow, DRAFT202012))
    return Draft202012Validator(_schemas()["bundle"], registry=registry)


@cache
def _field_validators() -> dict[str, Draft202012Validator]:
    field = _schemas()["field"]
    validators = {}
    for type_name in field["properties"]["type"]["enum"]:
        options = field["$defs"][type_name]
        flat = {
            "$id": SCHEMA_BASE + f"field.{type_name}.json",
            "type": "object",
            "properties": {**field["properties"], **options.get("properties", {})},
            "required": sorted(set(field.get("required", ())) | set(options.get("required", ()))),
            "allOf": options.get("allOf", []),
            "unevaluatedProperties": False,
            "$defs": field["$defs"],
        }
        validators[type_name] = Draft202012Validator(flat, registry=_registry())
    return validators


@cache
def _full_field_validator() -> Draft202012Validator:
    return Draft202012Validator(_schemas()["field"], registry=_registry())


def _schema_errors_of(data: dict[str, Any]) -> list[Any]:
    errors = list(_shallow_validator().iter_errors(data))
    full = _full_field_validator()
    objects = data.get("objects")
    for i, obj in enumerate(objects if isinstance(objects, list) else ()):
        fields = obj.get("fields") if isinstance(obj, dict) else None
        for j, raw in enumerate(fields if isinstance(fields, list) else ()):
            if not isinstance(raw, dict):
                continue  # reported by the shallow pass
            kind = raw.get("type")
            validator = _field_validators().get(kind) if isinstance(kind, str) else None
            for error in (validator or full).iter_errors(raw):
                error.path.extendleft(reversed(("objects", i, "fields", j)))
                errors.append(error)
    return errors


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (one of :data:`SCHEMA_NAMES`) as a fresh dict."""
    if name not in SCHEMA_NAMES:
        known = ", ".join(repr(n) for n in SCHEMA_NAMES)
        raise NotFound(f"no metadata schema {name!r}; schemas are {known}",
                       code="metadata.schema_not_found")
    return copy.deepcopy(_schemas()[name])


# -- loading ------------------------------------------------------------------------------

def load_bundle(data: Any, *, field_types: Mapping[str, FieldTypeSpec]) -> Bundle:
    """Validate ``data`` (a decoded JSON bundle) and return it as a frozen :class:`Bundle`.

    Raises :class:`ValidationFailed` (``metadata.invalid``) carrying every problem found.
    """
    problems = ProblemCollector()
    if not isinstance(data, dict):
        problems.add("", "metadata.not_an_object",
                     f"a metadata bundle must be a JSON object, got {_schema_errors.json_type(data)}")
        problems.raise_if_any(ValidationFailed, _INVALID, "metadata.invalid")
    problems.extend(_schema_errors.schema_problems(_schema_errors_of(data), _registry(), data))
    problems.raise_if_any(ValidationFailed, _INVALID, "metadata.invalid")

    bundle = _build(data, field_types, problems)
    problems.extend(_checks.semantic_problems(bundle, field_types))
    if problems:
        problems.problems = _schema_errors.ordered(problems.problems)
    problems.raise_if_any(ValidationFailed, _INVALID, "metadata.invalid")
    return bundle


def _build(data: dict[str, Any], field_types: Mapping[str, FieldTypeSpec],
           problems: ProblemCollector) -> Bundle:
    objects = tuple(
        _object(raw, field_types, problems, pointer("objects", i))
        for i, raw in enumerate(data.get("objects", ()))
    )
    return Bundle(
        objects=objects,
        layouts=tuple(_layout(raw) for raw in data.get("layouts", ())),
        list_views=tuple(_list_view(raw) for raw in data.get("list_views", ())),
        validation_rules=_components("validation_rules", data),
        workflow_rules=_components("workflow_rules", data),
        scripts=_components("scripts", data),
        profiles=_components("profiles", data),
        permission_sets=_components("permission_sets", data),
    )


def _object(raw: dict[str, Any], field_types: Mapping[str, FieldTypeSpec],
            problems: ProblemCollector, at: str) -> ObjectDef:
    fields = tuple(
        _field(f, field_types, problems, f"{at}/fields/{j}")
        for j, f in enumerate(raw.get("fields", ()))
    )
    return ObjectDef(
        name=raw["name"],
        label=raw["label"],
        plural_label=raw.get("plural_label", raw["label"] + "s"),
        fields=fields,
        description=raw.get("description"),
        name_field=raw.get("name_field"),
        sharing=Sharing(raw.get("sharing", Sharing.PRIVATE)),
        track_history=raw.get("track_history", False),
        searchable=raw.get("searchable", True),
        soft_delete=raw.get("soft_delete", False),
        renamed_from=raw.get("renamed_from"),
    )


def _field(raw: dict[str, Any], field_types: Mapping[str, FieldTypeSpec],
           problems: ProblemCollector, at: str) -> FieldDef:
    spec = field_types.get(raw["type"])
    if spec is None:
        known = ", ".join(repr(t) for t in sorted(field_types))
        problems.add(f"{at}/type", "metadata.not_allowed",
                     f"field {raw['name']!r}: type {raw['type']!r} is not registered; "
                     f"registered types are {known}")
    options = {**(spec.defaults if spec is not None else {}), **raw}
    options.setdefault("label", _humanise(raw["name"]))
    if "values" in options:
        options["values"] = tuple(
            PicklistValue(value=v["value"], label=v.get("label", v["value"]),
                          default=v.get("default", False), active=v.get("active", True))
            for v in options["values"]
        )
    if options.get("on_delete") is not None:
        options["on_delete"] = OnDelete(options["on_delete"])
    return FieldDef(**options)


def _layout(raw: dict[str, Any]) -> Layout:
    return Layout(
        object=raw["object"],
        name=raw["name"],
        sections=tuple(
            LayoutSection(label=s["label"], columns=s.get("columns", 1),
                          fields=tuple(_layout_item(i) for i in s.get("fields", ())))
            for s in raw.get("sections", ())
        ),
        related_lists=tuple(
            RelatedList(object=r["object"], field=r["field"], columns=tuple(r.get("columns", ())))
            for r in raw.get("related_lists", ())
        ),
    )


def _layout_item(raw: str | dict[str, Any]) -> LayoutItem:
    if isinstance(raw, str):
        return LayoutItem(field=raw)
    return LayoutItem(field=raw["field"], required=raw.get("required", False),
                      readonly=raw.get("readonly", False))


def _list_view(raw: dict[str, Any]) -> ListView:
    return ListView(
        object=raw["object"],
        name=raw["name"],
        label=raw.get("label", _humanise(raw["name"])),
        columns=tuple(raw.get("columns", ())),
        filter=raw.get("filter"),
        sort=tuple(_sort_key(s) for s in raw.get("sort", ())),
    )


def _sort_key(raw: str) -> SortKey:
    if raw.startswith("-"):
        return SortKey(field=raw[1:], descending=True)
    return SortKey(field=raw)


def _components(kind: str, data: dict[str, Any]) -> tuple[Component, ...]:
    return tuple(
        Component(kind=kind, object=raw.get("object"), name=raw["name"],
                  body=tuple(sorted(raw.items())))
        for raw in data.get(kind, ())
    )


def _humanise(name: str) -> str:
    """The default label for an API name: ``close_date`` → ``Close date``."""
    return name.replace("__", " ").replace("_", " ").capitalize()
