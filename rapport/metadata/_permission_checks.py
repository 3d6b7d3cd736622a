"""Semantic checks on profiles and permission sets: names, objects and fields they grant.

A profile may not take a built-in profile's name; each object appears once per profile;
each restricted field exists and is not a system field (those are always readable where
the object is); and a profile that lets users create records of an object must let them
fill in its required fields that have no default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rapport.metadata.field_spec import FieldTypeSpec
from rapport.metadata.model import RESERVED_FIELD_NAMES, Bundle, Component, ObjectDef
from rapport.platform.errors import Problem, pointer

#: profiles every org has; their names are reserved
BUILTIN_PROFILES = ("admin", "standard")
_NOUNS = {"profiles": "profile", "permission_sets": "permission set"}


def permission_problems(bundle: Bundle, object_ref: Callable[..., Any],
                        field_types: Mapping[str, FieldTypeSpec]) -> Iterator[Problem]:
    for i, profile in enumerate(bundle.profiles):
        if profile.name in BUILTIN_PROFILES:
            yield Problem(pointer("profiles", i, "name"), "metadata.reserved_name",
                          f"profile name {profile.name!r} is reserved for a built-in profile "
                          f"({', '.join(repr(p) for p in BUILTIN_PROFILES)}); choose another name")
    for kind, noun in _NOUNS.items():
        for i, component in enumerate(getattr(bundle, kind)):
            yield from _grants(bundle, component, pointer(kind, i), f"{noun} {component.name!r}", object_ref,
                               field_types)


def _grants(bundle: Bundle, component: Component, at: str, where: str, object_ref: Callable[..., Any],
            field_types: Mapping[str, FieldTypeSpec]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for j, entry in enumerate(component.get("objects", ())):
        entry_at = f"{at}/objects/{j}"
        name = entry["object"]
        if name in seen:
            yield Problem(f"{entry_at}/object", "metadata.duplicate_name",
                          f"{where}: object {name!r} is listed more than once (first at {at}/objects/{seen[name]})")
            continue
        seen[name] = j
        obj: ObjectDef | None = yield from object_ref(bundle, name, f"{entry_at}/object", where)
        if obj is None:
            continue
        fields: dict[str, str] = entry.get("fields", {})
        for field_name in fields:
            field_at = f"{entry_at}/fields/{field_name.replace('~', '~0').replace('/', '~1')}"
            if field_name in RESERVED_FIELD_NAMES:
                yield Problem(field_at, "metadata.system_field",
                              f"{where}: {field_name!r} is a system field of object {name!r}; system fields are "
                              "readable wherever the object is and cannot be restricted")
            elif obj.field(field_name) is None:
                # system fields cannot be listed, so they are not among the fields offered
                yield Problem(field_at, "metadata.unknown_field",
                              f"{where}: {field_name!r} is not a field of object {name!r}; its fields are "
                              f"{', '.join(repr(f) for f in obj.field_names()) or 'none'}")
        if not (entry.get("create") or entry.get("modify_all")):
            continue
        default_access = entry.get("default_field_access", "edit")
        for field in obj.fields:
            access = fields.get(field.name, default_access)
            has_default = field.default is not None or field.default_formula is not None \
                or any(value.default for value in field.values)  # a picklist's default value
            field_type = field_types.get(field.type)
            required = field_type.is_required(field) if field_type is not None else field.required
            if required and access != "edit" and not has_default:
                where_set = f"fields/{field.name}" if field.name in fields else "default_field_access"
                yield Problem(f"{entry_at}/{where_set}", "metadata.required_field_not_editable",
                              f"{where}: field {field.name!r} of object {name!r} is required and has no default, "
                              f"so users who may create {name} records must be able to edit it (it is {access!r})")
