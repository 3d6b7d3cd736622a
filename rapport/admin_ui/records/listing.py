"""The list page of an object: ``GET /o/{object}``, one of its list views as a table.

    ?view=<name>            which list view (default: the object's first; "All <plural>"
                            when it has none)
    ?ff=&fo=&fv=            the user's filter rows, and-ed with the view's (list_filters)
    ?sort=-amount           sort by a column (a header is a link that toggles it)
    ?cursor=<next_cursor>   the next keyset page; ?limit= the page size (up to the org's max)
    ?count=1                also count the matching records (never counted otherwise)
    ?add=1, ?remove=<row>   the filter form's buttons: redirect to the list with one row more
                            or less

The page reads through the query engine as the signed-in user: exactly one query for the
records (their looked-up titles joined in), in the same read transaction as the revision
it is planned on. A problem with what was asked (a filter value, a cursor, a page size) is
a message on the page, at the filter row it belongs to; the rest of the page still shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.records import list_filters as filters
from rapport.admin_ui.records.list_columns import (
    Cell, Column, FieldPath, cells_of, columns_of, default_columns, resolve_path,
)
from rapport.admin_ui.records.views import list_url, new_url
from rapport.admin_ui.rendering import environment, page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.metadata.model import ListView
from rapport.platform.errors import InvalidRequest
from rapport.runtime.compiled import CompiledObject, CompiledOrg
from rapport.runtime.permissions import Access, access_for
from rapport.runtime.query import QueryResult, QuerySpec

#: the name of the view an object without list views gets
DEFAULT_VIEW = "all"


@dataclass(frozen=True)
class ListState:
    """What the query string asks for. Every link of the page is made from it, so moving
    between pages keeps the view, the filters, the sort and the page size."""

    view: str | None = None
    rows: tuple[filters.FilterRow, ...] = ()
    sort: str | None = None
    limit: str | None = None
    cursor: str | None = None
    count: bool = False

    @classmethod
    def of(cls, params: QueryParams) -> ListState:
        return cls(view=params.get("view") or None, rows=tuple(filters.parse_rows(params.multi_items())),
                   sort=params.get("sort") or None, limit=params.get("limit") or None,
                   cursor=params.get("cursor") or None, count=params.get("count") in ("1", "true"))

    def url(self, object_name: str, *, keep_blank: bool = False, count: bool = False, **changes: Any) -> str:
        """This state's address with ``changes`` (a count only when asked: counting costs a scan)."""
        state = replace(self, **changes)
        pairs = [("view", state.view)] if state.view else []
        pairs += filters.rows_query(state.rows, keep_blank=keep_blank)
        pairs += [(key, value) for key, value in (("sort", state.sort), ("limit", state.limit),
                                                  ("cursor", state.cursor)) if value]
        if count:
            pairs.append(("count", "1"))
        return list_url(object_name) + (f"?{urlencode(pairs)}" if pairs else "")


@dataclass
class Listing:
    """One list page, prepared: the view, its columns, the query and what went wrong asking."""

    obj: CompiledObject
    state: ListState
    view: ListView
    views: list[ListView]
    columns: list[Column]
    #: each filter row's field, as the user may read it (``None``: not a field they may read)
    found: list[FieldPath | None]
    user_filter: filters.UserFilter
    sort: tuple[str, ...]
    limit: int | None
    alerts: list[str] = field(default_factory=list)

    def spec(self) -> QuerySpec:
        paths = dict.fromkeys(p for column in self.columns for p in column.selects())
        return QuerySpec(self.obj.name, filter=self.user_filter.tree, fields=tuple(paths), sort=self.sort,
                         limit=self.limit, cursor=self.state.cursor, count=self.state.count)


def list_page(request: Request) -> Response:
    object_name = request.path_params["object"]
    state = ListState.of(request.query_params)
    edited = _edited_rows(state, request.query_params)
    if edited is not None:
        return redirect(request, replace(state, rows=edited, cursor=None).url(object_name, keep_blank=True))
    runtime, actor = request.state.org, request.state.actor
    with runtime.reading() as tx:
        model = tx.model
        access = access_for(model, actor)
        listing = prepare(model, access, object_name, state, runtime.settings.page_size_max)
        problems = None
        try:
            result = runtime.query(listing.spec(), tx=tx, actor=actor)
        except InvalidRequest as error:
            result, problems = QueryResult(), filters.problems_of(error, listing.user_filter)
        create = access.on(listing.obj.name).create
        choices = filters.filter_choices(model, access, listing.obj)
    response = page(request, "records/list.html", **_context(listing, result, problems, choices, create))
    if request.headers.get("HX-Request") == "true":  # htmx swapped the list in: the address follows
        response.headers["HX-Push-Url"] = listing.state.url(object_name, keep_blank=True)
    return response


def _edited_rows(state: ListState, params: QueryParams) -> tuple[filters.FilterRow, ...] | None:
    """The rows after the form's "Add filter" or "Remove" button, or ``None`` for neither."""
    if params.get("add"):
        return (*state.rows, filters.FilterRow())
    removed = params.get("remove", "")
    if removed.isdigit():
        return tuple(row for index, row in enumerate(state.rows) if index != int(removed))
    return None


def prepare(model: CompiledOrg, access: Access, object_name: str, state: ListState, page_size_max: int) -> Listing:
    """The listing ``state`` asks for, as this user may see it (403 without read access)."""
    obj = model.object(object_name)
    access.require(obj.name, "read")
    alerts: list[str] = []
    views = [v for v in model.bundle.list_views if v.object == obj.name] or [
        ListView(obj.name, DEFAULT_VIEW, f"All {obj.defn.plural_label}", columns=default_columns(access, obj))]
    view = next((v for v in views if v.name == state.view), views[0])
    if state.view is not None and view.name != state.view:
        alerts.append(f"There is no list view '{state.view}' of {obj.defn.plural_label}; "
                      f"showing '{view.label}' instead.")
        state = replace(state, view=None, cursor=None)
    columns = columns_of(model, access, obj, view.columns)
    sort, state = _sort(model, access, obj, view, columns, state, alerts)
    limit, state = _limit(state, page_size_max, alerts)
    found = [resolve_path(model, access, obj, row.field) if row.field else None for row in state.rows]
    user_filter = filters.combine(list(state.rows), found, view.filter)
    return Listing(obj, state, view, views, columns, found, user_filter, sort, limit, alerts)


def _sort(model: CompiledOrg, access: Access, obj: CompiledObject, view: ListView, columns: list[Column],
          state: ListState, alerts: list[str]) -> tuple[tuple[str, ...], ListState]:
    """The user's sort (a sortable column, or another field whose values have an order), else
    the view's own sort without the fields this user may not read."""
    if state.sort is not None:
        path = state.sort.removeprefix("-")
        found = resolve_path(model, access, obj, path)
        if any(c.sort_key == path for c in columns) or (found is not None and found.ordered):
            return (state.sort,), state
        alerts.append(f"The list cannot be sorted by '{path}'; sort it by a column's header instead.")
        state = replace(state, sort=None, cursor=None)
    readable = (k for k in view.sort if resolve_path(model, access, obj, k.field) is not None)
    return tuple(k.to_json() for k in readable), state


def _limit(state: ListState, maximum: int, alerts: list[str]) -> tuple[int | None, ListState]:
    if state.limit is None:
        return None, state
    if state.limit.isdigit() and 1 <= int(state.limit) <= maximum:
        return int(state.limit), state
    alerts.append(f"The page size must be a whole number from 1 to {maximum}, not '{state.limit}'; "
                  "showing the usual page size.")
    return None, replace(state, limit=None)


@dataclass(frozen=True)
class Header:
    column: Column
    sort_href: str | None
    #: "ascending" / "descending" on the column the list is sorted by
    aria_sort: str | None

    @property
    def widget(self) -> Any:
        """The column's widget macros (``show``), imported once for every row."""
        return environment().get_template(self.column.view.template).module


def _headers(listing: Listing) -> list[Header]:
    name, state = listing.obj.name, listing.state
    primary = listing.sort[0] if listing.sort else ""
    headers = []
    for column in listing.columns:
        key = column.sort_key
        if key is None:
            headers.append(Header(column, None, None))
            continue
        current = primary.removeprefix("-") == key
        descending = current and primary.startswith("-")
        aria = ("descending" if descending else "ascending") if current else None
        toggled = f"-{key}" if current and not descending else key
        headers.append(Header(column, state.url(name, sort=toggled, cursor=None), aria))
    return headers


@dataclass(frozen=True)
class Row:
    id: str
    cells: list[Cell]


def _context(listing: Listing, result: QueryResult, problems: filters.Problems | None,
             choices: list[tuple[str, str]], create: bool) -> dict[str, Any]:
    obj, state, name = listing.obj, listing.state, listing.obj.name
    alerts = list(listing.alerts)
    row_errors = problems.rows if problems else {}
    if problems is not None:
        alerts += [f"The list view '{listing.view.label}' has a filter that cannot be applied: {m}"
                   for m in problems.view]
        alerts += problems.other
        if problems.rows:
            alerts.append("Some filters could not be applied: fix the ones marked below to see the records.")
    rows = [filters.row_view(index, row, found, choices, row_errors.get(index))
            for index, (row, found) in enumerate(zip(state.rows, listing.found))]
    return {
        "object": obj.defn, "view": listing.view, "views": listing.views, "state": state,
        "headers": _headers(listing), "alerts": alerts, "failed": problems is not None,
        "records": [Row(r["id"], cells_of(listing.columns, r)) for r in result.records],
        "filter_rows": rows, "list_href": list_url(name),
        "clear_href": state.url(name, rows=(), cursor=None) if state.rows else None,
        "total": result.total, "count_href": state.url(name, count=True),
        "next_href": state.url(name, cursor=result.next_cursor) if result.next_cursor else None,
        "first_href": state.url(name, cursor=None) if state.cursor else None,
        "new_href": new_url(name) if create else None,
    }


ROUTES = [PageRoute("/o/{object}", list_page)]
