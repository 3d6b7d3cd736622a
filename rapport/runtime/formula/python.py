"""Compiling a typed tree to Python: a closure evaluated on a record and its prior version.

Each node becomes one small closure, built once per revision; evaluating a rule on a
record is a handful of calls with no parsing, no lookups by name and no dispatch on types.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from collections.abc import Callable, Mapping

from rapport.runtime.formula.registry import Compiled, Env
from rapport.runtime.formula.typed import TCall, TField, TGlobal, TLiteral, Typed
from rapport.runtime.formula.types import FType

__all__ = ["Scope", "compile_python", "field_reader"]


@dataclass
class Scope:
    """One evaluation: the record, the record before the write (``None`` on create), the
    values of its looked-up records keyed by path (``"account.name"``) and the globals."""

    record: Mapping[str, Any]
    prior: Mapping[str, Any] | None = None
    related: Mapping[str, Any] | None = None
    env: Env | None = None


def compile_python(node: Typed) -> Compiled:
    if isinstance(node, TLiteral):
        value = node.value
        return lambda s: value
    if isinstance(node, TField):
        if node.local:
            read = field_reader(node)
            return lambda s: read(s.record)
        convert = _converter(node.type)
        path = node.dotted
        if convert is None:
            return lambda s: s.related.get(path)
        return lambda s: convert(s.related.get(path))
    if isinstance(node, TGlobal):
        attribute = f"{node.scope[1:]}_{node.name}"
        return lambda s: getattr(s.env, attribute)
    assert isinstance(node, TCall)
    args = [compile_python(arg) for arg in node.args]
    return node.fn.python([arg.type for arg in node.args], args, node.args)


def field_reader(node: TField) -> Callable[[Mapping[str, Any]], Any]:
    """Reads the field's value from a record dict, as the formula type holds it."""
    name = node.path[-1] if node.local else node.dotted
    convert = _converter(node.type)
    if convert is None:
        return lambda record: record.get(name)
    return lambda record: convert(record.get(name))


def _converter(kind: FType) -> Callable[[Any], Any] | None:
    if kind is FType.NUMBER:
        return _number
    if kind in (FType.TEXT, FType.PICKLIST, FType.MULTIPICKLIST):
        return _text
    return None


def _number(value: Any) -> Decimal | None:
    if value is None or type(value) is Decimal:
        return value
    return Decimal(value) if not isinstance(value, float) else Decimal(repr(value))


def _text(value: Any) -> str | None:
    return value if value != "" else None
