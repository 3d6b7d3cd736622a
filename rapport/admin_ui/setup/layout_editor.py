"""The layout editor: an object's record page and form, section by section.

    GET  /admin/objects/{object}/layouts/{name}          the editor (``new``: a new layout)
    POST /admin/objects/{object}/layouts/{name}          a button of the draft, or "Preview change"
    POST /admin/objects/{object}/layouts/{name}/delete   the preview of deleting the layout

No drag and drop: every button (add, remove, rename, move up/down, move to another section)
posts the whole draft and the page comes back with the draft changed; nothing is stored
until the plan preview is applied (see ``_component_editing``).
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
from rapport.admin_ui.setup._layout_draft import LayoutDraft, edit
from rapport.runtime.compiled import CompiledObject

GROUP = "layouts"


def layout_editor(request: Request) -> Response:
    obj = edited_object(request)
    name = request.path_params["name"]
    is_new = name == NEW
    if request.method == "GET":
        draft = LayoutDraft.new(obj) if is_new else LayoutDraft.from_metadata(existing(request, GROUP, obj.name, name))
        return _editor(request, obj, draft, is_new)
    if not is_new:
        existing(request, GROUP, obj.name, name)  # deleted meanwhile: 404
    form = request.state.form
    draft = LayoutDraft.from_form(form, form.get("name", "").strip() if is_new else name)
    verb, at = action(request)
    if verb == "preview":
        errors = draft.problems()
        if is_new:
            check_name(errors, GROUP, draft.name)
        answer = save(request, GROUP, None if is_new else name, draft.to_metadata(obj.name), _part_of, errors)
        if isinstance(answer, Response):
            return answer
        return _editor(request, obj, draft, is_new, answer)
    focus, errors = edit(draft, verb, at, form, obj, request.state.org.model())
    return _editor(request, obj, draft, is_new, errors, focus)


def delete_layout(request: Request) -> Response:
    edited_object(request)
    return propose_delete(request, GROUP)


def _part_of(rest: str) -> str:
    """The editor part a loader problem inside the layout points at."""
    segments = rest.strip("/").split("/")
    match segments:
        case ["name", *_]:
            return "name"
        case ["sections", i, "fields", k, *_]:
            return f"s{i}_f{k}"
        case ["sections", i, "label", *_]:
            return f"s{i}_label"
        case ["sections", i, *_]:
            return f"s{i}"
        case ["related_lists", j, "columns", *_]:
            return f"r{j}_columns"
        case ["related_lists", j, *_]:
            return f"r{j}"
    return ""


def _editor(request: Request, obj: CompiledObject, draft: LayoutDraft, is_new: bool, errors: Errors | None = None,
            focus: str | None = None) -> Response:
    model = request.state.org.model()
    labels = {f.name: f.defn.label for f in obj.fields.values()}
    placed = draft.placed()
    used = {r.ref for r in draft.related}
    children = [(f"{child}.{f.name}", f"{model.objects[child].defn.plural_label} (by {f.defn.label})")
                for child, f in obj.children]
    related = []
    for r in draft.related:
        child = model.objects.get(r.object)
        lookup = child.fields.get(r.field) if child is not None else None
        title = f"{child.defn.plural_label if child else r.object} (by {lookup.defn.label if lookup else r.field})"
        related.append({
            "ref": r.ref, "columns": r.columns, "title": title,
            "fields": [(f.name, f.defn.label) for f in child.fields.values()] if child is not None else [],
        })
    url = editor_url(obj.name, GROUP, NEW if is_new else draft.name)
    context: dict[str, Any] = {
        "obj": obj.defn, "object_url": object_url(obj.name), "url": url, "delete_url": f"{url}/delete",
        "is_new": is_new, "draft": draft, "labels": labels, "related": related,
        "computed": {f.name for f in obj.fields.values() if not f.type.writable},
        "unplaced": [(n, labels[n]) for n in obj.defn.field_names() if n not in placed],
        "children": [c for c in children if c[0] not in used],
        "errors": errors or {}, "focus": focus,
    }
    return page(request, "admin/layout_editor.html", status=422 if errors else 200, **context)


ROUTES = [
    PageRoute("/admin/objects/{object}/layouts/{name}", layout_editor, methods=("GET", "POST"), needs=ADMIN),
    PageRoute("/admin/objects/{object}/layouts/{name}/delete", delete_layout, methods=("POST",), needs=ADMIN),
]
