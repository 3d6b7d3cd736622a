"""The home page: the objects the user may see, each with its most recently changed records."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.runtime.permissions import access_for
from rapport.runtime.query import QuerySpec

RECENT = 5


def home(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    model = runtime.model()
    access = access_for(model, actor)
    objects: list[dict[str, Any]] = []
    for obj in model.objects.values():
        if not access.on(obj.name).read:
            continue
        title = obj.defn.name_field if obj.defn.name_field in access.readable_fields(obj) else None
        spec = QuerySpec(obj.name, fields=(title,) if title else (), sort=("-updated_at",), limit=RECENT)
        records = runtime.query(spec, actor=actor).records
        objects.append({"name": obj.name, "label": obj.defn.plural_label,
                        "recent": [{"id": r["id"], "title": (r.get(title) if title else None) or r["id"],
                                    "updated_at": r["updated_at"]} for r in records]})
    return page(request, "home.html", objects=objects, org=runtime.name)


ROUTES = [PageRoute("/", home)]
