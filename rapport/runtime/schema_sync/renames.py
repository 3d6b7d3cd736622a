"""Renames across revisions, read from the plans the revisions stored.

A revision's plan keeps each rename step as ``{"rename": {"object", "field", "from", "to"}}``
(``field`` is None for an object; ``object`` is the object's name at that step, which for a
column rename is already the object's new name, since objects are renamed first). From
them we can follow a name forward (where did the object a deleted field belonged to go?)
and backward (what did today's objects and fields used to be called, for revert).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from rapport.metadata.model import Bundle
from rapport.metadata.revisions import Revision


@dataclass(frozen=True)
class Rename:
    object: str  # the object's name at the time of the step
    field: str | None  # None: the object itself was renamed
    old: str
    new: str


def renames_in(revisions: Iterable[Revision]) -> Iterator[Rename]:
    """Every rename of ``revisions``, in the order they were applied."""
    for revision in revisions:
        for step in revision.plan:
            rename: dict[str, Any] | None = step.get("rename")
            if rename:
                yield Rename(rename["object"], rename.get("field"), rename["from"], rename["to"])


def follow(object_name: str, field_name: str | None, renames: Iterable[Rename]) -> tuple[str, str | None]:
    """The names an object (and one of its fields) have after ``renames``, oldest first."""
    for rename in renames:
        if rename.field is None and rename.old == object_name:
            object_name = rename.new
        elif rename.field is not None and rename.object == object_name and rename.old == field_name:
            field_name = rename.new
    return object_name, field_name


def with_inverse_renames(target: Bundle, renames: list[Rename]) -> Bundle:
    """``target`` (an earlier revision's bundle) marked with ``renamed_from`` hints that undo
    ``renames`` (everything renamed since, oldest first), so reverting keeps the data."""
    # Walk back in time from today's names. ``objects`` maps today's object name to its name
    # at the point reached; ``fields`` maps (today's object, today's field) likewise.
    objects: dict[str, str] = {}
    fields: dict[tuple[str, str], str] = {}

    def today(then: str) -> str:
        return next((now for now, old in objects.items() if old == then), then)

    for rename in reversed(renames):
        if rename.field is None:
            objects[today(rename.new)] = rename.old
            continue
        owner = today(rename.object)
        current = next((f for (o, f), old in fields.items() if o == owner and old == rename.new), rename.new)
        fields[(owner, current)] = rename.old

    marked = []
    for obj in target.objects:
        now = today(obj.name)
        marked_fields = []
        for f in obj.fields:
            field_now = next((c for (o, c), old in fields.items() if o == now and old == f.name), f.name)
            marked_fields.append(replace(f, renamed_from=field_now if field_now != f.name else None))
        marked.append(replace(obj, fields=tuple(marked_fields), renamed_from=now if now != obj.name else None))
    return replace(target, objects=tuple(marked))
