"""One user's access in one request: their compiled grants, and who they are for sharing.

The record service and the query engine ask an :class:`Access` whether an operation is
allowed (``require``), which fields the user sees and may write, and which records they
may see and edit (as SQL, so a list never loads a row the user may not see).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from rapport.metadata.model import Sharing
from rapport.platform.errors import Forbidden
from rapport.runtime.compiled import CompiledObject, CompiledOrg
from rapport.runtime.permissions.grants import UNRESTRICTED, FieldAccess, Grants, ObjectGrant

_VERBS = {"read": "read", "create": "create", "edit": "edit", "delete": "delete"}


@dataclass(frozen=True)
class Access:
    grants: Grants
    user_id: str

    @property
    def restricted(self) -> bool:
        return not self.grants.unrestricted

    def on(self, object_name: str) -> ObjectGrant:
        return self.grants.on(object_name)

    def require(self, object_name: str, permission: str) -> ObjectGrant:
        """The object's grant, or ``permissions.object_access`` (403) if ``permission`` is missing."""
        grant = self.on(object_name)
        if not grant.allows(permission):
            raise Forbidden(f"you may not {_VERBS.get(permission, permission)} records of object "
                            f"'{object_name}': your profile and permission sets do not grant '{permission}' on it",
                            code="permissions.object_access")
        return grant

    def require_system(self, permission: str) -> None:
        if not self.grants.has(permission):
            raise Forbidden(f"this needs the system permission '{permission}', which your profile and "
                            "permission sets do not grant", code="permissions.system_permission")

    def readable_fields(self, obj: CompiledObject) -> list[str]:
        grant = self.on(obj.name)
        return [name for name in obj.fields if grant.can_read_field(name)]

    def field_access(self, obj: CompiledObject, name: str) -> FieldAccess:
        return self.on(obj.name).field_access(name)

    def strip_hidden(self, obj: CompiledObject, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` without the fields this user may not read."""
        if not self.restricted:
            return record
        grant = self.on(obj.name)
        return {k: v for k, v in record.items() if grant.can_read_field(k)}

    # -- record sharing ----------------------------------------------------------------
    def visible(self, model: CompiledOrg, obj: CompiledObject, table: sa.FromClause) -> sa.ColumnElement[bool] | None:
        """Which rows of ``table`` (``obj``'s table or an alias) this user may see; ``None``: all."""
        return self._share(model, obj, table, "view_all", (Sharing.PUBLIC_READ, Sharing.PUBLIC_READ_WRITE))

    def editable(self, model: CompiledOrg, obj: CompiledObject,
                 table: sa.FromClause) -> sa.ColumnElement[bool] | None:
        """Which rows this user may edit and delete (given the object permission); ``None``: all."""
        return self._share(model, obj, table, "modify_all", (Sharing.PUBLIC_READ_WRITE,))

    def _share(self, model: CompiledOrg, obj: CompiledObject, table: sa.FromClause, override: str,
               open_to_all: tuple[Sharing, ...], depth: int = 0) -> sa.ColumnElement[bool] | None:
        if not self.restricted or self.on(obj.name).allows(override):
            return None
        master = next((f for f in obj.references if f.type.controls_sharing), None)
        if master is not None and depth < 5:  # a detail record is shared as its master is
            parent = model.objects[master.defn.target or ""]
            alias = parent.table.alias()
            inner = self._share(model, parent, alias, override, open_to_all, depth + 1)
            if inner is None:
                return None
            return sa.exists().where(alias.c.id == table.c[master.name], inner)
        if obj.defn.sharing in open_to_all:
            return None
        return table.c.owner == self.user_id


def unrestricted(user_id: str) -> Access:
    return Access(UNRESTRICTED, user_id)
