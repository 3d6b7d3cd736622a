"""Step 2 and 5 of the pipeline: input coercion and system validation, collected per record.

Every problem names its field and object and points at it (``/amount``, or ``/3/amount``
in a batch), and all problems of all records come back together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.platform.errors import ProblemCollector
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES, FieldValueError
from rapport.runtime.permissions import Access, FieldAccess, ObjectGrant

WRITABLE_SYSTEM_FIELDS = frozenset({"owner"})
IGNORED_INPUT = frozenset({"id", "version"})


def coerce_input(obj: CompiledObject, values: Mapping[str, Any], errors: ProblemCollector,
                 at: str, grant: ObjectGrant | None = None) -> dict[str, Any]:
    """Coerce the caller's values through the field-type registry; unknown keys are errors.

    With the caller's ``grant``, a field they may not read is unknown (and not listed) and
    a field they may only read is refused as read-only.
    """
    if not isinstance(values, Mapping):
        errors.add(at or "/", "records.not_an_object",
                   f"a '{obj.name}' record must be a JSON object of field values, got {type(values).__name__}")
        return {}
    out: dict[str, Any] = {}
    for name, value in values.items():
        compiled = obj.fields.get(name)
        access = FieldAccess.EDIT if grant is None or compiled is None else grant.field_access(name)
        if access is FieldAccess.HIDDEN:
            compiled = None
        if compiled is None:
            if name in WRITABLE_SYSTEM_FIELDS:
                if not isinstance(value, str) or not value:
                    errors.add(f"{at}/{name}", "records.wrong_type", f"field '{name}' on object '{obj.name}': "
                               "expected the id of a user")
                else:  # as its column takes it: text of at most 255 characters, no NUL
                    system = SYSTEM_FIELD_DEFS[name]
                    try:
                        out[name] = FIELD_TYPES[system.type].coerce(value, system)
                    except FieldValueError as error:
                        errors.add(f"{at}/{name}", error.code, f"field '{name}' on object '{obj.name}': "
                                   f"{error.message}")
            elif name in IGNORED_INPUT:
                continue
            elif name in SYSTEM_FIELDS or name == "is_deleted":
                errors.add(f"{at}/{name}", "records.read_only",
                           f"field '{name}' on object '{obj.name}' is set by the system and cannot be written")
            else:
                known = ", ".join(sorted(n for n in obj.fields if grant is None or grant.can_read_field(n))) or "none"
                errors.add(f"{at}/{name}", "records.unknown_field",
                           f"object '{obj.name}' has no field {name!r} (fields: {known})")
            continue
        if not compiled.type.writable:
            errors.add(f"{at}/{name}", "records.read_only",
                       f"field '{name}' on object '{obj.name}' is computed ({compiled.defn.type}) "
                       "and cannot be written")
            continue
        if access is FieldAccess.READ:
            errors.add(f"{at}/{name}", "permissions.field_read_only",
                       f"field '{name}' on object '{obj.name}' is read-only for you: your profile and "
                       "permission sets let you read it, not edit it")
            continue
        try:
            out[name] = compiled.type.coerce(value, compiled.defn)
        except FieldValueError as error:
            errors.add(f"{at}/{name}", error.code, f"field '{name}' on object '{obj.name}': {error.message}")
    return out


def check_required(obj: CompiledObject, record: Mapping[str, Any], errors: ProblemCollector, at: str,
                   refused: set[str]) -> None:
    """Required fields have a value; a field whose given value was ``refused`` (its pointer)
    is not reported twice."""
    for compiled in obj.required:
        if compiled.type.is_blank(record.get(compiled.name)) and f"{at}/{compiled.name}" not in refused:
            errors.add(f"{at}/{compiled.name}", "records.required",
                       f"field '{compiled.name}' on object '{obj.name}' is required")


def check_unique(conn: Connection, obj: CompiledObject, records: list[tuple[str, dict[str, Any], str | None]],
                 errors: ProblemCollector) -> None:
    """Unique fields: no clash within the batch, nor with other stored records.

    ``records`` holds (pointer, values, own id for updates) for the values being written.
    """
    for compiled in obj.unique:
        name = compiled.name
        seen: dict[Any, str] = {}
        wanted: dict[Any, list[tuple[str, str | None]]] = defaultdict(list)
        for at, values, own_id in records:
            if name not in values or values[name] is None:
                continue
            value = values[name]
            if value in seen:
                errors.add(f"{at}/{name}", "records.duplicate_value",
                           f"field '{name}' on object '{obj.name}' must be unique: {value!r} is also given "
                           f"at {seen[value] or '/'}")
                continue
            seen[value] = at
            wanted[value].append((at, own_id))
        if not wanted:
            continue
        column = obj.table.c[name]
        rows = conn.execute(sa.select(obj.table.c.id, column).where(column.in_(list(wanted)))).all()
        for other_id, value in rows:
            for at, own_id in wanted.get(value, ()):
                if own_id != other_id:
                    errors.add(f"{at}/{name}", "records.duplicate_value",
                               f"field '{name}' on object '{obj.name}' must be unique: record {other_id} "
                               f"already has {value!r}")


def check_references(conn: Connection, model: CompiledOrg, obj: CompiledObject,
                     records: Iterable[tuple[str, dict[str, Any]]], errors: ProblemCollector,
                     access: Access | None = None) -> None:
    """Lookup targets exist (and are not soft-deleted); on PostgreSQL they stay locked until commit.

    With the caller's ``access``, a target must be a record they may see, and a master one they
    may edit (its detail records are shared as it is); any other is reported as not found.
    """
    records = list(records)
    for compiled in obj.references:
        name = compiled.name
        wanted: dict[str, list[str]] = defaultdict(list)
        for at, values in records:
            value = values.get(name)
            if value is not None:
                wanted[value].append(at)
        if not wanted:
            continue
        target = model.objects.get(compiled.defn.target or "")
        found: set[str] = set()
        # a caller who may not read the target object may point at none of its records
        if target is not None and (access is None or access.on(target.name).read):
            query = sa.select(target.table.c.id).where(target.table.c.id.in_(list(wanted)))
            if "is_deleted" in target.table.c:
                query = query.where(target.table.c.is_deleted == sa.false())
            if access is not None:
                shared = access.editable if compiled.type.controls_sharing else access.visible
                condition = shared(model, target, target.table)
                if condition is not None:
                    query = query.where(condition)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(read=True, key_share=True)
            found = set(conn.execute(query).scalars())
        for value, places in wanted.items():
            if value not in found:
                for at in places:
                    errors.add(f"{at}/{name}", "records.lookup_not_found",
                               f"field '{name}' on object '{obj.name}': no '{compiled.defn.target}' record "
                               f"has id {value!r}")
