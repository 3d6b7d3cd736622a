"""An org's metadata: validate, plan, apply, revisions, diff, revert, restore and purge."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from rapport.metadata import Bundle
from rapport.metadata.diff import Change, diff
from rapport.metadata.revisions import Revision, current_number, get_revision, list_revisions
from rapport.platform.errors import Conflict, InvalidRequest, NotFound
from rapport.platform.sqltypes import utcnow
from rapport.platform.tables import trash
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.loading import load
from rapport.runtime.schema_sync.aside import aside_values_table
from rapport.runtime.schema_sync.planner import Plan
from rapport.runtime.schema_sync.runner import Applied, apply_bundle, current_bundle, preview
from rapport.runtime.schema_sync.steps import Progress

if TYPE_CHECKING:
    from rapport.runtime.org import OrgRuntime


class MetadataService:
    def __init__(self, runtime: OrgRuntime) -> None:
        self.runtime = runtime
        self.location = runtime.location
        self.settings = runtime.settings

    # -- reading -----------------------------------------------------------------------
    def bundle(self) -> Bundle:
        with self.location.read() as conn:
            return current_bundle(conn, load)

    def revisions(self) -> list[Revision]:
        with self.location.read() as conn:
            return list_revisions(conn)

    def revision(self, number: int) -> Revision:
        with self.location.read() as conn:
            return get_revision(conn, number)

    def diff(self, from_number: int, to_number: int) -> list[Change]:
        """The changes from one revision to another (0 is the empty org)."""
        with self.location.read() as conn:
            old = load(get_revision(conn, from_number).bundle) if from_number else Bundle()
            new = load(get_revision(conn, to_number).bundle) if to_number else Bundle()
        return diff(old, new)

    # -- changing ----------------------------------------------------------------------
    def plan(self, data: Any) -> Plan:
        """What applying ``data`` would do, from a dry run that is always rolled back."""
        bundle = load(data)
        with self.location.engine.connect() as conn:
            transaction = conn.begin()
            try:
                return preview(conn, self.location.schema, self.settings, load, bundle)
            finally:
                transaction.rollback()

    def apply(self, data: Any, *, author: str, message: str = "", confirm_data_loss: bool = False,
              progress: Progress | None = None) -> Applied:
        bundle = load(data)
        with self.location.begin() as conn:
            return apply_bundle(conn, self.location.schema, self.settings, load, bundle, author=author,
                                message=message, confirm_data_loss=confirm_data_loss, progress=progress)

    def revert(self, number: int, *, author: str, confirm_data_loss: bool = False) -> Applied:
        """Apply revision ``number``'s bundle again, through the same planner.

        Renames made since then are undone as renames (the data stays), not as a delete and
        an add.
        """
        with self.location.read() as conn:
            target = load(get_revision(conn, number).bundle)
            later = [get_revision(conn, n) for n in range(current_number(conn), number, -1)]
        bundle = _with_inverse_renames(target, later)
        return self.apply(bundle, author=author, message=f"revert to revision {number}",
                          confirm_data_loss=confirm_data_loss)

    # -- moved-aside data --------------------------------------------------------------
    def trash(self) -> list[dict[str, Any]]:
        with self.location.read() as conn:
            rows = conn.execute(sa.select(trash).order_by(trash.c.id)).mappings()
            return [_trash_dict(row) for row in rows]

    def restore(self, trash_id: int, *, author: str) -> Applied:
        """Bring moved-aside data back: the definition is re-applied, then the values copied."""
        schema = self.location.schema
        with self.location.begin() as conn:
            entry = _trash_entry(conn, trash_id)
            current = current_bundle(conn, load)
            bundle = _bundle_with(current, entry)
            applied = apply_bundle(conn, schema, self.settings, load, bundle, author=author,
                                   message=f"restore moved-aside data #{trash_id}", confirm_data_loss=False)
            if entry["kind"] == "object":
                _restore_object(conn, schema, bundle, entry)
            else:
                _restore_values(conn, schema, bundle, entry)
            conn.execute(trash.update().where(trash.c.id == trash_id).values(restored_at=utcnow()))
            conn.execute(sa.schema.DropTable(sa.table(entry["aside_table"], schema=schema)))
            return applied

    def purge(self, trash_id: int | None = None, *, force: bool = False) -> list[int]:
        """Drop moved-aside data whose retention has passed (or one entry early, with ``force``)."""
        now = utcnow()
        purged = []
        with self.location.begin() as conn:
            query = sa.select(trash).where(trash.c.restored_at.is_(None))
            if trash_id is not None:
                entry = _trash_entry(conn, trash_id)
                if entry["expires_at"] > now and not force:
                    until = f"{entry['expires_at']:%Y-%m-%d %H:%M} UTC"
                    raise Conflict(f"moved-aside data #{trash_id} is kept until {until}; "
                                   "purge it earlier only with force", code="schema.retention_not_over")
                query = query.where(trash.c.id == trash_id)
            else:
                query = query.where(trash.c.expires_at <= now)
            for row in conn.execute(query).mappings().all():
                conn.execute(sa.schema.DropTable(sa.table(row["aside_table"], schema=self.location.schema),
                                                 if_exists=True))
                conn.execute(trash.delete().where(trash.c.id == row["id"]))
                purged.append(row["id"])
        return purged


def _trash_dict(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "object": row["object"], "field": row["field"],
            "rows": row["row_count"], "revision": row["revision"], "created_at": row["created_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat(),
            "restored_at": row["restored_at"].isoformat() if row["restored_at"] else None}


def _trash_entry(conn: Any, trash_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(trash).where(trash.c.id == trash_id)).mappings().first()
    if row is None:
        raise NotFound(f"there is no moved-aside data #{trash_id} (it may have been purged)",
                       code="schema.trash_not_found")
    if row["restored_at"] is not None:
        raise Conflict(f"moved-aside data #{trash_id} was already restored", code="schema.already_restored")
    return dict(row)


def _bundle_with(current: Bundle, entry: dict[str, Any]) -> Bundle:
    """The current bundle plus the moved-aside object, or with the moved-aside field definition."""
    definition = entry["definition"]
    data = current.to_dict()
    objects = data.setdefault("objects", [])
    if entry["kind"] == "object":
        if current.object(entry["object"]) is not None:
            raise Conflict(f"object '{entry['object']}' exists again; rename or delete it before restoring",
                           code="schema.restore_conflict")
        objects.append(definition)
        return load(data)
    obj = next((o for o in objects if o["name"] == entry["object"]), None)
    if obj is None:
        raise Conflict(f"object '{entry['object']}' no longer exists; restore it first",
                       code="schema.restore_conflict")
    obj["fields"] = [f for f in obj["fields"] if f["name"] != entry["field"]] + [definition]
    return load(data)


def _restore_object(conn: Any, schema: str | None, bundle: Bundle, entry: dict[str, Any]) -> None:
    from rapport.runtime.compiled import build_table

    aside = sa.Table(entry["aside_table"], sa.MetaData(), schema=schema, autoload_with=conn)
    live = build_table(bundle.object(entry["object"]), sa.MetaData(schema=schema))  # type: ignore[arg-type]
    shared = [c.name for c in live.columns if c.name in aside.c]
    conn.execute(live.insert().from_select(shared, sa.select(*(aside.c[n] for n in shared))))


def _restore_values(conn: Any, schema: str | None, bundle: Bundle, entry: dict[str, Any]) -> None:
    obj = bundle.object(entry["object"])
    defn = obj.field(entry["field"]) if obj else None
    if obj is None or defn is None:
        raise InvalidRequest("restore target vanished", code="schema.restore_conflict")
    field_type = FIELD_TYPES[defn.type]
    aside = aside_values_table(entry["aside_table"], schema)
    table = sa.Table(obj.name, sa.MetaData(schema=schema), sa.Column("id", sa.String(36)),
                     sa.Column(defn.name, field_type.column_type(defn)))
    statement = table.update().where(table.c.id == sa.bindparam("_id")).values(
        {defn.name: sa.bindparam("_value", type_=field_type.column_type(defn))})
    rows = [{"_id": r.id, "_value": field_type.coerce(r.value, defn)} for r in conn.execute(sa.select(aside))]
    for start in range(0, len(rows), 1000):
        conn.execute(statement, rows[start:start + 1000])


def _with_inverse_renames(target: Bundle, later: list[Revision]) -> Bundle:
    """Mark objects and fields of ``target`` that were renamed since, newest revision first."""
    object_names: dict[str, str] = {}  # current name -> name in target
    field_names: dict[tuple[str, str], str] = {}  # (target object, current field) -> field in target
    for revision in later:
        for step in reversed(revision.plan):
            rename = step.get("rename")
            if not rename:
                continue
            if rename.get("field") is None:
                current = next((c for c, old in object_names.items() if old == rename["to"]), rename["to"])
                object_names[current] = rename["from"]
            else:
                obj = rename["object"]
                target_obj = object_names.get(obj, obj)
                current = next((c for (o, c), old in field_names.items() if o == target_obj and old == rename["to"]),
                               rename["to"])
                field_names[(target_obj, current)] = rename["from"]
    objects = []
    for obj in target.objects:
        current_obj = next((c for c, old in object_names.items() if old == obj.name), None)
        fields = tuple(
            replace(f, renamed_from=next((c for (o, c), old in field_names.items()
                                          if o in (obj.name, current_obj) and old == f.name and c != f.name),
                                         None))
            for f in obj.fields
        )
        objects.append(replace(obj, fields=fields, renamed_from=current_obj if current_obj != obj.name else None))
    return replace(target, objects=tuple(objects))


__all__ = ["Applied", "MetadataService"]
