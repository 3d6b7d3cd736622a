"""Bundles for tests: the demo's sales bundle and small edits of it."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any


def sales_bundle() -> dict[str, Any]:
    text = (resources.files("rapport.runtime") / "demo" / "bundle.json").read_text("utf-8")
    return json.loads(text)


def edited(bundle: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(bundle)


def obj(bundle: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in bundle["objects"] if o["name"] == name)


def field(bundle: dict[str, Any], object_name: str, name: str) -> dict[str, Any]:
    return next(f for f in obj(bundle, object_name)["fields"] if f["name"] == name)


def drop_field(bundle: dict[str, Any], object_name: str, name: str) -> None:
    """Remove a field and every layout / list-view reference to it."""
    o = obj(bundle, object_name)
    o["fields"] = [f for f in o["fields"] if f["name"] != name]
    for layout in bundle.get("layouts", []):
        if layout["object"] == object_name:
            for section in layout["sections"]:
                section["fields"] = [f for f in section["fields"] if (f if isinstance(f, str) else f["field"]) != name]
        for related in layout.get("related_lists", []):
            if related["object"] == object_name:
                related["columns"] = [c for c in related["columns"] if c != name]
    for view in bundle.get("list_views", []):
        if view["object"] == object_name:
            view["columns"] = [c for c in view["columns"] if c != name]
            view["sort"] = [s for s in view.get("sort", []) if s.lstrip("-") != name]


def minimal(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"objects": list(objects)}


def make_object(name: str, *fields: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"name": name, "label": name.title(), "fields": list(fields), **options}
