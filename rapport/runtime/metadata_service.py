"""An org's metadata: validate, plan, apply, revisions, diff, revert, restore and purge."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from rapport.metadata import Bundle
from rapport.metadata.diff import Change, diff
from rapport.metadata.revisions import Revision, current_number, get_revision, list_revisions
from rapport.platform.errors import Conflict
from rapport.platform.sqltypes import utcnow
from rapport.platform.tables import trash
from rapport.runtime.loading import load, load_stored
from rapport.runtime.revision_lock import lock_for_change
from rapport.runtime.schema_sync.planner import Plan
from rapport.runtime.schema_sync.renames import Rename, renames_in, with_inverse_renames
from rapport.runtime.schema_sync.restore import Restore, trash_entry
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
            return current_bundle(conn, load_stored)

    def revisions(self) -> list[Revision]:
        with self.location.read() as conn:
            return list_revisions(conn)

    def revision(self, number: int) -> Revision:
        with self.location.read() as conn:
            return get_revision(conn, number)

    def diff(self, from_number: int, to_number: int) -> list[Change]:
        """The changes from one revision to another (0 is the empty org)."""
        with self.location.read() as conn:
            old = load_stored(get_revision(conn, from_number).bundle) if from_number else Bundle()
            new = load_stored(get_revision(conn, to_number).bundle) if to_number else Bundle()
        return diff(old, new)

    # -- changing ----------------------------------------------------------------------
    def plan(self, data: Any) -> Plan:
        """What applying ``data`` would do, from a dry run that is always rolled back."""
        bundle = load(data)
        with self.location.engine.connect() as conn:
            transaction = conn.begin()
            try:
                return preview(conn, self.location.schema, self.settings, load_stored, bundle)
            finally:
                transaction.rollback()

    def apply(self, data: Any, *, author: str, message: str = "", confirm_data_loss: bool = False,
              progress: Progress | None = None, expected_revision: int | None = None) -> Applied:
        bundle = load(data)
        with self.location.begin() as conn:
            return apply_bundle(conn, self.location.schema, self.settings, load_stored, bundle, author=author,
                                message=message, confirm_data_loss=confirm_data_loss, progress=progress,
                                expected_revision=expected_revision)

    def revision_changes(self, number: int) -> list[Change]:
        """The changes revision ``number`` made (the diff from the revision before it), with
        the renames it applied shown as renames, not as a delete and an add."""
        with self.location.read() as conn:
            revision = get_revision(conn, number)
            before = load_stored(get_revision(conn, number - 1).bundle) if number > 1 else Bundle()
        return diff(before, _marked_with_renames(load_stored(revision.bundle), list(renames_in([revision]))))

    def plan_revert(self, number: int) -> Plan:
        """What :meth:`revert` to revision ``number`` would do: the same bundle, planned in a
        dry run that is always rolled back."""
        return self.plan(self._revert_bundle(number))

    def revert(self, number: int, *, author: str, confirm_data_loss: bool = False, message: str | None = None,
               expected_revision: int | None = None) -> Applied:
        """Apply revision ``number``'s bundle again, through the same planner.

        Renames made since then are undone as renames (the data stays), not as a delete and
        an add. With ``expected_revision``, only if the org is still at that revision (a
        revert previewed on revision 4 is not applied over someone else's revision 5).
        """
        return self.apply(self._revert_bundle(number), author=author,
                          message=message or f"revert to revision {number}",
                          confirm_data_loss=confirm_data_loss, expected_revision=expected_revision)

    def _revert_bundle(self, number: int) -> Bundle:
        """Revision ``number``'s bundle, marked to undo the renames made since as renames."""
        with self.location.read() as conn:
            target = load(get_revision(conn, number).bundle)
            later = [get_revision(conn, n) for n in range(number + 1, current_number(conn) + 1)]
        return with_inverse_renames(target, list(renames_in(later)))

    # -- moved-aside data --------------------------------------------------------------
    def trash(self) -> list[dict[str, Any]]:
        with self.location.read() as conn:
            rows = conn.execute(sa.select(trash).order_by(trash.c.id)).mappings()
            return [_trash_dict(row) for row in rows]

    def restore(self, trash_id: int, *, author: str) -> Applied:
        """Bring moved-aside data back (see :mod:`rapport.runtime.schema_sync.restore`)."""
        with self.location.begin() as conn:
            lock_for_change(conn, self.location.schema)
            return Restore(conn, self.location.schema, self.settings, author, trash_id).run()

    def purge(self, trash_id: int | None = None, *, force: bool = False) -> list[int]:
        """Drop moved-aside data whose retention has passed (or one entry early, with ``force``)."""
        now = utcnow()
        purged = []
        with self.location.begin() as conn:
            query = sa.select(trash).where(trash.c.restored_at.is_(None))
            if trash_id is not None:
                entry = trash_entry(conn, trash_id)
                if entry["expires_at"] > now and not force:
                    until = f"{entry['expires_at']:%Y-%m-%d %H:%M} UTC"
                    raise Conflict(f"moved-aside data #{trash_id} is kept until {until}; "
                                   "purge it earlier only with force", code="schema.retention_not_over")
                query = query.where(trash.c.id == trash_id)
            else:
                query = query.where(trash.c.expires_at <= now)
            for row in conn.execute(query).mappings().all():
                aside = sa.Table(row["aside_table"], sa.MetaData(), schema=self.location.schema)
                conn.execute(sa.schema.DropTable(aside, if_exists=True))
                conn.execute(trash.delete().where(trash.c.id == row["id"]))
                purged.append(row["id"])
        return purged


def _marked_with_renames(bundle: Bundle, renames: list[Rename]) -> Bundle:
    """``bundle`` (a revision's) with ``renamed_from`` hints for the renames that revision
    applied (each object and field is renamed at most once in one apply)."""
    objects = {r.new: r.old for r in renames if r.field is None}
    fields = {(r.object, r.new): r.old for r in renames if r.field is not None}
    marked = tuple(
        replace(obj, renamed_from=objects.get(obj.name),
                fields=tuple(replace(f, renamed_from=fields.get((obj.name, f.name))) for f in obj.fields))
        for obj in bundle.objects)
    return replace(bundle, objects=marked)


def _trash_dict(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "object": row["object"], "field": row["field"],
            "rows": row["row_count"], "revision": row["revision"], "created_at": row["created_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat(),
            "restored_at": row["restored_at"].isoformat() if row["restored_at"] else None}


__all__ = ["Applied", "MetadataService"]
