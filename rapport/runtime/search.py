"""Global search: the records of every searchable object whose text matches a phrase.

An object is searched when its metadata says ``searchable`` (the default) and the user may
read it; within it, every stored field the user may read whose type filters by ``contains``
(text, email, phone, url, picklists…), its name field first. Each object is one query of the
query engine as the user, so sharing and field-level security hold exactly as in a list.
Matching is case-insensitive and by substring; results are the most recently changed first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapport.platform.actor import Actor
from rapport.platform.errors import InvalidRequest
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.permissions import Access, access_for
from rapport.runtime.query import QuerySpec

MIN_LENGTH = 2
MAX_LENGTH = 100
SEARCH_OPERATOR = "contains"


@dataclass
class SearchGroup:
    """The matches in one object: ``records`` hold ``id``, the name field and the searched fields."""

    object: str
    label: str
    name_field: str | None
    fields: tuple[str, ...]
    records: list[dict[str, Any]] = field(default_factory=list)
    #: whether more records match than were returned
    more: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"object": self.object, "label": self.label, "name_field": self.name_field,
                "records": self.records, "more": self.more}


def search(runtime: Any, actor: Actor, phrase: str, *, limit: int = 5,
           objects: tuple[str, ...] | None = None) -> list[SearchGroup]:
    """Up to ``limit`` matches of ``phrase`` per searchable object (only ``objects``, if given),
    for the objects with at least one match, in the order the org defines its objects."""
    phrase = _checked(phrase)
    model = runtime.model()
    access = access_for(model, actor)
    chosen = [model.object(name) for name in objects] if objects else list(model.objects.values())
    groups = []
    with runtime.reading() as tx:
        for obj in chosen:
            searched = searchable_fields(obj, access)
            if not obj.defn.searchable or not access.on(obj.name).read or not searched:
                continue
            spec = QuerySpec(obj.name, filter={"or": [{"field": name, "op": SEARCH_OPERATOR, "value": phrase}
                                                      for name in searched]},
                             fields=searched, sort=("-updated_at",), limit=limit + 1)
            records = runtime.query(spec, tx, actor=actor).records
            if records:
                groups.append(SearchGroup(obj.name, obj.defn.plural_label, _name_field(obj, access), searched,
                                          records[:limit], more=len(records) > limit))
    return groups


def searchable_fields(obj: CompiledObject, access: Access) -> tuple[str, ...]:
    """The fields of ``obj`` a search looks in for this user, the name field first."""
    grant = access.on(obj.name)
    names = [compiled.name for compiled in obj.stored
             if SEARCH_OPERATOR in compiled.type.field_operators(compiled.defn) and grant.can_read_field(compiled.name)]
    name_field = _name_field(obj, access)
    if name_field in names:
        names.remove(name_field)
        names.insert(0, name_field)
    return tuple(names)


def _name_field(obj: CompiledObject, access: Access) -> str | None:
    name = obj.defn.name_field
    return name if name and access.on(obj.name).can_read_field(name) else None


def _checked(phrase: Any) -> str:
    if not isinstance(phrase, str) or len(phrase.strip()) < MIN_LENGTH:
        raise InvalidRequest(f"search for at least {MIN_LENGTH} characters", code="search.too_short")
    if len(phrase) > MAX_LENGTH:
        raise InvalidRequest(f"search for at most {MAX_LENGTH} characters", code="search.too_long")
    return phrase.strip()
