"""Semantic checks on a well-formed bundle: what its JSON Schemas cannot say.

Duplicates, reserved and rename names, and every reference from a layout, list view or
rule to an object or field. Field-type options are checked by each type's own ``check``;
nothing here branches on a type's name. Every problem points at the offending key.
"""

from __future__ import annotations

from typing import TypeVar
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Mapping, Sequence

from rapport.metadata.field_spec import FieldTypeSpec
from rapport.metadata.model import (
    RESERVED_FIELD_NAMES, Bundle, Component, FieldDef, ObjectDef, RelatedList,
)
from rapport.metadata._permission_checks import permission_problems
from rapport.platform.errors import Problem, pointer

T = TypeVar("T")
Lookup = Generator[Problem, None, "ObjectDef | None"]

_COMPONENT_NOUNS = {
    "validation_rules": "validation rule", "workflow_rules": "workflow rule", "scripts": "script",
    "profiles": "profile", "permission_sets": "permission set",
}


def semantic_problems(bundle: Bundle, field_types: Mapping[str, FieldTypeSpec]) -> list[Problem]:
    problems: list[Problem] = []
    problems += _objects(bundle)
    for i, obj in enumerate(bundle.objects):
        problems += _fields(bundle, obj, pointer("objects", i), field_types)
    problems += _layouts(bundle)
    problems += _list_views(bundle)
    problems += _components(bundle)
    problems += permission_problems(bundle, _object_ref, field_types)
    return problems


# -- objects and fields -------------------------------------------------------------------

def _objects(bundle: Bundle) -> Iterator[Problem]:
    for i, first in _duplicates(bundle.objects, lambda o: o.name):
        yield Problem(pointer("objects", i, "name"), "metadata.duplicate_name",
                      f"object {bundle.objects[i].name!r} is defined more than once "
                      f"(first at {pointer('objects', first)})")
    yield from _renames(bundle.objects, lambda name: f"object {name!r}",
                        lambda i: pointer("objects", i))


def _fields(bundle: Bundle, obj: ObjectDef, at: str,
            field_types: Mapping[str, FieldTypeSpec]) -> Iterator[Problem]:
    where = f"object {obj.name!r}"
    for j, first in _duplicates(obj.fields, lambda f: f.name):
        yield Problem(f"{at}/fields/{j}/name", "metadata.duplicate_name",
                      f"field {obj.fields[j].name!r} of {where} is defined more than once "
                      f"(first at {at}/fields/{first})")
    reserved = ", ".join(repr(n) for n in sorted(RESERVED_FIELD_NAMES))
    for j, f in enumerate(obj.fields):
        if f.name in RESERVED_FIELD_NAMES:
            yield Problem(f"{at}/fields/{j}/name", "metadata.reserved_name",
                          f"field {f.name!r} of {where}: {f.name!r} is a system field every "
                          f"object has; reserved names are {reserved}")
    yield from _renames(obj.fields, lambda name: f"field {name!r} of {where}",
                        lambda j: f"{at}/fields/{j}")
    if obj.name_field is not None and obj.field(obj.name_field) is None:
        yield Problem(f"{at}/name_field", "metadata.unknown_field",
                      f"{where}: name_field {obj.name_field!r} is not one of its fields "
                      f"({_names(obj.field_names())})")
    for j, f in enumerate(obj.fields):
        field_at = f"{at}/fields/{j}"
        yield from _precision(f, obj, field_at)
        spec = field_types.get(f.type)
        if spec is not None:
            yield from spec.check(f, obj, bundle, field_at)


def _precision(f: FieldDef, obj: ObjectDef, at: str) -> Iterator[Problem]:
    """Scale fits in precision, for any type with both options (a schema can't compare)."""
    if f.precision is not None and f.scale is not None and f.scale > f.precision:
        yield Problem(f"{at}/scale", "metadata.out_of_range",
                      f"field {f.name!r} of object {obj.name!r}: scale {f.scale} is above "
                      f"the precision {f.precision}")


def _renames(items: Sequence[ObjectDef | FieldDef], describe: Callable[[str], str],
             at: Callable[[int], str]) -> Iterator[Problem]:
    claimed: dict[str, int] = {}
    for i, item in enumerate(items):
        old = item.renamed_from
        if old is None:
            continue
        if old == item.name:
            yield Problem(f"{at(i)}/renamed_from", "metadata.bad_rename",
                          f"{describe(item.name)}: renamed_from {old!r} is its own name")

        elif old in claimed:
            yield Problem(f"{at(i)}/renamed_from", "metadata.bad_rename",
                          f"{describe(item.name)}: {old!r} is already renamed to "
                          f"{items[claimed[old]].name!r} ({at(claimed[old])}/renamed_from)")
        else:
            claimed[old] = i


# -- layouts and list views ---------------------------------------------------------------

def _layouts(bundle: Bundle) -> Iterator[Problem]:
    for i, first in _duplicates(bundle.layouts, lambda x: (x.object, x.name)):
        yield Problem(pointer("layouts", i, "name"), "metadata.duplicate_name",
                      f"layout {bundle.layouts[i].key!r} is defined more than once "
                      f"(first at {pointer('layouts', first)})")
    for i, layout in enumerate(bundle.layouts):
        at, where = pointer("layouts", i), f"layout {layout.key!r}"
        obj = yield from _object_ref(bundle, layout.object, f"{at}/object", where)
        if obj is None:
            continue
        for s, section in enumerate(layout.sections):
            for k, item in enumerate(section.fields):
                # A plain-string item is the field itself; an object item has a "field" key.
                item_at = f"{at}/sections/{s}/fields/{k}"
                if item.required or item.readonly:
                    item_at += "/field"
                yield from _path_ref(bundle, obj, item.field, item_at, where)
        for r, related in enumerate(layout.related_lists):
            yield from _related_list(bundle, layout.object, related, f"{at}/related_lists/{r}", where)


def _related_list(bundle: Bundle, parent: str, related: RelatedList, at: str,
                  where: str) -> Iterator[Problem]:
    child = yield from _object_ref(bundle, related.object, f"{at}/object", where)
    if child is None:
        return
    f = child.field(related.field)
    if f is None or f.target != parent:
        pointing = [c.name for c in child.fields if c.target == parent]
        choices = f"the fields of {child.name!r} that do: {_names(pointing)}" if pointing \
            else f"no field of {child.name!r} does"
        what = "is not a field" if f is None else "does not point at it"
        yield Problem(f"{at}/field", "metadata.unknown_field",
                      f"{where}: a related list needs a field of {child.name!r} that points at object "
                      f"{parent!r}; {related.field!r} {what} ({choices})")
    for c, column in enumerate(related.columns):
        yield from _path_ref(bundle, child, column, f"{at}/columns/{c}", where)


def _list_views(bundle: Bundle) -> Iterator[Problem]:
    for i, first in _duplicates(bundle.list_views, lambda x: (x.object, x.name)):
        yield Problem(pointer("list_views", i, "name"), "metadata.duplicate_name",
                      f"list view {bundle.list_views[i].key!r} is defined more than once "
                      f"(first at {pointer('list_views', first)})")
    for i, view in enumerate(bundle.list_views):
        at, where = pointer("list_views", i), f"list view {view.key!r}"
        obj = yield from _object_ref(bundle, view.object, f"{at}/object", where)
        if obj is None:
            continue
        for c, column in enumerate(view.columns):
            yield from _path_ref(bundle, obj, column, f"{at}/columns/{c}", where)
        for s, key in enumerate(view.sort):
            yield from _path_ref(bundle, obj, key.field, f"{at}/sort/{s}", where)


# -- rules and scripts --------------------------------------------------------------------

def _components(bundle: Bundle) -> Iterator[Problem]:
    for kind, noun in _COMPONENT_NOUNS.items():
        items: tuple[Component, ...] = getattr(bundle, kind)
        for i, first in _duplicates(items, lambda c: (c.object, c.name)):
            yield Problem(pointer(kind, i, "name"), "metadata.duplicate_name",
                          f"{noun} {items[i].key!r} is defined more than once "
                          f"(first at {pointer(kind, first)})")
        for i, component in enumerate(items):
            if component.object is None:
                continue
            at, where = pointer(kind, i), f"{noun} {component.key!r}"
            obj = yield from _object_ref(bundle, component.object, f"{at}/object", where)
            if obj is None:
                continue
            field = component.get("field")
            if field is not None and not _has_field(obj, field):
                yield _unknown_field(obj, field, f"{at}/field", where)
            for t, trigger in enumerate(component.get("time_triggers", ())):
                relative_to = trigger.get("relative_to", "trigger_time")
                if relative_to != "trigger_time" and not _has_field(obj, relative_to):
                    yield _unknown_field(obj, relative_to, f"{at}/time_triggers/{t}/relative_to",
                                         where, extra="'trigger_time', ")


# -- references ---------------------------------------------------------------------------

def _object_ref(bundle: Bundle, name: str, at: str, where: str) -> Lookup:
    """Yields a problem if object ``name`` is missing; returns the object (or None)."""
    obj = bundle.object(name)
    if obj is None:
        yield Problem(at, "metadata.unknown_object",
                      f"{where}: object {name!r} is not in the bundle; objects are "
                      f"{_names(bundle.object_names())}")
    return obj


def _path_ref(bundle: Bundle, obj: ObjectDef, path: str, at: str, where: str) -> Iterator[Problem]:
    """A field path: lookup and master-detail fields (those with a target) lead on."""
    current = obj
    parts = path.split(".")
    for hop, part in enumerate(parts):
        if not _has_field(current, part):
            yield _unknown_field(current, part, at, where, path=path)
            return
        if hop == len(parts) - 1:
            return
        f = current.field(part)
        if f is None or f.target is None:
            yield Problem(at, "metadata.unknown_field",
                          f"{where}: {path!r}: field {part!r} of object {current.name!r} is not "
                          f"a lookup or master-detail field, so the path cannot go through it")
            return
        following = bundle.object(f.target)
        if following is None:
            return  # the missing target is the field's own problem, reported at the field
        current = following


def _unknown_field(obj: ObjectDef, name: str, at: str, where: str, *, path: str | None = None,
                   extra: str = "") -> Problem:
    prefix = f"{path!r}: " if path and path != name else ""
    fields = _names(dict.fromkeys((*obj.field_names(), *sorted(_system_fields(obj)))))
    return Problem(at, "metadata.unknown_field",
                   f"{where}: {prefix}{name!r} is not a field of object {obj.name!r}; "
                   f"allowed are {extra}{fields}")


def _has_field(obj: ObjectDef, name: str) -> bool:
    return obj.field(name) is not None or name in _system_fields(obj)


def _system_fields(obj: ObjectDef) -> frozenset[str]:
    return RESERVED_FIELD_NAMES if obj.soft_delete else RESERVED_FIELD_NAMES - {"is_deleted"}


def _duplicates(items: Iterable[T], key: Callable[[T], Hashable]) -> Iterator[tuple[int, int]]:
    """(index, index of the first) for every item whose key was seen before."""
    first: dict[Hashable, int] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k in first:
            yield i, first[k]
        else:
            first[k] = i


def _names(names: Iterable[str]) -> str:
    shown = ", ".join(repr(n) for n in names)
    return shown or "none"
