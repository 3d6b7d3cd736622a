"""What a profile plus permission sets grant, compiled once per revision.

A user's grants are the most that their profile and any of their permission sets give:
object permissions are OR-ed, field access is the highest. Implied permissions are added
(create, edit, delete and view_all imply read; delete implies edit; modify_all implies
every other), and the system permissions ``view_all_data`` / ``modify_all_data`` act as
view_all / modify_all on every object. The built-in profiles: ``admin`` (everything) and
``standard`` (create, read, edit, delete on every object, within record sharing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from rapport.metadata._permission_checks import BUILTIN_PROFILES
from rapport.metadata.model import Bundle, Component, ObjectDef

__all__ = [
    "BUILTIN_PROFILES", "SYSTEM_PERMISSIONS", "UNRESTRICTED", "FieldAccess", "Grants", "ObjectGrant", "compile_grants",
]

SYSTEM_PERMISSIONS = ("manage_metadata", "manage_users", "view_all_data", "modify_all_data")
OBJECT_PERMISSIONS = ("read", "create", "edit", "delete", "view_all", "modify_all")


class FieldAccess(IntEnum):
    HIDDEN = 0
    READ = 1
    EDIT = 2

    @classmethod
    def named(cls, name: str) -> FieldAccess:
        return cls[name.upper()]

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class ObjectGrant:
    """What a user may do with one object's records and fields."""

    object: str
    read: bool = False
    create: bool = False
    edit: bool = False
    delete: bool = False
    view_all: bool = False
    modify_all: bool = False
    #: every field of the object (system fields excepted: readable wherever the object is)
    fields: Mapping[str, FieldAccess] = field(default_factory=dict)
    #: access to a field not in ``fields``: the system fields (or, unrestricted, every field)
    unlisted: FieldAccess = FieldAccess.READ

    def allows(self, permission: str) -> bool:
        return bool(getattr(self, permission))

    def field_access(self, name: str) -> FieldAccess:
        if not self.read:
            return FieldAccess.HIDDEN
        return self.fields.get(name, self.unlisted)

    def can_read_field(self, name: str) -> bool:
        return self.field_access(name) >= FieldAccess.READ

    def to_dict(self) -> dict[str, Any]:
        return {p: self.allows(p) for p in OBJECT_PERMISSIONS}


@dataclass(frozen=True)
class Grants:
    """A profile plus permission sets, compiled against one revision's objects."""

    system_permissions: frozenset[str]
    objects: Mapping[str, ObjectGrant]
    #: the system actor: no check at all
    unrestricted: bool = False

    def on(self, object_name: str) -> ObjectGrant:
        if self.unrestricted:
            return ObjectGrant(object_name, read=True, create=True, edit=True, delete=True, view_all=True,
                               modify_all=True, unlisted=FieldAccess.EDIT)
        return self.objects.get(object_name) or ObjectGrant(object_name)

    def has(self, system_permission: str) -> bool:
        return self.unrestricted or system_permission in self.system_permissions


UNRESTRICTED = Grants(frozenset(SYSTEM_PERMISSIONS), {}, unrestricted=True)


def compile_grants(bundle: Bundle, profile: str, permission_sets: Sequence[str]) -> Grants:
    """The grants of a user with ``profile`` and ``permission_sets`` (unknown names grant nothing)."""
    sources = [*_profile(bundle, profile), *_permission_sets(bundle, permission_sets)]
    system = frozenset(p for source in sources for p in source.get("system_permissions", ()))
    objects = {obj.name: _object_grant(obj, sources, system) for obj in bundle.objects}
    return Grants(system, {name: grant for name, grant in objects.items() if grant.read})


def _profile(bundle: Bundle, name: str) -> list[Component | dict[str, Any]]:
    if name == "admin":
        return [{"system_permissions": list(SYSTEM_PERMISSIONS)}]
    if name == "standard":
        return [{"objects": [{"object": o.name, "read": True, "create": True, "edit": True, "delete": True}
                             for o in bundle.objects]}]
    return [p for p in bundle.profiles if p.name == name]


def _permission_sets(bundle: Bundle, names: Iterable[str]) -> list[Component]:
    wanted = set(names)
    return [p for p in bundle.permission_sets if p.name in wanted]


def _object_grant(obj: ObjectDef, sources: list[Component | dict[str, Any]], system: frozenset[str]) -> ObjectGrant:
    flags = dict.fromkeys(OBJECT_PERMISSIONS, False)
    fields = dict.fromkeys(obj.field_names(), FieldAccess.HIDDEN)
    if "modify_all_data" in system or "view_all_data" in system:
        flags["modify_all" if "modify_all_data" in system else "view_all"] = True
        # reading every record reads every field; only modify_all_data lets users edit them all
        everything = FieldAccess.EDIT if "modify_all_data" in system else FieldAccess.READ
        fields = dict.fromkeys(obj.field_names(), everything)
    for source in sources:
        for entry in source.get("objects", ()):
            if entry["object"] != obj.name:
                continue
            for permission in OBJECT_PERMISSIONS:
                flags[permission] |= bool(entry.get(permission, False))
            default = FieldAccess.named(entry.get("default_field_access", "edit"))
            listed = entry.get("fields", {})
            for name in fields:
                fields[name] = max(fields[name], FieldAccess.named(listed[name]) if name in listed else default)
    _imply(flags)
    if not flags["read"]:
        return ObjectGrant(obj.name)
    return ObjectGrant(obj.name, read=flags["read"], create=flags["create"], edit=flags["edit"],
                       delete=flags["delete"], view_all=flags["view_all"], modify_all=flags["modify_all"],
                       fields=fields)


def _imply(flags: dict[str, bool]) -> None:
    if flags["modify_all"]:
        flags.update(dict.fromkeys(OBJECT_PERMISSIONS, True))
    if flags["delete"]:
        flags["edit"] = True
    if flags["create"] or flags["edit"] or flags["view_all"]:
        flags["read"] = True
