"""One record as the end-user pages show it: read in one query with the titles of the records
its lookups point at, turned into field views, the people it names by their names, and
whether the user may change it.

Everything is read as the signed-in user, through the query engine and the record service:
fields they may not read are never asked for, and a looked-up record they may not see has
no title (its id shows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from rapport.admin_ui.records.views import record_url, title_field, title_of
from rapport.admin_ui.widgets import FieldView, field_view
from rapport.platform.actor import SYSTEM
from rapport.platform.errors import Forbidden, NotFound
from rapport.runtime.compiled import CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.permissions import Access, access_for
from rapport.runtime.query import QuerySpec

#: record ids are short printable strings (see the record service); anything else names none
MAX_ID_LENGTH = 36


def title_path(model: CompiledOrg, access: Access, compiled: CompiledField, path: str | None = None) -> str | None:
    """For a lookup at ``path`` (default: its name): the path of the looked-up record's title
    (``account`` → ``account.name``), if the user may read it; ``None`` for other fields."""
    target = model.objects.get(compiled.defn.target or "")
    title = title_field(target, access) if target is not None else None
    return f"{path or compiled.name}.{title}" if title is not None else None


def title_paths(model: CompiledOrg, access: Access, fields: Iterable[CompiledField]) -> dict[str, str]:
    """:func:`title_path` of each lookup among ``fields``, by field name."""
    paths = {}
    for compiled in fields:
        path = title_path(model, access, compiled)
        if path is not None:
            paths[compiled.name] = path
    return paths


def read_record(request: Request, tx: Any, obj: CompiledObject, record_id: str, fields: Iterable[CompiledField]
                ) -> tuple[dict[str, Any], dict[str, str]]:
    """The record's ``fields`` (and system fields) keyed by path, with the titles of the
    records its lookups point at, in one query; and the paths of those titles by field
    (see :func:`title_paths`). 404 if the user may not see the record."""
    if not record_id.isascii() or not record_id.isprintable() or len(record_id) > MAX_ID_LENGTH:
        raise not_found(obj, record_id)
    wanted = list(fields)
    titles = title_paths(tx.model, access_of(request, tx.model), wanted)
    spec = QuerySpec(obj.name, filter={"field": "id", "op": "eq", "value": record_id},
                     fields=(*(f.name for f in wanted), *titles.values()), limit=1)
    records = request.state.org.query(spec, tx, actor=request.state.actor).records
    if not records:
        raise not_found(obj, record_id)
    return records[0], titles


def view_of(model: CompiledOrg, access: Access, compiled: CompiledField, value: Any, target_title: Any = None,
            **facts: Any) -> FieldView:
    """The view of one field holding ``value``; a lookup's view carries the looked-up
    record's title (``target_title``, else its id) and, if the user may read it, address."""
    target = compiled.defn.target
    if not target:
        return field_view(compiled.defn, compiled.type, value, **facts)
    if value:
        facts.setdefault("title", str(target_title) if target_title not in (None, "") else str(value))
        facts.setdefault("link", record_url(target, str(value)) if access.on(target).read else None)
    target_obj = model.objects.get(target)
    view = field_view(compiled.defn, compiled.type, value, **facts)
    return replace(view, options={**view.options,
                                  "target_label": target_obj.defn.label if target_obj is not None else target})


def record_view(model: CompiledOrg, access: Access, compiled: CompiledField, record: dict[str, Any],
                titles: dict[str, str], **facts: Any) -> FieldView:
    """The view of field ``compiled`` of ``record`` (read by :func:`read_record` with ``titles``)."""
    path = titles.get(compiled.name)
    return view_of(model, access, compiled, record.get(compiled.name), record.get(path) if path else None, **facts)


def titles_by_id(request: Request, tx: Any, target: str, ids: Iterable[Any]) -> dict[str, str]:
    """The titles of the records of object ``target`` with ``ids`` that the user may see, by
    id (one query; none when the user may not read the object)."""
    wanted = sorted({str(i) for i in ids if i and isinstance(i, str) and len(i) <= MAX_ID_LENGTH})
    target_obj = tx.model.objects.get(target)
    access = access_of(request, tx.model)
    if not wanted or target_obj is None or not access.on(target).read:
        return {}
    title = title_field(target_obj, access)
    found: dict[str, str] = {}
    page = request.state.org.settings.page_size_max
    for start in range(0, len(wanted), page):
        chunk = wanted[start:start + page]
        spec = QuerySpec(target, filter={"field": "id", "op": "in", "value": chunk},
                         fields=(title,) if title else (), limit=len(chunk))
        records = request.state.org.query(spec, tx, actor=request.state.actor).records
        found.update({r["id"]: title_of(r, title) for r in records})
    return found


def people(request: Request, ids: Iterable[Any]) -> dict[str, str]:
    """The names of the users with ``ids`` (owners, authors): one query for those users."""
    wanted = {str(i) for i in ids if i}
    names = {SYSTEM.id: SYSTEM.name} if SYSTEM.id in wanted else {}
    if wanted - set(names):
        names.update(request.app.state.rapport.users.names(request.state.principal.org, wanted - set(names)))
    return {i: names.get(i, i) for i in wanted}


def access_of(request: Request, model: CompiledOrg) -> Access:
    return access_for(model, request.state.actor)


def require_changeable(request: Request, tx: Any, obj: CompiledObject, record_id: str) -> None:
    """403 unless the user may change the record (not only the object: its sharing too)."""
    if not request.state.org.records(request.state.actor, tx).may_edit(obj.name, record_id):
        raise Forbidden(f"you may read this {obj.defn.label.lower()} but not change it: it is not yours and "
                        "its sharing does not let others change it", code="permissions.record_access")


def not_found(obj: CompiledObject, record_id: str) -> NotFound:
    return NotFound(f"object '{obj.name}' has no record with id {record_id!r}", code="records.not_found")
