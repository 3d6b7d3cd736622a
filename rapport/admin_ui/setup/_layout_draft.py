"""A layout being edited: read from the metadata or from the editor's form, changed by the
editor's buttons, and written back as the layout's metadata.

The form carries the draft as numbered inputs: ``s{i}_label``, ``s{i}_columns`` and, per
field of section ``i``, ``s{i}_f{k}`` (the field's name) with ``s{i}_f{k}_required`` and
``s{i}_f{k}_readonly``; per related list ``r{j}_ref`` (``child.field``) and ``r{j}_columns``
(the child's field names, comma-separated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapport.admin_ui.setup._component_editing import Errors, add_error, move, rows
from rapport.runtime.compiled import CompiledObject, CompiledOrg

NEW_SECTION = "Details"


@dataclass
class Item:
    field: str
    required: bool = False
    readonly: bool = False


@dataclass
class Section:
    label: str
    columns: int = 2
    items: list[Item] = field(default_factory=list)


@dataclass
class Related:
    object: str
    field: str
    columns: str = ""

    @property
    def ref(self) -> str:
        return f"{self.object}.{self.field}"

    def column_names(self) -> list[str]:
        return [c.strip() for c in self.columns.split(",") if c.strip()]


@dataclass
class LayoutDraft:
    name: str
    sections: list[Section] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)

    # -- reading and writing ---------------------------------------------------------
    @classmethod
    def new(cls, obj: CompiledObject) -> LayoutDraft:
        """A new layout's start: one section with every field of the object."""
        return cls("", [Section(NEW_SECTION, 2, [Item(name) for name in obj.defn.field_names()])])

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> LayoutDraft:
        sections = []
        for section in data.get("sections", []):
            items = [Item(i) if isinstance(i, str) else
                     Item(i["field"], bool(i.get("required")), bool(i.get("readonly")))
                     for i in section.get("fields", [])]
            sections.append(Section(section.get("label", ""), int(section.get("columns", 1)), items))
        related = [Related(r["object"], r["field"], ", ".join(r.get("columns", [])))
                   for r in data.get("related_lists", [])]
        return cls(data["name"], sections, related)

    @classmethod
    def from_form(cls, form: Any, name: str) -> LayoutDraft:
        sections = []
        for i in rows(form, "s{}_label"):
            prefix = f"s{i}_f"
            items = [Item(form[f"{prefix}{k}"], form.get(f"{prefix}{k}_required") == "yes",
                          form.get(f"{prefix}{k}_readonly") == "yes")
                     for k in rows(form, prefix + "{}")]
            columns = 2 if form.get(f"s{i}_columns") == "2" else 1
            sections.append(Section(form[f"s{i}_label"].strip(), columns, items))
        related = []
        for j in rows(form, "r{}_ref"):
            child, _, lookup = form[f"r{j}_ref"].partition(".")
            related.append(Related(child, lookup, form.get(f"r{j}_columns", "")))
        return cls(name, sections, related)

    def to_metadata(self, object_name: str) -> dict[str, Any]:
        return {
            "object": object_name,
            "name": self.name,
            "sections": [
                {"label": s.label, "columns": s.columns,
                 "fields": [i.field if not (i.required or i.readonly) else
                            {"field": i.field, **({"required": True} if i.required else {}),
                             **({"readonly": True} if i.readonly else {})} for i in s.items]}
                for s in self.sections
            ],
            "related_lists": [{"object": r.object, "field": r.field, "columns": r.column_names()}
                              for r in self.related],
        }

    def placed(self) -> set[str]:
        return {i.field for s in self.sections for i in s.items}

    # -- checks the form can make before the metadata loader ---------------------------
    def problems(self) -> Errors:
        errors: Errors = {}
        seen: dict[str, str] = {}
        for i, section in enumerate(self.sections):
            if not section.label:
                add_error(errors, f"s{i}_label", "Give the section a title.")
            for k, item in enumerate(section.items):
                if item.field in seen:
                    add_error(errors, f"s{i}_f{k}", f"'{item.field}' is already placed in section "
                                                    f"'{seen[item.field]}'; a field appears once on a layout.")
                seen.setdefault(item.field, section.label or f"{i + 1}")
        return errors


def edit(draft: LayoutDraft, verb: str, at: tuple[int, ...], form: Any, obj: CompiledObject,
         model: CompiledOrg) -> tuple[str | None, Errors]:
    """Apply the button ``verb`` (at section/field/related list indexes ``at``) to ``draft``.

    Returns the id of the control to focus next, and any problem with the request (shown at
    the control that caused it).
    """
    errors: Errors = {}
    sections, related = draft.sections, draft.related
    i = at[0] if at else -1
    k = at[1] if len(at) > 1 else -1
    if verb == "add_section":
        sections.append(Section(f"Section {len(sections) + 1}", 1))
        return f"s{len(sections) - 1}_label", errors
    if verb == "add_related":
        return _add_related(draft, form.get("add_related", ""), obj, model, errors), errors
    if verb in ("related_up", "related_down") and 0 <= i < len(related):
        return move(related, i, verb, "r", "related"), errors
    if verb == "remove_related" and 0 <= i < len(related):
        del related[i]
        return "add_related", errors
    if not 0 <= i < len(sections):
        return None, errors
    section = sections[i]
    if verb in ("section_up", "section_down"):
        return move(sections, i, verb, "s", "section"), errors
    if verb == "remove_section":
        del sections[i]
        return "add_section", errors
    if verb == "add_field":
        name = form.get(f"s{i}_add", "")
        if name not in obj.defn.field_names() or name in draft.placed():
            add_error(errors, f"s{i}_add", "Choose a field that is not on the layout yet.")
            return f"s{i}_add", errors
        section.items.append(Item(name))
        return f"s{i}_add", errors
    if not 0 <= k < len(section.items):
        return None, errors
    if verb in ("field_up", "field_down"):
        return move(section.items, k, verb, f"s{i}_f", "field"), errors
    if verb == "remove_field":
        del section.items[k]
        return f"s{i}_add", errors
    if verb == "move_field":
        target = form.get(f"s{i}_f{k}_to", "")
        if not target.isdigit() or not 0 <= int(target) < len(sections) or int(target) == i:
            add_error(errors, f"s{i}_f{k}", "Choose another section to move the field to.")
            return f"s{i}_f{k}_to", errors
        sections[int(target)].items.append(section.items.pop(k))
        return f"s{target}_add", errors
    return None, errors


def _add_related(draft: LayoutDraft, ref: str, obj: CompiledObject, model: CompiledOrg, errors: Errors) -> str:
    child_name, _, lookup = ref.partition(".")
    children = {(c, f.name) for c, f in obj.children}
    if (child_name, lookup) not in children or ref in {r.ref for r in draft.related}:
        add_error(errors, "add_related", "Choose a related object that is not listed yet.")
        return "add_related"
    child = model.objects[child_name]
    names = [n for n in child.defn.field_names() if n != lookup]
    first = child.defn.name_field
    columns = ([first] if first in names else []) + [n for n in names if n != first]
    draft.related.append(Related(child_name, lookup, ", ".join(columns[:3])))
    return f"r{len(draft.related) - 1}_columns"
