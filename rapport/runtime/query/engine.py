"""Run a :class:`QuerySpec` as exactly one SQL statement and serialise the page.

Order: the requested sort keys, then ``id`` as the final tie-breaker (default
``-created_at, -id``). NULL sorts as the largest value on every backend: last in ascending
order, first in descending (explicit ``NULLS LAST`` / ``NULLS FIRST`` on nullable columns).

Pagination is by keyset: a page fetches ``limit + 1`` rows; if the extra row exists, the
cursor carries the last returned row's sort values and the next page asks for the rows
strictly after them. For an ascending nullable key after a non-null value ``v`` that is
``(col > v) OR (col IS NULL) OR (col = v AND <next keys>)``; after NULL only
``col IS NULL AND <next keys>`` remains. Descending mirrors it.

With ``count=True`` the statement is ``total LEFT OUTER JOIN page ON true``: a one-row
count subquery (filter only, no cursor) joined to the page subquery, so the total comes
back even when the page is empty, still in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.platform.errors import InvalidRequest, Problem
from rapport.runtime.fields import FieldValueError
from rapport.runtime.compiled import SYSTEM_FIELDS, CompiledObject, CompiledOrg
from rapport.runtime.formula import Env
from rapport.runtime.permissions import Access
from rapport.runtime.query.filters import compile_filter
from rapport.runtime.query.joins import JoinPaths, PathError, ResolvedPath
from rapport.runtime.query.spec import QueryResult, QuerySpec, decode_cursor, encode_cursor

DEFAULT_SORT = ("-created_at", "-id")
Serialiser = Callable[[Any], Any]


@dataclass(frozen=True)
class _SortKey:
    resolved: ResolvedPath
    descending: bool
    position: int  # index of the key's column in the selected row

    @property
    def token(self) -> str:
        return f"-{self.resolved.path}" if self.descending else self.resolved.path


def run_query(conn: Connection, model: CompiledOrg, spec: QuerySpec, *,
              page_size_default: int = 50, page_size_max: int = 200, env: Env | None = None,
              access: Access | None = None) -> QueryResult:
    """One page of ``spec``; ``env`` gives formula fields their globals and clock.

    With ``access``, the page holds only what that user may see: the object must be
    readable, hidden fields are unknown, and only visible records are listed.
    """
    obj = model.object(spec.object)
    if access is not None:
        access.require(obj.name, "read")
    limit = _page_size(spec.limit, page_size_default, page_size_max)
    paths = JoinPaths(model, obj, include_deleted=spec.include_deleted, dialect=conn.dialect.name, env=env or Env(),
                      access=access)
    scope = _scope(obj, compile_filter(spec.filter, paths), spec.include_deleted)
    if paths.access is not None:
        visible = paths.access.visible(model, obj, obj.table)
        if visible is not None:
            scope.append(visible)
    filter_from = paths.from_clause()  # only the joins the filter needs: the count's FROM

    outputs, sort_paths = _resolve_selection(paths, spec)
    columns = [r.column for r in outputs]
    position = {r.path: i for i, r in enumerate(outputs)}
    keys: list[_SortKey] = []
    for resolved, descending in sort_paths:
        if resolved.path not in position:
            position[resolved.path] = len(columns)
            columns.append(resolved.column)
        keys.append(_SortKey(resolved, descending, position[resolved.path]))
    tokens = [k.token for k in keys]

    where = list(scope)
    if spec.cursor is not None:
        values = decode_cursor(spec.cursor, obj.name, tokens, [_fits(k.resolved) for k in keys])
        where.append(_after([(k, columns[k.position]) for k in keys], values))
    labelled = [c.label(f"c{i}") for i, c in enumerate(columns)]
    page = (sa.select(*labelled)
            .select_from(paths.from_clause()).where(*where).limit(limit + 1))
    if spec.count:
        rows, total = _run_with_count(conn, page, keys, filter_from, scope)
    else:
        # by the selected column's label: a computed (formula) column is computed once per row
        page = page.order_by(*(_order(labelled[k.position], k) for k in keys))
        rows, total = list(conn.execute(page).all()), None

    has_more = len(rows) > limit
    rows = rows[:limit]
    plan = [(r.path, i, _serialiser(r)) for i, r in enumerate(outputs)]
    records = [{path: row[i] if serialise is None else serialise(row[i]) for path, i, serialise in plan}
               for row in rows]
    next_cursor = None
    if has_more:
        last = rows[-1]
        next_cursor = encode_cursor(obj.name, tokens, [last[k.position] for k in keys])
    return QueryResult(records=records, next_cursor=next_cursor, total=total)


def _fits(resolved: ResolvedPath) -> Callable[[Any], bool]:
    """Whether a cursor value is one this sort field could hold: its type takes it unchanged."""
    field_type, defn = resolved.field.type, resolved.field.defn

    def fits(value: Any) -> bool:
        try:
            coerced = field_type.coerce_operand("eq", value, defn)
            return type(coerced) is type(value) and bool(coerced == value)
        except (FieldValueError, TypeError, ValueError, ArithmeticError):
            return False

    return fits


def _page_size(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return min(default, maximum)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(f"the page size must be a whole number from 1 to {maximum}, got {limit!r}",
                             code="query.bad_limit")
    if limit > maximum:
        raise InvalidRequest(f"the page size {limit} is above the maximum of {maximum}",
                             code="query.page_size_too_large", details={"maximum": maximum})
    return limit


def _scope(obj: CompiledObject, where: sa.ColumnElement[bool] | None,
           include_deleted: bool) -> list[sa.ColumnElement[bool]]:
    """The conditions shared by the page and the count: filter and soft delete."""
    scope = [] if where is None else [where]
    if obj.defn.soft_delete and not include_deleted:
        scope.append(obj.table.c.is_deleted == sa.false())
    return scope


def _resolve_selection(paths: JoinPaths, spec: QuerySpec
                       ) -> tuple[list[ResolvedPath], list[tuple[ResolvedPath, bool]]]:
    """Output paths (system fields first) and sort keys; every problem raised at once."""
    obj = paths.root
    requested = spec.fields if spec.fields is not None else default_fields(obj, paths.access)
    if isinstance(requested, str):
        requested = (requested,)
    problems: list[Problem] = []
    outputs: dict[str, ResolvedPath] = {}
    for index, path in enumerate((*SYSTEM_FIELDS, *requested)):
        if path in outputs:
            continue
        try:
            outputs[path] = paths.resolve(path)
        except PathError as error:
            problems.append(Problem(f"/fields/{index - len(SYSTEM_FIELDS)}", error.code, error.message))

    sort_paths: list[tuple[ResolvedPath, bool]] = []
    seen: set[str] = set()
    for index, token in enumerate(spec.sort or DEFAULT_SORT):
        descending = isinstance(token, str) and token.startswith("-")
        path = token[1:] if descending else token
        if path in seen:
            continue
        seen.add(path)
        try:
            sort_paths.append((paths.resolve(path), descending))
        except PathError as error:
            problems.append(Problem(f"/sort/{index}", error.code, error.message))
    if problems:
        codes = {p.code for p in problems}
        code = codes.pop() if len(codes) == 1 else "query.bad_request"
        detail = problems[0].message if len(problems) == 1 else f"{len(problems)} problems with fields and sort"
        raise InvalidRequest(f"cannot query object '{obj.name}': {detail}", code=code, problems=problems)
    if "id" not in seen:
        sort_paths.append((paths.resolve("id"), False))
    return list(outputs.values()), sort_paths


def default_fields(obj: CompiledObject, access: Access | None = None) -> tuple[str, ...]:
    """What a query returns when it names no fields: every stored and formula field (that the
    caller may read)."""
    grant = access.on(obj.name) if access is not None else None
    return tuple(name for name, f in obj.fields.items()
                 if (f.type.stored or name in obj.formulas.fields) and (grant is None or grant.can_read_field(name)))


def _order(column: sa.ColumnElement[Any], key: _SortKey) -> sa.ColumnElement[Any]:
    nullable = key.resolved.nullable
    if key.descending:
        return column.desc().nulls_first() if nullable else column.desc()
    return column.asc().nulls_last() if nullable else column.asc()


def _after(keys: Sequence[tuple[_SortKey, sa.ColumnElement[Any]]],
           values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the sort order (NULL is the largest value)."""
    predicate: sa.ColumnElement[bool] | None = None
    for (key, column), value in reversed(list(zip(keys, values))):
        nullable = key.resolved.nullable
        if value is None:
            beyond = column.is_not(None) if key.descending else None
            same = column.is_(None)
        else:
            # a typed bound value: `column > True` is not an expression SQLAlchemy builds
            value = sa.literal(value, column.type)
            if key.descending:
                beyond = column < value
            else:
                beyond = sa.or_(column > value, column.is_(None)) if nullable else column > value
            same = column == value
        if predicate is None:  # the last key is unique (id): nothing ties on it
            predicate = beyond if beyond is not None else sa.false()
            continue
        tail = sa.and_(same, predicate)
        predicate = tail if beyond is None else sa.or_(beyond, tail)
    assert predicate is not None
    first, column = keys[0]
    value = values[0]
    if value is not None and not first.resolved.nullable:
        # A redundant range bound on the leading key lets the database seek an index.
        value = sa.literal(value, column.type)
        bound = column <= value if first.descending else column >= value
        predicate = sa.and_(bound, predicate)
    return predicate


def _run_with_count(conn: Connection, page: sa.Select[Any], keys: Sequence[_SortKey],
                    filter_from: sa.FromClause, scope: list[sa.ColumnElement[bool]]
                    ) -> tuple[list[Any], int]:
    inner_order = [_order(page.selected_columns[k.position], k) for k in keys]
    page_rows = page.order_by(*inner_order).subquery("_page")
    total = (sa.select(sa.func.count().label("total")).select_from(filter_from).where(*scope)
             .subquery("_total"))
    statement = (sa.select(*page_rows.c, total.c.total)
                 .select_from(total.outerjoin(page_rows, sa.true()))
                 .order_by(*(_order(page_rows.c[f"c{k.position}"], k) for k in keys)))
    rows = conn.execute(statement).all()
    count = int(rows[0][-1]) if rows else 0
    # position 0 is the id: null only in the single row of an empty page
    return [row for row in rows if row[0] is not None], count


def _serialiser(resolved: ResolvedPath) -> Serialiser | None:
    """The column's value-to-JSON function; ``None`` when the type passes values through."""
    return resolved.field.type.json_converter(resolved.field.defn)
