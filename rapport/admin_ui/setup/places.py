"""Where a metadata problem points, as a place of the admin UI an admin can open.

The loader's problems point into the bundle (``/objects/1/fields/4/target``,
``/layouts/0/sections/0/fields/3``); :func:`place_of` names the component there as people
know it ("field 'Account' of Contact") with the address of its editor, when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Place:
    label: str
    url: str | None = None


def object_url(name: str) -> str:
    return f"/admin/objects/{quote(name)}"


def field_url(object_name: str, name: str) -> str:
    return f"{object_url(object_name)}/fields/{quote(name)}"


#: per kind of bundle component: what people call it, and the editor's path under its object
_COMPONENTS = {
    "layouts": ("layout", "layouts"), "list_views": ("list view", "list_views"),
    "validation_rules": ("validation rule", "validation_rules"), "workflow_rules": ("workflow rule", None),
    "scripts": ("script", None),
}
_GRANTS = {"profiles": ("profile", "/admin/profiles/"),
           "permission_sets": ("permission set", "/admin/permission_sets/")}


def place_of(bundle: dict[str, Any], pointer: str) -> Place | None:
    """The component ``pointer`` is in, or ``None`` if the bundle has nothing there."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    kind, index = parts[0], int(parts[1])
    items = bundle.get(kind)
    if not isinstance(items, list) or index >= len(items) or not isinstance(items[index], dict):
        return None
    item = items[index]
    name = str(item.get("name", ""))
    if kind == "objects":
        return _object_place(item, parts[2:])
    if kind in _COMPONENTS:
        noun, path = _COMPONENTS[kind]
        owner = str(item.get("object", ""))
        label = f"{noun} '{item.get('label') or name}'" + (f" of {_object_label(bundle, owner)}" if owner else "")
        return Place(label, f"{object_url(owner)}/{path}/{quote(name)}" if path and owner else None)
    if kind in _GRANTS:
        noun, base = _GRANTS[kind]
        return Place(f"{noun} '{item.get('label') or name}'", base + quote(name))
    return None


def _object_place(obj: dict[str, Any], rest: list[str]) -> Place:
    name, label = str(obj.get("name", "")), str(obj.get("label") or obj.get("name", ""))
    fields = obj.get("fields")
    if len(rest) >= 2 and rest[0] == "fields" and rest[1].isdigit() and isinstance(fields, list) \
            and int(rest[1]) < len(fields) and isinstance(fields[int(rest[1])], dict):
        field = fields[int(rest[1])]
        field_name = str(field.get("name", ""))
        return Place(f"field '{field.get('label') or field_name}' of {label}", field_url(name, field_name))
    return Place(f"object {label}", object_url(name))


def _object_label(bundle: dict[str, Any], name: str) -> str:
    for obj in bundle.get("objects", ()):
        if isinstance(obj, dict) and obj.get("name") == name:
            return str(obj.get("label") or name)
    return name
