"""The system fields every record has, typed as the field types they behave like."""

from __future__ import annotations

from rapport.metadata.model import FieldDef

SYSTEM_FIELDS = ("id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version")
#: system fields typed as the field types they behave like, for queries, formulas and serialisation
SYSTEM_FIELD_DEFS: dict[str, FieldDef] = {
    "id": FieldDef("id", "text", "Record ID", max_length=36),
    "owner": FieldDef("owner", "text", "Owner"),
    "created_at": FieldDef("created_at", "datetime", "Created at"),
    "created_by": FieldDef("created_by", "text", "Created by"),
    "updated_at": FieldDef("updated_at", "datetime", "Updated at"),
    "updated_by": FieldDef("updated_by", "text", "Updated by"),
    "version": FieldDef("version", "integer", "Version"),
    "is_deleted": FieldDef("is_deleted", "boolean", "Deleted"),
}
