"""The record service: the only write path.

API, forms, scripts, workflow actions, imports and package seed data all write records
here, in the order of ARCHITECTURE.md: load and version-check the prior row, coerce
through the field-type registry, defaults and autonumbers, before-save hooks, system
validation then validation hooks (every error of every record collected), write plus
field history, after-save and workflow hooks, commit, after-commit hooks. One
transaction: a failed write leaves no trace. Reads of one record (``get``) and of its
field history (``history``) check the same object, field and sharing permissions.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from rapport.platform.actor import Actor
from rapport.platform.errors import (
    Conflict, Forbidden, InvalidRequest, NotFound, ProblemCollector, RapportError, StaleVersion, ValidationFailed,
)
from rapport.platform.ids import new_id
from rapport.platform.sqltypes import utcnow
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.fields import FieldValueError
from rapport.runtime.formula import Env
from rapport.runtime.permissions import Access, access_for
from rapport.runtime.records import checks, formulas, rollups
from rapport.runtime.records.deletion import delete_rows, undelete_row
from rapport.platform.tables import history
from rapport.runtime.records.history import HistoryPage, history_page_size, history_rows, read_history
from rapport.runtime.records.hooks import HookPoint, SaveContext
from rapport.runtime.records.serialize import serializer
from rapport.runtime.sequences import Sequences, sequence_key

MAX_BATCH = 10_000


class RecordService:
    def __init__(self, runtime: Any, actor: Actor, tx: Any = None) -> None:
        self.runtime = runtime  # OrgRuntime
        self.actor = actor
        self._tx = tx

    @cached_property
    def env(self) -> Env:
        """``$User``, ``$Org`` and the clock for this service's formulas (fixed per service)."""
        return self.runtime.formula_env(self.actor)

    # -- reads ---------------------------------------------------------------------
    def get(self, object_name: str, record_id: str, *, include_deleted: bool = False) -> dict[str, Any]:
        with self.runtime.reading(self._tx) as tx:
            obj = tx.model.object(object_name)
            access = self._access(tx)
            where = self._readable(tx, obj, access, record_id, include_deleted)
            found = formulas.record_with_formulas(tx, obj, where, self.env)  # one statement
            if found is None:
                raise _not_found(obj, record_id)
            row, values = found
            record = {**serializer(obj)(row), **values}
            return access.strip_hidden(obj, record)

    def history(self, object_name: str, record_id: str, *, limit: int | None = None,
                cursor: str | None = None) -> HistoryPage:
        """A page of the record's field history, newest first: the changes of the fields the
        actor may read, of a record they may see."""
        with self.runtime.reading(self._tx) as tx:
            obj = tx.model.object(object_name)
            access = self._access(tx)
            where = self._readable(tx, obj, access, record_id)
            if tx.conn.execute(sa.select(obj.table.c.id).where(*where)).first() is None:
                raise _not_found(obj, record_id)
            settings = self.runtime.settings
            size = history_page_size(limit, settings.page_size_default, settings.page_size_max)
            return read_history(tx.conn, obj, record_id, access.readable_fields(obj), size, cursor)

    def may_edit(self, object_name: str, record_id: str) -> bool:
        """Whether the actor may edit (and, with the permission, delete) the record: the object
        permission and the record's sharing (404 if they may not see it)."""
        with self.runtime.reading(self._tx) as tx:
            obj = tx.model.object(object_name)
            access = self._access(tx)
            where = self._readable(tx, obj, access, record_id)
            editable = access.editable(tx.model, obj, obj.table) if access.on(obj.name).edit else sa.false()
            query = sa.select(obj.table.c.id, (sa.true() if editable is None else editable).label("editable"))
            row = tx.conn.execute(query.where(*where)).first()
            if row is None:
                raise _not_found(obj, record_id)
            return bool(row.editable)

    def _readable(self, tx: Any, obj: CompiledObject, access: Access, record_id: str,
                  include_deleted: bool = False) -> list[sa.ColumnElement[bool]]:
        """The conditions that select record ``record_id`` if the actor may read it (else 403
        for the object, 404 for an id that names no record)."""
        access.require(obj.name, "read")
        _check_id(obj, record_id)
        where = [obj.table.c.id == record_id]
        if "is_deleted" in obj.table.c and not include_deleted:
            where.append(obj.table.c.is_deleted == sa.false())
        visible = access.visible(tx.model, obj, obj.table)
        if visible is not None:
            where.append(visible)
        return where

    # -- writes --------------------------------------------------------------------
    def create(self, object_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(object_name, [values], single=True)[0]

    def create_many(self, object_name: str, values: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self._create(object_name, values, single=False)

    def update(self, object_name: str, record_id: str, values: Mapping[str, Any], *,
               expected_version: int | None = None) -> dict[str, Any]:
        return self._update(object_name, [(record_id, values, expected_version)], single=True)[0]

    def update_many(self, object_name: str, changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each change is a dict with ``id``, optional ``version`` and the fields to set."""
        items = []
        for index, change in enumerate(changes):
            if not isinstance(change, Mapping) or not isinstance(change.get("id"), str):
                raise InvalidRequest(f"update {index}: each change needs an 'id' string",
                                     code="records.missing_id")
            version = change.get("version")
            items.append((change["id"], {k: v for k, v in change.items() if k not in ("id", "version")}, version))
        return self._update(object_name, items, single=False)

    def upsert(self, object_name: str, field_name: str, key: Any, values: Mapping[str, Any]
               ) -> tuple[dict[str, Any], bool]:
        """Update the record whose external id ``field_name`` is ``key``, or create it with that
        key; returns the record and whether it was created. One transaction either way."""
        with self.runtime.transaction(self._tx) as tx:
            obj = tx.model.object(object_name)
            compiled = obj.fields.get(field_name)
            grant = self._access(tx).require(obj.name, "read")  # as every other operation: 403 first
            if compiled is None or not grant.can_read_field(field_name) or \
                    not (compiled.defn.external_id or compiled.defn.unique) or compiled.column is None:
                keys = [f.name for f in obj.stored if (f.defn.external_id or f.defn.unique)
                        and grant.can_read_field(f.name)]
                raise InvalidRequest(f"object '{obj.name}' has no external id or unique field {field_name!r} to "
                                     f"upsert by; it has {', '.join(repr(k) for k in keys) or 'none'}",
                                     code="records.bad_upsert_key")
            if not isinstance(values, Mapping):
                raise InvalidRequest(f"a '{obj.name}' record must be a JSON object of field values",
                                     code="records.not_an_object")
            if field_name in values and values[field_name] != key:
                raise InvalidRequest(f"the record sets '{field_name}' to {values[field_name]!r}, but it is upserted "
                                     f"by {field_name} = {key!r}; leave '{field_name}' out of the record",
                                     code="records.bad_upsert_key")
            try:
                coerced = compiled.type.coerce(key, compiled.defn)
            except FieldValueError as error:
                raise InvalidRequest(f"field '{field_name}' on object '{obj.name}': {error.message}",
                                     code=error.code) from None
            query = sa.select(obj.table.c.id).where(compiled.column == coerced)
            if "is_deleted" in obj.table.c:
                query = query.where(obj.table.c.is_deleted == sa.false())
            found = tx.conn.execute(query.limit(2)).scalars().all()
            records = RecordService(self.runtime, self.actor, tx)
            if found:
                return records.update(obj.name, found[0], {k: v for k, v in values.items() if k != field_name}), False
            return records.create(obj.name, {**values, field_name: key}), True

    def delete(self, object_name: str, record_id: str, *, expected_version: int | None = None) -> None:
        with self.runtime.transaction(self._tx) as tx:
            obj = tx.model.object(object_name)
            self._access(tx).require(obj.name, "delete")
            prior = self._load(tx, obj, [record_id])[record_id]
            _check_version(obj, prior, expected_version)
            delete_rows(tx, obj, [prior], self.actor, self.runtime.hooks)

    def undelete(self, object_name: str, record_id: str) -> dict[str, Any]:
        with self.runtime.transaction(self._tx) as tx:
            obj = tx.model.object(object_name)
            self._access(tx).require(obj.name, "delete")
            _check_id(obj, record_id)
            if "is_deleted" in obj.table.c:  # else undelete_row says the object keeps no deleted records
                self._load(tx, obj, [record_id], include_deleted=True)  # the actor may change it
            row = undelete_row(tx, obj, record_id, self.actor)
            return self._with_formulas(tx, obj, [serializer(obj)(row)])[0]

    # -- pipeline --------------------------------------------------------------------
    def _create(self, object_name: str, inputs: Sequence[Mapping[str, Any]], single: bool) -> list[dict[str, Any]]:
        _check_batch(inputs)
        with self.runtime.transaction(self._tx) as tx:
            obj = tx.model.object(object_name)
            grant = self._access(tx).require(obj.name, "create")
            errors = ProblemCollector()
            now = utcnow()
            template = {"owner": self.actor.id, "created_at": now, "created_by": self.actor.id,
                        "updated_at": now, "updated_by": self.actor.id, "version": 1, **_defaults(obj)}
            records: list[dict[str, Any]] = []
            given_keys: list[set[str]] = []
            pointers = ["" if single else f"/{index}" for index in range(len(inputs))]
            for values, at in zip(inputs, pointers):
                given = checks.coerce_input(obj, values, errors, at, grant)
                records.append({"id": new_id(), **template, **given})
                given_keys.append(set(values) if isinstance(values, Mapping) else set())
            if any(p.code == "records.not_an_object" for p in errors.problems):
                _raise_invalid(obj, errors, len(records))  # nothing more to say about a non-record
            formulas.apply_default_formulas(tx, obj, records, given_keys, pointers, self.env, errors)
            contexts = [SaveContext(tx.conn, tx.model, obj, self.actor, "create", r, None, errors, at, tx)
                        for r, at in zip(records, pointers)]
            self._before_save(contexts, errors)
            self._validate(tx, obj, contexts, errors)
            self._generate(tx, obj, records)
            _insert(tx.conn, obj, records, self.runtime.settings.bulk_batch_size)
            self._after_write(tx, contexts)
            return self._with_formulas(tx, obj, [serializer(obj)(r) for r in records])

    def _update(self, object_name: str, items: Sequence[tuple[str, Mapping[str, Any], int | None]],
                single: bool) -> list[dict[str, Any]]:
        _check_batch(items)
        with self.runtime.transaction(self._tx) as tx:
            obj = tx.model.object(object_name)
            grant = self._access(tx).require(obj.name, "edit")
            priors = self._load(tx, obj, [i for i, _, _ in items])
            errors = ProblemCollector()
            contexts: list[SaveContext] = []
            for index, (record_id, values, expected) in enumerate(items):
                prior = priors[record_id]
                _check_version(obj, prior, expected)
                at = "" if single else f"/{index}"
                given = checks.coerce_input(obj, values, errors, at, grant)
                contexts.append(SaveContext(tx.conn, tx.model, obj, self.actor, "update", {**prior, **given},
                                            prior, errors, at, tx))
            self._before_save(contexts, errors)
            self._validate(tx, obj, contexts, errors)
            changed_contexts = self._write_updates(tx, obj, contexts)
            self._after_write(tx, changed_contexts)
            return self._with_formulas(tx, obj, [serializer(obj)(ctx.record) for ctx in contexts])

    def _write_updates(self, tx: Any, obj: CompiledObject, contexts: list[SaveContext]) -> list[SaveContext]:
        """Step 6 of an update: one executemany per set of changed columns, history in one insert.

        Records whose values did not change are not written (their version stays).
        """
        now = utcnow()
        stamp = {"updated_at": now, "updated_by": self.actor.id}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        history_rows_: list[dict[str, Any]] = []
        changed: list[SaveContext] = []
        for ctx in contexts:
            prior = ctx.prior or {}
            changes = {k: v for k, v in ctx.record.items() if prior.get(k) != v}
            if not changes:
                continue
            ctx.record.update(stamp, version=prior["version"] + 1)
            groups.setdefault(tuple(sorted(changes)), []).append(
                {**{f"_v_{k}": v for k, v in changes.items()}, "_id": prior["id"], "_version": prior["version"]})
            history_rows_ += history_rows(obj, prior, ctx.record, self.actor, now)
            changed.append(ctx)
        for columns, rows in groups.items():
            _write_update_group(tx.conn, obj, columns, rows, stamp)
        if history_rows_:
            tx.conn.execute(history.insert(), history_rows_)
        return changed

    def _load(self, tx: Any, obj: CompiledObject, ids: list[str], *, include_deleted: bool = False
              ) -> dict[str, dict[str, Any]]:
        """Step 1: the prior rows, locked on PostgreSQL until commit, which the actor must be
        able to see (else not found) and edit (else ``permissions.record_access``)."""
        for record_id in ids:
            _check_id(obj, record_id)
        access = self._access(tx)
        table = obj.table
        editable = access.editable(tx.model, obj, table)
        query = sa.select(table, (sa.true() if editable is None else editable).label("_editable"))
        query = query.where(table.c.id.in_(ids))
        if "is_deleted" in table.c and not include_deleted:
            query = query.where(table.c.is_deleted == sa.false())
        visible = access.visible(tx.model, obj, table)
        if visible is not None:
            query = query.where(visible)
        if tx.conn.dialect.name == "postgresql":
            query = query.with_for_update(of=table)
        rows = {row["id"]: dict(row) for row in tx.conn.execute(query).mappings()}
        for record_id in ids:
            if record_id not in rows:
                raise _not_found(obj, record_id)
            if not rows[record_id].pop("_editable"):
                raise Forbidden(f"you may read record {record_id} of object '{obj.name}' but not change it: "
                                "it is not yours and the object's sharing does not let others edit it",
                                code="permissions.record_access")
        return rows

    def _with_formulas(self, tx: Any, obj: CompiledObject, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records with their formula fields, computed by the database after the write,
        without the fields the actor may not read."""
        if obj.formulas.fields:
            values = formulas.formula_values(tx, obj, [r["id"] for r in records], self.env)
            for record in records:
                record.update(values.get(record["id"], {}))
        access = self._access(tx)
        return [access.strip_hidden(obj, record) for record in records] if access.restricted else records

    def _access(self, tx: Any) -> Access:
        return access_for(tx.model, self.actor)

    def _generate(self, tx: Any, obj: CompiledObject, records: list[dict[str, Any]]) -> None:
        """Values of value-generating fields (autonumbers), one allocation per batch.

        Allocated after validation, just before the insert, so that rejected records use up
        no numbers (PostgreSQL sequences are not rolled back).
        """
        if not obj.generated or not records:
            return
        sequences = Sequences(tx.conn, tx.schema)
        for compiled in obj.generated:
            numbers = sequences.next_values(sequence_key(obj.name, compiled.name), len(records))
            for record, value in zip(records, compiled.type.generate(compiled.defn, numbers)):
                record[compiled.name] = value

    def _before_save(self, contexts: list[SaveContext], errors: ProblemCollector) -> None:
        """Step 4: before-save hooks, only on records whose input was well-typed."""
        if not errors:
            self.runtime.hooks.run(HookPoint.BEFORE_SAVE, contexts)

    def _validate(self, tx: Any, obj: CompiledObject, contexts: list[SaveContext], errors: ProblemCollector) -> None:
        """Step 5: system validation, then validation hooks; all errors raised together.

        Validation hooks (rules, scripts) run only when the input was well-typed, so they
        never see a half-coerced record; system validation always runs, so every system
        error comes back at once.
        """
        typed = not errors
        changed: list[tuple[str, dict[str, Any], str | None]] = []
        refused = {p.pointer for p in errors.problems}
        for ctx in contexts:
            checks.check_required(obj, ctx.record, errors, ctx.pointer, refused)
            if ctx.prior is None:
                changed.append((ctx.pointer, ctx.record, None))
            else:
                prior = ctx.prior
                values = {k: v for k, v in ctx.record.items() if prior.get(k) != v}
                changed.append((ctx.pointer, values, prior["id"]))
        checks.check_unique(tx.conn, obj, changed, errors)
        checks.check_references(tx.conn, tx.model, obj, ((at, values) for at, values, _ in changed), errors,
                                self._access(tx))
        if typed:
            formulas.run_validation_rules(tx, obj, contexts, self.env)
            self.runtime.hooks.run(HookPoint.VALIDATE, contexts)
        _raise_invalid(obj, errors, len(contexts))

    def _after_write(self, tx: Any, contexts: list[SaveContext]) -> None:
        if contexts:  # roll-ups first, so after-save triggers and workflow see exact parents
            rollups.after_save(tx.conn, tx.model, contexts[0].object, contexts)
        hooks = self.runtime.hooks
        hooks.run(HookPoint.AFTER_SAVE, contexts)
        hooks.run(HookPoint.WORKFLOW, contexts)
        if hooks.has(HookPoint.AFTER_COMMIT):
            tx.after_commit.append(lambda: hooks.run(HookPoint.AFTER_COMMIT, contexts))


def _defaults(obj: CompiledObject) -> dict[str, Any]:
    """Step 3: what a new record holds before the caller's values (computed once per call)."""
    defaults = {c.name: c.type.default_value(c.defn) for c in obj.stored}  # roll-ups start at 0 or empty
    if "is_deleted" in obj.table.c:
        defaults["is_deleted"] = False
    return defaults


def _insert(conn: Any, obj: CompiledObject, records: list[dict[str, Any]], batch_size: int) -> None:
    columns = obj.table.c.keys()
    wanted = set(columns)
    if all(record.keys() == wanted for record in records):  # the usual case: exactly the columns
        rows = records
    else:  # a hook added or removed keys: write the table's columns only
        rows = [{name: record.get(name) for name in columns} for record in records]
    try:
        for start in range(0, len(rows), batch_size):
            conn.execute(obj.table.insert(), rows[start:start + batch_size])
    except IntegrityError as error:
        raise _integrity(obj, error) from None


def _write_update_group(conn: Any, obj: CompiledObject, columns: tuple[str, ...], rows: list[dict[str, Any]],
                        stamp: dict[str, Any]) -> None:
    """Update ``rows`` (the same columns changed in each) with one executemany; each row still
    checks its version, so no concurrent change is overwritten."""
    table = obj.table
    statement = (table.update()
                 .where(table.c.id == sa.bindparam("_id"), table.c.version == sa.bindparam("_version"))
                 .values({**{c: sa.bindparam(f"_v_{c}", type_=table.c[c].type) for c in columns},
                          "version": table.c.version + 1, **stamp}))
    try:
        result = conn.execute(statement, rows)
    except IntegrityError as error:
        raise _integrity(obj, error) from None
    if result.rowcount not in (-1, len(rows)):
        ids = ", ".join(r["_id"] for r in rows[:5])
        raise StaleVersion(f"a record of object '{obj.name}' ({ids}) was changed by someone else meanwhile; "
                           "reload it and apply your change again")


def _check_version(obj: CompiledObject, prior: dict[str, Any], expected: Any) -> None:
    if expected is None:
        return
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise InvalidRequest(f"version must be a whole number, got {expected!r}", code="records.bad_version")
    if expected != prior["version"]:
        raise StaleVersion(
            f"record {prior['id']} of object '{obj.name}' is at version {prior['version']}, not {expected}: "
            "someone changed it since you read it; reload it and apply your change again",
            details={"id": prior["id"], "current_version": prior["version"]})


def _check_batch(items: Sequence[Any]) -> None:
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InvalidRequest("a batch must be a list of records", code="records.bad_batch")
    if len(items) > MAX_BATCH:
        raise InvalidRequest(f"a batch holds at most {MAX_BATCH} records, got {len(items)}",
                             code="records.batch_too_large")


def _raise_invalid(obj: CompiledObject, errors: ProblemCollector, count: int) -> None:
    what = "record" if count == 1 else f"{count} records"
    errors.raise_if_any(ValidationFailed, f"the {obj.name} {what} could not be saved", "records.validation_failed")


def _check_id(obj: CompiledObject, record_id: Any) -> None:
    """Ids are short strings; anything else names no record (and never reaches the database)."""
    if not isinstance(record_id, str) or not 0 < len(record_id) <= 36 or not record_id.isascii() \
            or not record_id.isprintable():
        raise _not_found(obj, record_id)


def _not_found(obj: CompiledObject, record_id: str) -> NotFound:
    return NotFound(f"object '{obj.name}' has no record with id {record_id!r}", code="records.not_found")


def _integrity(obj: CompiledObject, error: IntegrityError) -> RapportError:
    text = str(error.orig).lower()
    if "unique" in text or "duplicate key" in text:
        # a concurrent writer took a unique value between our check and our write
        return ValidationFailed(f"the {obj.name} record could not be saved: a unique value was taken by "
                                "another write a moment ago; try again", code="records.duplicate_value")
    return Conflict(f"the {obj.name} record could not be saved: the database refused it ({error.orig})",
                    code="records.write_refused")
