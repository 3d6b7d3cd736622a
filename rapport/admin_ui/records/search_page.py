"""The global search page: the header's search box across every searchable object.

    GET /search?q=acme              up to 5 matches per object
    GET /search?q=acme&object=deal  up to 50 matches in one object
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.records.views import record_url, title_of
from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.widgets import field_view
from rapport.platform.errors import InvalidRequest
from rapport.runtime.search import search

PER_OBJECT = 5
IN_ONE_OBJECT = 50


def search_page(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    phrase = request.query_params.get("q", "").strip()
    only = request.query_params.get("object") or None
    if not phrase:
        return page(request, "records/search.html", search_query="", groups=[], error=None, only=None)
    model = runtime.model()
    if only is not None:
        model.object(only)  # 404 for an unknown object
    try:
        groups = search(runtime, actor, phrase, limit=IN_ONE_OBJECT if only else PER_OBJECT,
                        objects=(only,) if only else None)
    except InvalidRequest as error:
        return page(request, "records/search.html", status=400, search_query=phrase, groups=[],
                    error=error.message[:1].upper() + error.message[1:] + ".", only=only)
    shown = [_group(model, group, phrase) for group in groups]
    return page(request, "records/search.html", search_query=phrase, groups=shown, error=None, only=only)


def _group(model: Any, group: Any, phrase: str) -> dict[str, Any]:
    obj = model.objects[group.object]
    rows = []
    for record in group.records:
        matches = []
        for name in group.fields:
            if name == group.name_field or record.get(name) in (None, "", []):
                continue
            compiled = obj.fields[name]
            view = field_view(compiled.defn, compiled.type, record.get(name))
            if phrase.casefold() in view.text.casefold():
                matches.append(view)
        rows.append({"title": title_of(record, group.name_field), "url": record_url(group.object, record["id"]),
                     "matches": matches})
    return {"object": group.object, "label": group.label, "rows": rows, "more": group.more}


ROUTES = [PageRoute("/search", search_page)]
