"""What the layout, list view and validation rule editors share.

Each editor edits one component of an object (``layouts``, ``list_views`` or
``validation_rules`` of the bundle) as a draft carried in its form: every button posts the
whole draft with ``action=<verb>:<index>:…``, the page answers the draft changed and
re-rendered, and nothing changes until "Preview change". Saving puts the component into the
org's whole bundle, plans it first (a dry run) and shows every problem the metadata loader
reports at the part of the editor its JSON pointer names (``/layouts/3/sections/1/fields/2``
→ that field's row); only a valid bundle goes on to the plan preview.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import current_bundle, propose
from rapport.platform.errors import NotFound, RapportError
from rapport.runtime.compiled import CompiledObject

ADMIN = "manage_metadata"
#: the name in an editor's address that opens an empty editor for a new component
NEW = "new"
NOUNS = {"layouts": "layout", "list_views": "list view", "validation_rules": "validation rule"}
#: more rows than any real editor needs: a forged form cannot make the page loop for long
MAX_ROWS = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    """One problem shown in an editor: what is wrong, and (for a formula) where, with a caret."""

    text: str
    hint: str | None = None


#: editor part (``"name"``, ``"s1_f2"``, …) → its problems; ``""`` is the whole component
Errors = dict[str, list[Message]]
#: the editor part a pointer inside the component names (``"/sections/1/label"`` → ``"s1_label"``)
PartOf = Callable[[str], str]


def add_error(errors: Errors, part: str, text: str, hint: str | None = None) -> None:
    errors.setdefault(part, []).append(Message(text, hint))


# -- addresses ---------------------------------------------------------------------------

def object_url(object_name: str) -> str:
    return f"/admin/objects/{quote(object_name)}"


def editor_url(object_name: str, group: str, name: str) -> str:
    return f"{object_url(object_name)}/{group}/{quote(name)}"


# -- finding what is edited --------------------------------------------------------------

def edited_object(request: Request) -> CompiledObject:
    """The object of the editor's address (404 for one the org does not have)."""
    return request.state.org.model().object(request.path_params["object"])


def find(bundle: dict[str, Any], group: str, object_name: str, name: str) -> dict[str, Any] | None:
    return next((c for c in bundle.get(group, []) if c.get("object") == object_name and c.get("name") == name),
                None)


def existing(request: Request, group: str, object_name: str, name: str) -> dict[str, Any]:
    """The stored component (404 when the object has none of that name)."""
    found = find(current_bundle(request), group, object_name, name)
    if found is None:
        raise NotFound(f"object '{object_name}' has no {NOUNS[group]} {name!r}", code="metadata.not_found")
    return found


def action(request: Request) -> tuple[str, tuple[int, ...]]:
    """The button pressed: ``"field_up:0:2"`` → ``("field_up", (0, 2))``; ``("", ())`` for none."""
    verb, *numbers = request.state.form.get("action", "").split(":")
    try:
        return verb, tuple(int(n) for n in numbers)
    except ValueError:
        return "", ()


def move(items: list[T], index: int, verb: str, prefix: str, noun: str) -> str | None:
    """Move ``items[index]`` one place up (``verb`` ends in ``_up``) or down.

    Returns the id of the moved item's button to focus next (``{prefix}{index}_{noun}_up``):
    the same direction's, or the other one's once the item reached the end, where the first
    is not shown; None if the item cannot move.
    """
    up = verb.endswith("_up")
    target = index + (-1 if up else 1)
    if not (0 <= index < len(items) and 0 <= target < len(items)):
        return None
    items[index], items[target] = items[target], items[index]
    at_end = target == 0 if up else target == len(items) - 1
    direction = ("down" if up else "up") if at_end else ("up" if up else "down")
    return f"{prefix}{target}_{noun}_{direction}"


def rows(form: Any, pattern: str) -> range:
    """The indexes 0, 1, … for which the form has ``pattern.format(index)`` (an editor's
    repeated rows: ``rows(form, "s{}_label")`` counts the sections)."""
    count = 0
    while count < MAX_ROWS and pattern.format(count) in form:
        count += 1
    return range(count)


def check_name(errors: Errors, group: str, name: str) -> None:
    """A new component's name: given, and not the word that opens a new editor."""
    if not name:
        add_error(errors, "name", f"Give the {NOUNS[group]} a name (lower case letters, digits and _).")
    elif name == NEW:
        add_error(errors, "name", f"'{NEW}' cannot name a {NOUNS[group]}: it opens the editor for a new one.")


# -- saving through the plan preview -----------------------------------------------------

def save(request: Request, group: str, original: str | None, component: dict[str, Any], part_of: PartOf,
         errors: Errors) -> Response | Errors:
    """Propose the bundle with ``component`` in place of ``original`` (or added, when None).

    Returns the plan preview, or the problems to show in the editor: ``errors`` (found in the
    form) if any, else those of planning the bundle, mapped to the editor's parts.
    """
    if errors:
        return errors
    object_name, name = component["object"], component["name"]
    bundle = current_bundle(request)
    items: list[dict[str, Any]] = bundle.setdefault(group, [])
    position = next((i for i, c in enumerate(items)
                     if c.get("object") == object_name and c.get("name") == original), None) \
        if original is not None else None
    if position is None:
        items.append(component)
        position = len(items) - 1
    else:
        items[position] = component
    try:
        request.state.org.metadata.plan(bundle)
    except RapportError as error:
        return problems_of(error, f"/{group}/{position}", part_of)
    noun = NOUNS[group]
    summary = f"Add {noun} '{name}' to {object_name}" if original is None \
        else f"Change {noun} '{name}' of {object_name}"
    return propose(request, bundle, summary=summary, back=object_url(object_name))


def propose_delete(request: Request, group: str) -> Response:
    """The plan preview of deleting the component of the address (the preview confirms it)."""
    object_name, name = request.path_params["object"], request.path_params["name"]
    existing(request, group, object_name, name)
    bundle = current_bundle(request)
    bundle[group] = [c for c in bundle.get(group, []) if not (c.get("object") == object_name and c.get("name") == name)]
    return propose(request, bundle, summary=f"Delete {NOUNS[group]} '{name}' of {object_name}",
                   back=object_url(object_name))


def problems_of(error: RapportError, at: str, part_of: PartOf) -> Errors:
    """``error``'s problems by editor part: those pointing inside the component at ``at`` at
    the part ``part_of`` names, any other at the whole component."""
    errors: Errors = {}
    for problem in error.problems:
        pointer = problem.pointer
        inside = pointer == at or pointer.startswith(at + "/")
        part = part_of(pointer[len(at):]) if inside else ""
        add_error(errors, part, problem.message, problem.hint)
    if not errors:
        add_error(errors, "", error.message)
    return errors

