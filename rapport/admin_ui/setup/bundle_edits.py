"""An object or a field taken out of a bundle (as JSON), with what exists only for it.

Deleting an object also deletes its layouts, list views, rules and scripts, the related
lists of it on other objects' layouts, and the profiles' and permission sets' entries for
it. Deleting a field also takes it off layouts, list views (columns, sort, paths through
it), related lists, rule message placement and field permissions. What else refers to it —
another object's lookup or roll-up, a formula, a filter — stays, so the loader reports it
and the admin decides; nothing is changed behind their back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Bundle = dict[str, Any]
_OWNED = ("layouts", "list_views", "validation_rules", "workflow_rules", "scripts")
_GRANTING = ("profiles", "permission_sets")


def object_index(bundle: Bundle, name: str) -> int | None:
    for i, obj in enumerate(bundle.get("objects", ())):
        if obj.get("name") == name:
            return i
    return None


def field_index(obj: dict[str, Any], name: str) -> int | None:
    for j, field in enumerate(obj.get("fields", ())):
        if field.get("name") == name:
            return j
    return None


def without_object(bundle: Bundle, name: str) -> Bundle:
    changed = copy.deepcopy(bundle)
    changed["objects"] = [o for o in changed.get("objects", ()) if o.get("name") != name]
    for kind in _OWNED:
        _keep(changed, kind, lambda item: item.get("object") != name)
    for layout in changed.get("layouts", ()):
        layout["related_lists"] = [r for r in layout.get("related_lists", ()) if r.get("object") != name]
    for kind in _GRANTING:
        for grant in changed.get(kind, ()):
            if "objects" in grant:
                grant["objects"] = [entry for entry in grant["objects"] if entry.get("object") != name]
    return changed


def without_field(bundle: Bundle, object_name: str, name: str) -> Bundle:
    changed = copy.deepcopy(bundle)
    index = object_index(changed, object_name)
    if index is None:
        return changed
    obj = changed["objects"][index]
    obj["fields"] = [f for f in obj.get("fields", ()) if f.get("name") != name]

    def other(path: str) -> bool:  # a field path that neither is the field nor goes through it
        return path.lstrip("-") != name and not path.lstrip("-").startswith(name + ".")

    for layout in changed.get("layouts", ()):
        if layout.get("object") == object_name:
            for section in layout.get("sections", ()):
                section["fields"] = [i for i in section.get("fields", ())
                                     if other(i if isinstance(i, str) else i.get("field", ""))]
        layout["related_lists"] = [r for r in layout.get("related_lists", ())
                                   if not (r.get("object") == object_name and r.get("field") == name)]
        for related in layout["related_lists"]:
            if related.get("object") == object_name:
                related["columns"] = [c for c in related.get("columns", ()) if other(c)]
    for view in changed.get("list_views", ()):
        if view.get("object") == object_name:
            view["columns"] = [c for c in view.get("columns", ()) if other(c)]
            if "sort" in view:
                view["sort"] = [s for s in view["sort"] if other(s)]
    for rule in changed.get("validation_rules", ()):
        if rule.get("object") == object_name and rule.get("field") == name:
            del rule["field"]  # its message is shown on the record instead
    for kind in _GRANTING:
        for grant in changed.get(kind, ()):
            for entry in grant.get("objects", ()):
                if entry.get("object") == object_name:
                    entry.get("fields", {}).pop(name, None)
    return changed


def _keep(bundle: Bundle, kind: str, keep: Callable[[dict[str, Any]], bool]) -> None:
    if kind in bundle:
        bundle[kind] = [item for item in bundle[kind] if keep(item)]
