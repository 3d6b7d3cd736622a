"""The editor form of a profile or permission set: the component's JSON ↔ a grid of checkboxes.

A profile and a permission set have one shape (``profile.json``): system permissions, and per
object the permissions read / create / edit / delete / view_all / modify_all with field-level
security (``fields``: a field → ``hidden`` / ``read`` / ``edit``; the rest get
``default_field_access``). :class:`GrantForm` holds that as the editor shows it — one row per
object of the org, each field with its access spelt out — and turns a posted form back into
the component. An object whose row did not change keeps its entry exactly as it was; a changed
row is written in the shortest form (only the permissions ticked, only the fields whose access
differs from the default); a row with nothing ticked and every field editable is left out
(an object not listed grants nothing).

The loader's problems (``/profiles/0/objects/1/fields/amount``) are placed at the control
they are about by :meth:`GrantForm.place`; the rules themselves are the loader's only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import ImmutableMultiDict

from rapport.admin_ui.setup._messages import sentence
from rapport.platform.errors import RapportError
from rapport.runtime.compiled import CompiledObject, CompiledOrg
from rapport.runtime.permissions import FieldAccess, Grants

Form = ImmutableMultiDict[str, str]
OBJECT_PERMISSIONS = ("read", "create", "edit", "delete", "view_all", "modify_all")
#: what the editor calls each field access
ACCESS_LABELS = {"edit": "Edit", "read": "Read only", "hidden": "Hidden"}
DEFAULT_ACCESS = FieldAccess.EDIT.word


@dataclass(frozen=True)
class Kind:
    """Profiles or permission sets: the bundle's key, what one is called, where its pages are."""

    key: str
    noun: str
    path: str

    def url(self, name: str) -> str:
        return f"{self.path}/{name}"


PROFILES = Kind("profiles", "profile", "/admin/profiles")
PERMISSION_SETS = Kind("permission_sets", "permission set", "/admin/permission_sets")


@dataclass
class FieldRow:
    name: str
    label: str
    access: str
    error: str | None = None


@dataclass
class ObjectRow:
    """One object's permissions, its fields' access and what is wrong with them."""

    name: str
    label: str
    flags: dict[str, bool]
    default_access: str
    fields: list[FieldRow]
    errors: list[str] = field(default_factory=list)
    default_error: str | None = None

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.default_error or any(f.error for f in self.fields))

    @property
    def restricted(self) -> bool:
        """Whether a field's access is other than edit (the editor opens its field table)."""
        return self.default_access != DEFAULT_ACCESS or any(f.access != DEFAULT_ACCESS for f in self.fields)

    def state(self) -> tuple[Any, ...]:
        return (tuple(self.flags.items()), self.default_access, tuple((f.name, f.access) for f in self.fields))

    def entry(self) -> dict[str, Any] | None:
        """The object's entry in the component, or ``None`` when it grants nothing."""
        entry: dict[str, Any] = {"object": self.name, **{p: True for p in OBJECT_PERMISSIONS if self.flags[p]}}
        if self.default_access != DEFAULT_ACCESS:
            entry["default_field_access"] = self.default_access
        listed = {f.name: f.access for f in self.fields if f.access != self.default_access}
        if listed:
            entry["fields"] = listed
        return entry if len(entry) > 1 else None


@dataclass
class GrantForm:
    kind: Kind
    name: str
    label: str = ""
    description: str = ""
    system_permissions: list[str] = field(default_factory=list)
    objects: list[ObjectRow] = field(default_factory=list)
    #: errors at the form's own controls: name, label, description, system_permissions
    errors: dict[str, str] = field(default_factory=dict)
    #: errors that belong to no control of this form
    problems: list[str] = field(default_factory=list)

    # -- making one --------------------------------------------------------------------
    @classmethod
    def of_component(cls, kind: Kind, model: CompiledOrg, component: Mapping[str, Any]) -> GrantForm:
        entries = {e.get("object"): e for e in component.get("objects", ())}
        return cls(kind, component.get("name", ""), component.get("label", ""), component.get("description", ""),
                   list(component.get("system_permissions", ())),
                   [_row_of_entry(obj, entries.get(obj.name)) for obj in model.objects.values()])

    @classmethod
    def of_grants(cls, kind: Kind, model: CompiledOrg, name: str, grants: Grants) -> GrantForm:
        """A built-in profile as the permission engine compiles it (shown, never saved)."""
        rows = []
        for obj in model.objects.values():
            grant = grants.on(obj.name)
            rows.append(ObjectRow(obj.name, obj.defn.plural_label, {p: grant.allows(p) for p in OBJECT_PERMISSIONS},
                                  DEFAULT_ACCESS, [FieldRow(f.name, f.label, grant.field_access(f.name).word)
                                                   for f in obj.defn.fields]))
        return cls(kind, name, name.capitalize(), "", sorted(grants.system_permissions), rows)

    @classmethod
    def posted(cls, kind: Kind, model: CompiledOrg, form: Form, name: str) -> GrantForm:
        rows = []
        for obj in model.objects.values():
            prefix = f"o.{obj.name}."
            default = form.get(prefix + "default", DEFAULT_ACCESS)
            rows.append(ObjectRow(obj.name, obj.defn.plural_label,
                                  {p: form.get(prefix + p) == "yes" for p in OBJECT_PERMISSIONS}, default,
                                  [FieldRow(f.name, f.label, form.get(f"f.{obj.name}.{f.name}", default))
                                   for f in obj.defn.fields]))
        return cls(kind, name, form.get("label", ""), form.get("description", ""),
                   list(dict.fromkeys(form.getlist("system_permissions"))), rows)

    # -- back to the component ---------------------------------------------------------
    def component(self, original: Mapping[str, Any] | None, model: CompiledOrg) -> tuple[dict[str, Any], list[str]]:
        """The component this form describes (built on ``original``), and the object of each
        of its entries, in order (to place the loader's problems)."""
        data: dict[str, Any] = {**(original or {}), "name": self.name}
        for key, value in (("label", self.label.strip()), ("description", self.description.strip()),
                           ("system_permissions", self.system_permissions)):
            if value:
                data[key] = value
            else:
                data.pop(key, None)
        was = GrantForm.of_component(self.kind, model, original or {})
        before = {row.name: row for row in was.objects}
        rows = {row.name: row for row in self.objects}
        entries: list[dict[str, Any]] = []
        placed: list[str] = []
        for entry in (original or {}).get("objects", ()):
            name = entry.get("object")
            row = rows.pop(name, None)
            if row is None:  # not an object of the org (the loader says so), or listed twice
                entries.append(entry)
            else:
                kept = entry if row.state() == before[name].state() else row.entry()
                if kept is None:
                    continue
                entries.append(kept)
            placed.append(name)
        for row in rows.values():
            added = row.entry()
            if added is not None:
                entries.append(added)
                placed.append(row.name)
        if entries:
            data["objects"] = entries
        else:
            data.pop("objects", None)
        return data, placed

    # -- errors --------------------------------------------------------------------------
    def place(self, error: RapportError, at: str, entry_objects: list[str]) -> None:
        """Show ``error``'s problems at their controls: ``at`` is this component's pointer
        (``/profiles/2``), ``entry_objects`` the object of each of its entries."""
        if not error.problems:
            self.problems.append(sentence(error.message))
        for problem in error.problems:
            message = sentence(problem.message)
            if not problem.pointer.startswith(at + "/") or not self._place(problem.pointer[len(at) + 1:].split("/"),
                                                                           message, entry_objects):
                self.problems.append(message)

    def _place(self, parts: list[str], message: str, entry_objects: list[str]) -> bool:
        head = parts[0]
        if head in ("name", "label", "description", "system_permissions"):
            self.errors.setdefault(head, message)
            return True
        if head != "objects" or len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(entry_objects):
            return False
        row = next((r for r in self.objects if r.name == entry_objects[int(parts[1])]), None)
        if row is None:
            return False
        rest = [_unescape(p) for p in parts[2:]]
        target = next((f for f in row.fields if rest[:1] == ["fields"] and rest[1:2] == [f.name]), None)
        if target is not None:
            target.error = target.error or message
        elif rest[:1] == ["default_field_access"]:
            row.default_error = row.default_error or message
        else:
            row.errors.append(message)
        return True

    def error_list(self) -> list[tuple[str, str]]:
        """Every error with the id of the control it is at (for the summary above the form)."""
        found = [(f"grant-{key.replace('_', '-')}", message) for key, message in self.errors.items()]
        for row in self.objects:
            found += [(f"o-{row.name}-read", message) for message in row.errors]
            if row.default_error:
                found.append((f"o-{row.name}-default", row.default_error))
            found += [(f"f-{row.name}-{f.name}", f.error) for f in row.fields if f.error]
        return found


def _row_of_entry(obj: CompiledObject, entry: Mapping[str, Any] | None) -> ObjectRow:
    entry = entry or {}
    default = entry.get("default_field_access", DEFAULT_ACCESS)
    listed = entry.get("fields", {})
    return ObjectRow(obj.name, obj.defn.plural_label, {p: bool(entry.get(p)) for p in OBJECT_PERMISSIONS}, default,
                     [FieldRow(f.name, f.label, listed.get(f.name, default)) for f in obj.defn.fields])


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")
