"""Field paths to columns: dotted paths follow lookups through LEFT OUTER JOINs.

``"amount"`` is a column of the queried object's table; ``"account.industry"`` is a column
of an aliased ``account`` table joined on ``account.id = deal.account``;
``"contact.account.name"`` joins twice. Each distinct path prefix gets exactly one alias,
so ``account.name`` and ``account.industry`` share one join. Joins are LEFT OUTER: a record
whose lookup is empty is still listed, with the looked-up values as null.

System fields are resolvable too, typed as the field types they behave like (text ids and
users, datetime stamps, an integer version), so filters, sorts and serialisation treat
them like any other field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES, FieldValueError
from rapport.runtime.formula import Env, SqlContext, compile_sql

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
class _Join:
    alias: sa.FromClause
    onclause: sa.ColumnElement[bool]
    target: CompiledObject


def known_fields(obj: CompiledObject) -> str:
    return ", ".join(sorted(set(obj.fields) | set(SYSTEM_FIELDS)))


def _field_of(obj: CompiledObject, table: sa.FromClause, name: str) -> CompiledField:
    if name in SYSTEM_FIELDS or (name == "is_deleted" and name in table.c):
        defn = SYSTEM_FIELD_DEFS[name]
        return CompiledField(defn, FIELD_TYPES[defn.type], table.c[name])
    compiled = obj.fields.get(name)
    if compiled is None:
        raise PathError("query.unknown_field",
                        f"object '{obj.name}' has no field {name!r} (fields: {known_fields(obj)})")
    return compiled


class JoinPaths:
    """Resolves field paths of one object, collecting the joins they need.

    Resolve every path first, then build the statement from :meth:`from_clause`.
    Soft-deleted looked-up records are joined as absent unless ``include_deleted``.
    """

    def __init__(self, model: CompiledOrg, root: CompiledObject, *, include_deleted: bool = False,
                 dialect: str = "sqlite", env: Env | None = None) -> None:
        self.model = model
        self.root = root
        self.include_deleted = include_deleted
        #: formula fields compile to this database's SQL, with these globals and clock (or, with
        #: ``env=None``, with parameters for them: see ``formula.env_parameters``)
        self.dialect = dialect
        self.env = env
        self._joins: dict[tuple[str, ...], _Join] = {}

    def resolve(self, path: str) -> ResolvedPath:
        if not isinstance(path, str) or not path:
            raise PathError("query.unknown_field", f"a field path is a non-empty string, got {path!r}")
        parts = path.split(".")
        if not all(parts):
            raise PathError("query.unknown_field", f"{path!r} is not a field path like 'name' or 'account.name'")
        if len(parts) > MAX_HOPS + 1:
            raise PathError("query.not_supported",
                            f"field path {path!r} follows {len(parts) - 1} lookups; at most {MAX_HOPS} are supported")
        return self.resolve_parts(tuple(parts))

    def resolve_parts(self, parts: tuple[str, ...]) -> ResolvedPath:
        """A path given as its names, without the limit on lookups (formulas follow more)."""
        path = ".".join(parts)
        obj, table = self.root, self.root.table  # type: CompiledObject, sa.FromClause
        for depth, name in enumerate(parts[:-1]):
            link = _field_of(obj, table, name)
            if not link.defn.target or link.column is None:
                raise PathError("query.unknown_field",
                                f"field '{name}' of object '{obj.name}' is not a lookup, so {path!r} cannot follow it")
            obj, table = self._join(parts[: depth + 1], table, link)
        compiled = _field_of(obj, table, parts[-1])
        if compiled.column is None:
            return ResolvedPath(path, compiled, self._formula(obj, compiled, parts[:-1]), nullable=True)
        column = table.c[compiled.name]
        return ResolvedPath(path, compiled, column, nullable=len(parts) > 1 or bool(column.nullable))

    def _formula(self, obj: CompiledObject, compiled: CompiledField, prefix: tuple[str, ...]) -> sa.ColumnElement[Any]:
        """A formula field's SQL; the paths it reads are relative to its object, at ``prefix``."""
        typed = obj.formulas.fields.get(compiled.name)
        if typed is None:
            raise PathError("query.not_supported", f"field '{obj.name}.{compiled.name}' ({compiled.type.name}) "
                            "has no value to query")
        column = lambda inner: self.resolve_parts(prefix + inner).column  # noqa: E731
        return compile_sql(typed, SqlContext(self.dialect, self.env, column))

    def _join(self, prefix: tuple[str, ...], parent: sa.FromClause,
              link: CompiledField) -> tuple[CompiledObject, sa.FromClause]:
        known = self._joins.get(prefix)
        if known is not None:
            return known.target, known.alias
        target = self.model.objects.get(link.defn.target or "")
        if target is None:
            raise PathError("query.unknown_field",
                            f"lookup '{link.name}' points at object {link.defn.target!r}, which does not exist")
        # Object names never start with "_", so these aliases cannot clash with a table.
        # Aliases are kept with the compiled model, so a repeated query reuses them.
        name = f"_j{len(self._joins) + 1}"
        alias = self.model.aliases.get((self.root.name, prefix, name))
        if alias is None:
            alias = self.model.aliases.setdefault((self.root.name, prefix, name), target.table.alias(name))
        onclause = alias.c.id == parent.c[link.name]
        if target.defn.soft_delete and not self.include_deleted:
            onclause = sa.and_(onclause, alias.c.is_deleted == sa.false())
        self._joins[prefix] = _Join(alias, onclause, target)
        return target, alias

    def from_clause(self) -> sa.FromClause:
        """The root table outer-joined to every alias resolved so far (parents first)."""
        joined: sa.FromClause = self.root.table
        for join in self._joins.values():
            joined = joined.outerjoin(join.alias, join.onclause)
        return joined

    @property
    def join_count(self) -> int:
        return len(self._joins)
