"""The record page, and deleting a record after a confirmation.

    GET  /o/{object}/{id}          the record: its layout's sections (every value shown by its
                                   widget), owner and stamps, related lists, field history
    GET  /o/{object}/{id}/delete   "Delete this record?"
    POST /o/{object}/{id}/delete   delete it (at the version the page showed), then on to the list

Everything is read as the signed-in user in one transaction: the record with its lookups'
titles in one query, one query per related list, and the history of the fields they may read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.records.layouts import PageLayout, RelatedSpec, layout_for
from rapport.admin_ui.records.reading import (
    people, read_record, record_view, require_changeable, title_path, titles_by_id, view_of,
)
from rapport.admin_ui.records.views import edit_url, list_url, new_url, record_url, title_field, title_of
from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.widgets import FieldView, field_view, shown_as
from rapport.platform.errors import Conflict
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.permissions import Access, FieldAccess, access_for
from rapport.runtime.query import QuerySpec
from rapport.runtime.query.joins import MAX_HOPS

RELATED_ROWS = 5
HISTORY_ROWS = 20


def record_page(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    record_id = request.path_params["id"]
    with runtime.reading() as tx:
        model = tx.model
        obj = model.object(request.path_params["object"])
        access = access_for(model, actor)
        access.require(obj.name, "read")
        layout = layout_for(model, obj, access)
        record, titles = read_record(request, tx, obj, record_id, _fields_to_read(obj, layout, access))
        sections = [{"label": section.label, "columns": section.columns,
                     "fields": [shown_as(record_view(model, access, placed.field, record, titles))
                                for placed in section.fields]}
                    for section in layout.sections]
        related = [_related_list(request, tx, access, spec, record_id, layout) for spec in layout.related]
        changes, more = _history(request, tx, obj, access, record_id) if obj.tracked else ([], False)
        grant = access.on(obj.name)
        changeable = (grant.edit or grant.delete) and runtime.records(actor, tx).may_edit(obj.name, record_id)
    names = people(request, [record["owner"], record["created_by"], record["updated_by"],
                             *(c["who"] for c in changes)])
    for change in changes:
        change["who"] = names[change["who"]]
    return page(request, "records/record.html", obj=obj.defn, record=record,
                title=title_of(record, title_field(obj, access)), sections=sections, related=related,
                stamps=_stamps(record, names), tracked=bool(obj.tracked), changes=changes, more_history=more,
                can_edit=grant.edit and changeable, can_delete=grant.delete and changeable, list_url=list_url(obj.name),
                edit_url=edit_url(obj.name, record_id), delete_url=f"{record_url(obj.name, record_id)}/delete")


def delete_page(request: Request) -> Response:
    """The confirmation (GET), and the delete itself (POST)."""
    runtime, actor = request.state.org, request.state.actor
    record_id = request.path_params["id"]
    with runtime.reading() as tx:
        obj = tx.model.object(request.path_params["object"])
        access = access_for(tx.model, actor)
        access.require(obj.name, "delete")
        title = title_field(obj, access)
        fields = [obj.fields[title]] if title else []
        record, _ = read_record(request, tx, obj, record_id, fields)
        require_changeable(request, tx, obj, record_id)
    shown = title_of(record, title)
    context = {"obj": obj.defn, "title": shown, "record_url": record_url(obj.name, record_id),
               "version": record["version"], "action": f"{record_url(obj.name, record_id)}/delete"}
    if request.method != "POST":
        return page(request, "records/delete.html", error=None, **context)
    version = request.state.form.get("version", "")
    try:
        runtime.records(actor).delete(obj.name, record_id,
                                      expected_version=int(version) if version.isdigit() else None)
    except Conflict as error:  # a restricted delete, or someone changed it since the page was shown
        return page(request, "records/delete.html", status=error.status, error=_sentence(error.message),
                    **{**context, "version": record["version"]})
    return redirect(request, list_url(obj.name), f"Deleted {obj.defn.label.lower()} '{shown}'.")


def _fields_to_read(obj: CompiledObject, layout: PageLayout, access: Access) -> list[CompiledField]:
    """The fields the page shows: the layout's, and the record's title."""
    fields = {placed.name: placed.field for placed in layout.fields()}
    title = title_field(obj, access)
    if title is not None:
        fields.setdefault(title, obj.fields[title])
    return list(fields.values())


def _stamps(record: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Owner, created and last changed: who (by name) and when (shown as the datetime widget shows)."""
    def when(name: str) -> FieldView:
        defn = SYSTEM_FIELD_DEFS[name]
        return field_view(defn, FIELD_TYPES[defn.type], record[name])

    return [{"label": "Owner", "who": names[record["owner"]], "when": None},
            {"label": "Created", "who": names[record["created_by"]], "when": when("created_at")},
            {"label": "Last changed", "who": names[record["updated_by"]], "when": when("updated_at")}]


def _related_list(request: Request, tx: Any, access: Access, spec: RelatedSpec, parent_id: str,
                  layout: PageLayout) -> dict[str, Any]:
    """Up to ``RELATED_ROWS`` children of the record, newest first, with "View all" and "New";
    the name field's column (else the first) links to each child."""
    model, child, link = tx.model, spec.child, spec.field.name
    titles = {c.path: _title_path(model, access, c.field, c.path) for c in spec.columns}
    fields = [c.path for c in spec.columns] + [p for p in titles.values() if p]
    query = QuerySpec(child.name, filter={"field": link, "op": "eq", "value": parent_id},
                      fields=tuple(dict.fromkeys(fields)), limit=RELATED_ROWS)
    result = request.state.org.query(query, tx, actor=request.state.actor)
    rows = []
    for found in result.records:
        cells = []
        for c in spec.columns:
            title = found.get(titles[c.path]) if titles[c.path] else None
            cells.append(shown_as(view_of(model, access, c.field, found.get(c.path), title)))
        rows.append({"id": found["id"], "url": record_url(child.name, found["id"]), "cells": cells})
    grant = access.on(child.name)
    creatable = grant.create and grant.field_access(link) is FieldAccess.EDIT
    same_child = sum(1 for other in layout.related if other.child.name == child.name) > 1
    label = f"{child.defn.plural_label} ({spec.field.defn.label})" if same_child else child.defn.plural_label
    paths = [c.path for c in spec.columns]
    linked = paths.index(child.defn.name_field) if child.defn.name_field in paths else 0
    return {"id": f"related-{child.name}-{link}", "label": label, "object_label": child.defn.label,
            "columns": [c.label for c in spec.columns], "linked": linked, "rows": rows,
            "more": result.next_cursor is not None,
            "view_all": f"{list_url(child.name)}?{urlencode({'ff': link, 'fo': 'eq', 'fv': parent_id})}",
            "new": f"{new_url(child.name)}?{urlencode({link: parent_id})}" if creatable else None}


def _title_path(model: CompiledOrg, access: Access, compiled: CompiledField, path: str) -> str | None:
    """The title path of a lookup column, when the query engine can follow it that far."""
    found = title_path(model, access, compiled, path)
    return found if found is not None and found.count(".") <= MAX_HOPS else None


def _history(request: Request, tx: Any, obj: CompiledObject, access: Access, record_id: str
             ) -> tuple[list[dict[str, Any]], bool]:
    """The newest changes of the fields the user may read, each value shown by its widget;
    and whether there are older ones."""
    history = request.state.org.records(request.state.actor, tx).history(obj.name, record_id, limit=HISTORY_ROWS)
    wanted: dict[str, set[str]] = defaultdict(set)
    for change in history.changes:
        target = obj.fields[change["field"]].defn.target
        if target:
            wanted[target] |= {v for v in (change["old_value"], change["new_value"]) if isinstance(v, str)}
    titles = {target: titles_by_id(request, tx, target, ids) for target, ids in wanted.items()}
    model, stamp = tx.model, SYSTEM_FIELD_DEFS["updated_at"]
    changes = []
    for change in history.changes:
        compiled = obj.fields[change["field"]]
        known = titles.get(compiled.defn.target or "", {})
        old, new = change["old_value"], change["new_value"]
        changes.append({
            "field": compiled.defn.label,
            "old": shown_as(view_of(model, access, compiled, old, known.get(old) if isinstance(old, str) else None)),
            "new": shown_as(view_of(model, access, compiled, new, known.get(new) if isinstance(new, str) else None)),
            "who": change["changed_by"],
            "when": field_view(stamp, FIELD_TYPES[stamp.type], change["changed_at"]),
        })
    return changes, history.next_cursor is not None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


ROUTES = [
    PageRoute("/o/{object}/{id}", record_page),
    PageRoute("/o/{object}/{id}/delete", delete_page, methods=("GET", "POST")),
]
