"""Compiling a typed tree to a SQLAlchemy expression, for PostgreSQL and SQLite.

The query engine selects, filters and sorts formula fields with these expressions, in
the same single statement as the rest of a query. Field paths are resolved by the
caller's ``column`` function (which adds the joins lookups need); globals, TODAY() and
NOW() are bound values, so both compilers see the same clock and user.
"""

from __future__ import annotations


from typing import Any

import sqlalchemy as sa

from rapport.runtime.formula.registry import Env, SqlContext, SqlExpr, literal, sql_type
from rapport.runtime.formula.typed import TCall, TField, TGlobal, TLiteral, Typed, walk
from rapport.runtime.formula.types import FType

__all__ = ["SqlContext", "compile_sql"]


def compile_sql(node: Typed, ctx: SqlContext) -> SqlExpr:
    """The expression for ``node``, typed so that its result reads as the formula's value."""
    kind = node.type if node.type is not FType.PICKLIST else FType.TEXT
    return sa.type_coerce(_expression(node, ctx), sql_type(kind))


def _expression(node: Typed, ctx: SqlContext) -> SqlExpr:
    if isinstance(node, TLiteral):
        return literal(node.value, node.type)
    if isinstance(node, TField):
        return _column(ctx.column(node.path), node.type, ctx)
    if isinstance(node, TGlobal):
        return ctx.env_value(f"{node.scope[1:]}_{node.name}", FType.TEXT)
    assert isinstance(node, TCall)
    args = [_expression(arg, ctx) for arg in node.args]
    return node.fn.sql(ctx, [arg.type for arg in node.args], args, node.args)


def _column(column: SqlExpr, kind: FType, ctx: SqlContext) -> SqlExpr:
    if kind is FType.NUMBER and ctx.postgres and isinstance(column.type, sa.Integer):
        return sa.cast(column, sa.Numeric())  # whole-number columns divide like numbers
    return column




def sql_size(node: Typed) -> int:
    """How many SQL terms ``node`` renders to on PostgreSQL, counting each repeat of a shared
    argument (the expression objects share them, so this counts in linear time what a
    rendered statement would spell out in full)."""
    kinds = {n.path: n.type for n in walk(node) if isinstance(n, TField)}
    ctx = SqlContext("postgresql", Env(), lambda path: sa.column(".".join(path), sql_type(kinds[path])))
    root = compile_sql(node, ctx)
    sizes: dict[int, int] = {}
    children: dict[int, list[Any]] = {}  # also keeps every element alive, so ids stay unique
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # post-order without recursion
        element, ready = stack.pop()
        key = id(element)
        if ready:
            sizes[key] = 1 + sum(sizes[id(child)] for child in children[key])
        elif key not in children:
            children[key] = list(element.get_children())
            stack.append((element, True))
            stack.extend((child, False) for child in children[key] if id(child) not in children)
    return sizes[id(root)]
