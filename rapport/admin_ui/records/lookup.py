"""Finding a record by its title: the lookup widget's type-ahead, and resolving a typed title.

    GET /o/{object}/lookup?q=acme&field=field-account   the htmx fragment of up to ten options

The lookup widget (``widgets/lookup.html``) asks for options as the user types (htmx sends
the search box as ``<field>__title``; ``q`` is taken too) and ``static/rapport.js`` puts the
chosen option's ``data-id`` into the hidden input. Without a script the form posts the typed
title with an empty id, and :func:`resolve_title` takes the one record the user may see with
that name, or says why it cannot (none, or several).

Only the records the signed-in user may see are offered, matched on the object's name field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.records.views import title_field, title_of
from rapport.admin_ui.rendering import fragment
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.widgets import LookupWidget
from rapport.platform.errors import InvalidRequest
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.permissions import access_for
from rapport.runtime.query import QuerySpec

OPTIONS = 10
#: when no name is exactly as typed: how many names containing it are compared, ignoring case
CLOSE_MATCHES = 50
_DOM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,80}$")


def lookup_options(request: Request) -> Response:
    runtime, actor = request.state.org, request.state.actor
    with runtime.reading() as tx:
        obj = tx.model.object(request.path_params["object"])
        access_for(tx.model, actor).require(obj.name, "read")
        typed = typed_text(request.query_params)
        options = [{"id": r["id"], "title": title} for r, title in matches(request, tx, obj, typed, OPTIONS)]
    field = request.query_params.get("field", "")
    return fragment("records/lookup_options.html", options=options, typed=typed,
                    field=field if _DOM_ID.match(field) else "lookup", label=obj.defn.plural_label)


def typed_text(params: Mapping[str, str]) -> str:
    """What the user typed: ``q``, or the search box htmx sent (``<field>__title``)."""
    if "q" in params:
        return params["q"].strip()
    boxes = [value for name, value in params.items() if name.endswith(LookupWidget.label_input(""))]
    return boxes[0].strip() if boxes else ""


def matches(request: Request, tx: Any, obj: CompiledObject, typed: str, limit: int
            ) -> list[tuple[dict[str, Any], str]]:
    """Up to ``limit`` records the user may see whose name contains ``typed`` (any record
    when it is empty), in name order, each with its title."""
    title = title_field(obj, access_for(tx.model, request.state.actor))
    if title is None:
        return []
    compiled = obj.fields[title]
    operator = "contains" if "contains" in compiled.type.field_operators(compiled.defn) else "eq"
    condition = {"field": title, "op": operator, "value": typed} if typed else None
    spec = QuerySpec(obj.name, filter=condition, fields=(title,), sort=(title,), limit=limit)
    try:
        records = request.state.org.query(spec, tx, actor=request.state.actor).records
    except InvalidRequest:  # what was typed cannot be a value of the name field (letters for a number)
        return []
    return [(r, title_of(r, title)) for r in records]


def resolve_title(request: Request, tx: Any, obj: CompiledObject, typed: str) -> tuple[str | None, str | None]:
    """The id of the one record of ``obj`` the user may see that is named ``typed`` (exactly,
    or else but for case), or the message saying why there is none: none, or several."""
    found, count = _named(request, tx, obj, typed)
    if count == 0:
        close = [r for r, title in matches(request, tx, obj, typed, CLOSE_MATCHES)
                 if title.casefold() == typed.casefold()]
        found, count = close[:1], len(close)
    if count == 1:
        return str(found[0]["id"]), None
    if count == 0:
        return None, f"No {obj.defn.label.lower()} is named '{typed}'."
    return None, f"{count} {obj.defn.plural_label.lower()} are named '{typed}': choose one from the list."


def _named(request: Request, tx: Any, obj: CompiledObject, typed: str) -> tuple[list[dict[str, Any]], int]:
    """One record the user may see named exactly ``typed``, and how many there are."""
    title = title_field(obj, access_for(tx.model, request.state.actor))
    if title is None:
        return [], 0
    spec = QuerySpec(obj.name, filter={"field": title, "op": "eq", "value": typed}, fields=(title,), limit=1,
                     count=True)
    try:
        result = request.state.org.query(spec, tx, actor=request.state.actor)
    except InvalidRequest:
        return [], 0
    return result.records, result.total or 0


ROUTES = [PageRoute("/o/{object}/lookup", lookup_options)]
