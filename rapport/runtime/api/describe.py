"""Describe: each object as one caller sees it — fields (without the hidden ones), types,
picklist values, relationships, layouts and list views, and what the caller may do.

    GET /objects            the objects the caller may read, with their permissions
    GET /objects/{object}   one object's full description
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.runtime.api.http import JSONResponse, actor, check_params, org
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledObject, CompiledOrg
from rapport.runtime.records.checks import WRITABLE_SYSTEM_FIELDS
from rapport.runtime.permissions import Access, FieldAccess, access_for
from rapport.runtime.query.filters import condition_fields
from rapport.runtime.query.joins import JoinPaths, PathError



def list_objects(request: Request, body: Any) -> Response:
    check_params(request, ())
    model = org(request).model()
    access = access_for(model, actor(request))
    objects = [_summary(obj, access) for obj in model.objects.values() if access.on(obj.name).read]
    return JSONResponse({"objects": objects})


def describe_object(request: Request, body: Any) -> Response:
    check_params(request, ())
    model = org(request).model()
    access = access_for(model, actor(request))
    obj = model.object(request.path_params["object"])
    access.require(obj.name, "read")
    return JSONResponse(describe(model, obj, access))


def _summary(obj: CompiledObject, access: Access) -> dict[str, Any]:
    defn = obj.defn
    return {"name": defn.name, "label": defn.label, "plural_label": defn.plural_label,
            "permissions": access.on(obj.name).to_dict()}


def describe(model: CompiledOrg, obj: CompiledObject, access: Access) -> dict[str, Any]:
    """``obj`` as ``access`` sees it: hidden fields, and relationships to unreadable objects, left out."""
    grant = access.on(obj.name)
    admin = access.grants.has("manage_metadata")
    defn = obj.defn
    fields = [_system_field(name, grant.allows("edit") or grant.allows("create")) for name in SYSTEM_FIELDS]
    for compiled in obj.fields.values():
        field_access = grant.field_access(compiled.name)
        if field_access is FieldAccess.HIDDEN:
            continue
        fields.append(_field(compiled, field_access, grant.allows("create"), grant.allows("edit"), admin))
    visible = set(access.readable_fields(obj)) | set(SYSTEM_FIELDS)
    return {
        "name": defn.name, "label": defn.label, "plural_label": defn.plural_label,
        "description": defn.description, "name_field": defn.name_field if defn.name_field in visible else None,
        "sharing": defn.sharing.value, "soft_delete": defn.soft_delete, "searchable": defn.searchable,
        "permissions": grant.to_dict(),
        "fields": fields,
        "relationships": [
            {"name": f.defn.relationship_name or f"{child}.{f.name}", "object": child, "field": f.name}
            for child, f in obj.children
            if access.on(child).read and access.on(child).can_read_field(f.name)
        ],
        "layouts": [_layout(model, layout.to_dict(), visible, access)
                    for layout in model.bundle.layouts if layout.object == obj.name],
        "list_views": [view.to_dict() for view in model.bundle.list_views if view.object == obj.name
                       and _readable(model, obj, access, _view_paths(view.to_dict()))],
    }


def _system_field(name: str, may_write: bool) -> dict[str, Any]:
    defn = SYSTEM_FIELD_DEFS[name]
    writable = name in WRITABLE_SYSTEM_FIELDS and may_write
    return {"name": name, "label": defn.label, "type": defn.type, "system": True, "required": False,
            "createable": writable, "updateable": writable}


def _field(compiled: Any, field_access: FieldAccess, may_create: bool, may_edit: bool, admin: bool) -> dict[str, Any]:
    defn, field_type = compiled.defn, compiled.type
    writable = field_type.writable and field_access is FieldAccess.EDIT
    data: dict[str, Any] = {
        "name": defn.name, "label": defn.label, "type": defn.type, "system": False,
        "required": field_type.is_required(defn) and field_type.writable,
        "unique": defn.unique, "external_id": defn.external_id,
        "createable": writable and may_create, "updateable": writable and may_edit,
        "help_text": defn.help_text, "widget": field_type.widget,
        "operators": ["is_null", *field_type.field_operators(defn)],
    }
    options = {k: v for k, v in defn.to_dict().items()
               if k in ("max_length", "min", "max", "precision", "scale", "target", "on_delete", "relationship_name",
                        "format", "default")}
    data.update(options)
    described = field_type.describe(defn)
    if not admin:  # expressions, filters and summarised fields name fields the caller may not see
        described = {k: v for k, v in described.items() if k not in ("expression", "filter", "field")}
    data.update(described)
    return data


def _layout(model: CompiledOrg, layout: dict[str, Any], visible: set[str], access: Access) -> dict[str, Any]:
    for section in layout["sections"]:
        section["fields"] = [item for item in section["fields"]
                             if (item if isinstance(item, str) else item["field"]) in visible]
    related = []
    for item in layout["related_lists"]:
        child = model.objects.get(item["object"])
        if child is not None and _readable(model, child, access, [item["field"]]):
            item["columns"] = [c for c in item["columns"] if _readable(model, child, access, [c])]
            related.append(item)
    layout["related_lists"] = related
    return layout


def _view_paths(view: dict[str, Any]) -> list[str]:
    """Every field path a list view names: columns, sort keys and filter conditions."""
    return [*view["columns"], *(key.lstrip("-") for key in view.get("sort", ())),
            *(path for path, _ in condition_fields(view.get("filter")))]


def _readable(model: CompiledOrg, obj: CompiledObject, access: Access, paths: list[str]) -> bool:
    """Whether the caller could query every one of ``paths`` (fields and lookups they may read)."""
    resolver = JoinPaths(model, obj, access=access)
    try:
        for path in paths:
            resolver.resolve(path)
    except PathError:
        return False
    return True
