"""Formulas in the write pipeline: default formulas (step 3), validation rules (step 5),
and the formula fields of the records a write returns.

Rules and default formulas run in Python on each record. What they read through lookups
(``account.industry``) is loaded for the whole batch first, one query per lookup field of
the object, so a batch of 10,000 records costs a few statements, not 10,000. A formula
that has no value for a record (``VALUE("abc")``) gives that record a coded error that
names the rule or field, never a failed request.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import InvalidOperation
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa

from rapport.platform.errors import ProblemCollector
from rapport.runtime.compiled import CompiledObject
from rapport.runtime.fields import FieldValueError
from rapport.runtime.formula import Env, FormulaRuntimeError, Scope, env_parameters
from rapport.runtime.query.joins import JoinPaths
from rapport.runtime.records.hooks import SaveContext

#: what a formula raises when it has no value for a record
RUNTIME_ERRORS = (FormulaRuntimeError, ArithmeticError, InvalidOperation, OverflowError, ValueError)
#: ids per statement when loading looked-up values
CHUNK = 5_000

Path = tuple[str, ...]


def apply_default_formulas(tx: Any, obj: CompiledObject, records: list[dict[str, Any]], given: list[set[str]],
                           pointers: list[str], env: Env, errors: ProblemCollector) -> None:
    """Step 3: each field with a default formula that the caller gave no value gets its result."""
    defaults = obj.formulas.defaults
    if not defaults:
        return
    related = load_related(tx, obj, records, [p for d in defaults for p in d.related], env)
    for record, keys, at, rel in zip(records, given, pointers, related):
        scope = Scope(record, None, rel, env)
        for default in defaults:
            if default.field in keys:
                continue
            compiled = obj.fields[default.field]
            where = f"{at}/{default.field}"
            try:
                record[default.field] = compiled.type.coerce(default.formula(scope), compiled.defn)
            except FieldValueError as error:
                errors.add(where, error.code, f"field '{default.field}' on object '{obj.name}': its default "
                           f"formula gave a value that does not fit: {error.message}")
            except RUNTIME_ERRORS as error:
                errors.add(where, "records.formula_error", f"field '{default.field}' on object '{obj.name}': "
                           f"its default formula has no value for this record: {error}")


def run_validation_rules(tx: Any, obj: CompiledObject, contexts: Sequence[SaveContext], env: Env) -> None:
    """Step 5: every active rule on every record; each failing rule is an error at its field
    (or at the record), all reported together."""
    rules = obj.formulas.rules
    if not rules or not contexts:
        return
    related = load_related(tx, obj, [ctx.record for ctx in contexts], [p for r in rules for p in r.related], env)
    for ctx, rel in zip(contexts, related):
        scope = Scope(ctx.record, ctx.prior, rel, env)
        for rule in rules:
            where = f"{ctx.pointer}/{rule.field}" if rule.field else ctx.pointer
            try:
                failed = rule.condition(scope)
            except RUNTIME_ERRORS as error:
                ctx.errors.add(where, "records.formula_error",
                               f"validation rule '{rule.name}' on object '{obj.name}' cannot be evaluated for "
                               f"this record: {error}", hint=f"validation rule '{rule.name}'")
                continue
            if failed:
                ctx.errors.add(where, "records.rule_failed", rule.message, hint=f"validation rule '{rule.name}'")


def load_related(tx: Any, obj: CompiledObject, records: Sequence[Mapping[str, Any]], paths: Iterable[Path],
                 env: Env) -> list[dict[str, Any]]:
    """For each record, the looked-up values ``paths`` name, keyed by dotted path.

    One query per lookup field of ``obj`` that the paths go through, for the ids the records
    hold; the rest of each path is resolved by the query engine (joins, formula fields).
    """
    by_link: dict[str, dict[Path, None]] = defaultdict(dict)
    for path in paths:
        by_link[path[0]][path[1:]] = None
    out: list[dict[str, Any]] = [{} for _ in records]
    if not by_link:
        return out
    for link, rests in by_link.items():
        target = tx.model.object(obj.fields[link].defn.target)
        ids = sorted({r[link] for r in records if r.get(link) is not None})
        found: dict[str, tuple[Any, ...]] = {}
        query_paths = JoinPaths(tx.model, target, dialect=tx.conn.dialect.name, env=env)
        columns = [query_paths.resolve_parts(rest).column for rest in rests]
        select = sa.select(target.table.c.id, *columns).select_from(query_paths.from_clause())
        if "is_deleted" in target.table.c:  # a soft-deleted record is absent, as in queries
            select = select.where(target.table.c.is_deleted == sa.false())
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            for row in tx.conn.execute(select.where(target.table.c.id.in_(chunk))):
                found[row[0]] = tuple(row[1:])
        names = [".".join((link, *rest)) for rest in rests]
        for record, values in zip(records, out):
            key = record.get(link)
            row = found.get(key) if key is not None else None
            for index, name in enumerate(names):
                values[name] = None if row is None else row[index]
    return out


def formula_values(tx: Any, obj: CompiledObject, ids: Sequence[str], env: Env) -> dict[str, dict[str, Any]]:
    """The formula fields of records ``ids``, computed by the database, as JSON values."""
    names = list(obj.formulas.fields)
    if not names or not ids:
        return {}
    select, converters = _formula_select(tx, obj)
    parameters = env_parameters(env)
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = select.where(obj.table.c.id.in_(list(ids[start:start + CHUNK])))
        for row in tx.conn.execute(chunk, parameters):
            out[row[0]] = {name: value if convert is None else convert(value)
                           for name, value, convert in zip(names, row[1:], converters)}
    return out


def record_with_formulas(tx: Any, obj: CompiledObject, where: list[sa.ColumnElement[bool]], env: Env
                         ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """One record's row and its formula fields (as JSON values), in one statement; ``None``
    when no row matches ``where``."""
    select, converters = _formula_select(tx, obj, whole_row=True)
    row = tx.conn.execute(select.where(*where), env_parameters(env)).first()
    if row is None:
        return None
    width = len(obj.table.c)
    values = {name: value if convert is None else convert(value)
              for name, value, convert in zip(obj.formulas.fields, row[width:], converters)}
    return dict(zip(obj.table.c.keys(), row[:width])), values


def _formula_select(tx: Any, obj: CompiledObject, *, whole_row: bool = False) -> tuple[sa.Select[Any], list[Any]]:
    """SELECT id (or, ``whole_row``, every column) and every formula field of ``obj``, built
    once per revision and database (the globals and the clock are parameters), and each
    formula field's JSON converter."""
    dialect = tx.conn.dialect.name
    built = obj.formula_select.get((dialect, whole_row))
    if built is None:
        paths = JoinPaths(tx.model, obj, dialect=dialect, env=None)
        resolved = [paths.resolve(name) for name in obj.formulas.fields]
        converters = [r.field.type.json_converter(r.field.defn) for r in resolved]
        columns = list(obj.table.c) if whole_row else [obj.table.c.id]
        select = sa.select(*columns, *(r.column for r in resolved)).select_from(paths.from_clause())
        built = obj.formula_select.setdefault((dialect, whole_row), (select, converters))
    return built

