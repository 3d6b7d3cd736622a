"""Field paths to columns: dotted paths follow lookups through LEFT OUTER JOINs.

``"amount"`` is a column of the queried object's table; ``"account.industry"`` is a column
of an aliased ``account`` table joined on ``account.id = deal.account``;
``"contact.account.name"`` joins twice. Each distinct path prefix gets exactly one alias,
so ``account.name`` and ``account.industry`` share one join. Joins are LEFT OUTER: a record
whose lookup is empty is still listed, with the looked-up values as null.

System fields are resolvable too, typed as the field types they behave like (text ids and
users, datetime stamps, an integer version), so filters, sorts and serialisation treat
them like any other field.

With an :class:`~rapport.runtime.permissions.Access`, the paths a caller names are the
caller's: a field they may not read is unknown (so a hidden field can be neither selected
nor filtered nor sorted on, and its name is not listed), a lookup into an object they may
not read cannot be followed, and a looked-up record they may not see joins as absent. The
paths formula fields read inside are not the caller's: formulas see every field and record,
through joins of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES, FieldValueError
from rapport.runtime.formula import Env, SqlContext, compile_sql
from rapport.runtime.permissions import Access

#: how many lookups a path may follow: "contact.account.name" is two
MAX_HOPS = 2



class PathError(FieldValueError):
    """A field path that cannot be resolved; ``code`` is a stable ``query.*`` code."""


@dataclass(frozen=True)
class ResolvedPath:
    """A field path bound to the column (of the root table or a join alias) that holds it."""

    path: str
    field: CompiledField
    column: sa.ColumnElement[Any]
    #: whether the column can hold NULL (always true through a LEFT OUTER JOIN)
    nullable: bool


@dataclass(frozen=True)
class _Place:
    """Where a path has got to: an object, the table or alias holding it, the joins that led there."""

    obj: CompiledObject
    table: sa.FromClause
    #: (lookup field name, whether the join hides records the caller may not see) per join
    hops: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class _Join:
    alias: sa.FromClause
    onclause: sa.ColumnElement[bool]
    target: CompiledObject


def known_fields(obj: CompiledObject, access: Access | None = None) -> str:
    names = obj.fields if access is None else access.readable_fields(obj)
    return ", ".join(sorted(set(names) | set(SYSTEM_FIELDS)))


def _field_of(obj: CompiledObject, table: sa.FromClause, name: str, access: Access | None = None) -> CompiledField:
    if name in SYSTEM_FIELDS or (name == "is_deleted" and name in table.c):
        defn = SYSTEM_FIELD_DEFS[name]
        return CompiledField(defn, FIELD_TYPES[defn.type], table.c[name])
    compiled = obj.fields.get(name)
    if compiled is None or (access is not None and not access.on(obj.name).can_read_field(name)):
        raise PathError("query.unknown_field",
                        f"object '{obj.name}' has no field {name!r} (fields: {known_fields(obj, access)})")
    return compiled


class JoinPaths:
    """Resolves field paths of one object, collecting the joins they need.

    Resolve every path first, then build the statement from :meth:`from_clause`.
    Soft-deleted looked-up records are joined as absent unless ``include_deleted``.
    """

    def __init__(self, model: CompiledOrg, root: CompiledObject, *, include_deleted: bool = False,
                 dialect: str = "sqlite", env: Env | None = None, access: Access | None = None) -> None:
        self.model = model
        self.root = root
        self.include_deleted = include_deleted
        #: formula fields compile to this database's SQL, with these globals and clock (or, with
        #: ``env=None``, with parameters for them: see ``formula.env_parameters``)
        self.dialect = dialect
        self.env = env
        #: the caller's access (``None``: no restriction, as for the system)
        self.access = access if access is not None and access.restricted else None
        self._joins: dict[tuple[tuple[str, bool], ...], _Join] = {}

    def resolve(self, path: str) -> ResolvedPath:
        if not isinstance(path, str) or not path:
            raise PathError("query.unknown_field", f"a field path is a non-empty string, got {path!r}")
        parts = path.split(".")
        if not all(parts):
            raise PathError("query.unknown_field", f"{path!r} is not a field path like 'name' or 'account.name'")
        if len(parts) > MAX_HOPS + 1:
            raise PathError("query.not_supported",
                            f"field path {path!r} follows {len(parts) - 1} lookups; at most {MAX_HOPS} are supported")
        return self._resolve(tuple(parts), self.access, _Place(self.root, self.root.table, ()))

    def resolve_parts(self, parts: tuple[str, ...]) -> ResolvedPath:
        """A path given as its names, without the limit on lookups (formulas follow more) and
        without the caller's access (formulas see every field and record)."""
        return self._resolve(parts, None, _Place(self.root, self.root.table, ()))

    def _resolve(self, parts: tuple[str, ...], access: Access | None, place: _Place) -> ResolvedPath:
        """``parts``, read from ``place``; with ``access``, as that caller may see them."""
        path = ".".join(parts)
        for name in parts[:-1]:
            link = _field_of(place.obj, place.table, name, access)
            if not link.defn.target or link.column is None:
                raise PathError("query.unknown_field", f"field '{name}' of object '{place.obj.name}' is not a "
                                f"lookup, so {path!r} cannot follow it")
            if access is not None and not access.on(link.defn.target).read:
                raise PathError("permissions.object_access",
                                f"field '{name}' of object '{place.obj.name}' points at object "
                                f"'{link.defn.target}', which you may not read, so {path!r} cannot follow it")
            place = self._join(place, link, as_caller=access is not None)
        compiled = _field_of(place.obj, place.table, parts[-1], access)
        if compiled.column is None:
            return ResolvedPath(path, compiled, self._formula(place, compiled), nullable=True)
        column = place.table.c[compiled.name]
        return ResolvedPath(path, compiled, column, nullable=bool(place.hops) or bool(column.nullable))

    def _formula(self, place: _Place, compiled: CompiledField) -> sa.ColumnElement[Any]:
        """A formula field's SQL; the paths it reads are relative to its object, at ``place``."""
        typed = place.obj.formulas.fields.get(compiled.name)
        if typed is None:
            raise PathError("query.not_supported", f"field '{place.obj.name}.{compiled.name}' "
                            f"({compiled.type.name}) has no value to query")
        column = lambda inner: self._resolve(inner, None, place).column  # noqa: E731
        return compile_sql(typed, SqlContext(self.dialect, self.env, column))

    def _join(self, parent: _Place, link: CompiledField, *, as_caller: bool) -> _Place:
        """The place ``link`` leads to from ``parent``: one join per distinct way there.

        A join the caller follows hides the records they may not see; where they see every
        record, the caller and formulas share one join.
        """
        target = self.model.objects.get(link.defn.target or "")
        if target is None:
            raise PathError("query.unknown_field",
                            f"lookup '{link.name}' points at object {link.defn.target!r}, which does not exist")
        restricted = as_caller and self.access is not None \
            and self.access.visible(self.model, target, target.table) is not None
        hops = (*parent.hops, (link.name, bool(restricted)))
        known = self._joins.get(hops)
        if known is None:
            # Object names never start with "_", so these aliases cannot clash with a table.
            # Aliases are kept with the compiled model, so a repeated query reuses them.
            name = f"_j{len(self._joins) + 1}"
            key = (self.root.name, hops, name)
            alias = self.model.aliases.get(key)
            if alias is None:
                alias = self.model.aliases.setdefault(key, target.table.alias(name))
            onclause = alias.c.id == parent.table.c[link.name]
            if target.defn.soft_delete and not self.include_deleted:
                onclause = sa.and_(onclause, alias.c.is_deleted == sa.false())
            shared = self.access.visible(self.model, target, alias) if restricted and self.access else None
            if shared is not None:
                onclause = sa.and_(onclause, shared)
            known = self._joins[hops] = _Join(alias, onclause, target)
        return _Place(known.target, known.alias, hops)

    def from_clause(self) -> sa.FromClause:
        """The root table outer-joined to every alias resolved so far (parents first)."""
        joined: sa.FromClause = self.root.table
        for join in self._joins.values():
            joined = joined.outerjoin(join.alias, join.onclause)
        return joined

    @property
    def join_count(self) -> int:
        return len(self._joins)
