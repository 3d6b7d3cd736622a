"""The list view editor: which columns, which records (filter rows, and-ed) and in what order.

    GET  /admin/objects/{object}/list_views/{name}          the editor (``new``: a new list view)
    POST /admin/objects/{object}/list_views/{name}          a button of the draft, or "Preview change"
    POST /admin/objects/{object}/list_views/{name}/delete   the preview of deleting the list view

Columns, filters and sort keys are field paths of the object and of the records its lookups
point at (``account.name``). A filter row offers the operators of its field's type; with
scripts, changing a row's field swaps in that field's operators (htmx), without them an
"Update" button does. Nothing is stored until the plan preview is applied.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup._component_editing import (
    ADMIN, NEW, Errors, action, check_name, edited_object, editor_url, existing, object_url, propose_delete, save,
)
from rapport.admin_ui.setup._field_paths import field_paths, grouped, operator_label
from rapport.admin_ui.setup._list_view_draft import ListViewDraft, edit
from rapport.runtime.compiled import CompiledObject

GROUP = "list_views"


def list_view_editor(request: Request) -> Response:
    obj = edited_object(request)
    name = request.path_params["name"]
    is_new = name == NEW
    if request.method == "GET":
        draft = ListViewDraft.new(obj) if is_new \
            else ListViewDraft.from_metadata(existing(request, GROUP, obj.name, name))
        return _editor(request, obj, draft, is_new)
    if not is_new:
        existing(request, GROUP, obj.name, name)  # deleted meanwhile: 404
    form = request.state.form
    draft = ListViewDraft.from_form(form, form.get("name", "").strip() if is_new else name)
    paths = field_paths(request.state.org.model(), obj)
    verb, at = action(request)
    if verb == "preview":
        data, errors = draft.to_metadata(obj.name, paths)
        if is_new:
            check_name(errors, GROUP, draft.name)
        answer = save(request, GROUP, None if is_new else name, data, draft.part_of, errors)
        if isinstance(answer, Response):
            return answer
        return _editor(request, obj, draft, is_new, answer)
    focus, errors = edit(draft, verb, at, form, paths)
    return _editor(request, obj, draft, is_new, errors, focus)


def delete_list_view(request: Request) -> Response:
    edited_object(request)
    return propose_delete(request, GROUP)


def _editor(request: Request, obj: CompiledObject, draft: ListViewDraft, is_new: bool,
            errors: Errors | None = None, focus: str | None = None) -> Response:
    paths = field_paths(request.state.org.model(), obj)
    conditions = []
    for condition in draft.conditions:
        path = paths.get(condition.field)
        ops = path.operators() if path is not None else [condition.op]
        conditions.append({
            "field": condition.field, "op": condition.op, "value": condition.value,
            "operators": [(op, operator_label(op)) for op in ops],
            "takes_value": condition.op not in ("is_null", "is_not_null"),
            "takes_list": path is not None and path.takes_list(condition.op),
            "suggestions": path.suggestions() if path is not None else [],
        })
    url = editor_url(obj.name, GROUP, NEW if is_new else draft.name)
    context: dict[str, Any] = {
        "obj": obj.defn, "object_url": object_url(obj.name), "url": url, "delete_url": f"{url}/delete",
        "is_new": is_new, "draft": draft, "conditions": conditions,
        "labels": {p.path: p.label for p in paths.values()}, "groups": grouped(paths),
        "errors": errors or {}, "focus": focus,
    }
    return page(request, "admin/list_view_editor.html", status=422 if errors else 200, **context)


ROUTES = [
    PageRoute("/admin/objects/{object}/list_views/{name}", list_view_editor, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}/list_views/{name}/delete", delete_list_view, methods=("POST",), needs=ADMIN),
]
