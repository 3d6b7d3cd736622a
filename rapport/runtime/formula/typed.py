"""The typed tree: what the checker hands to both compilers.

Operators are calls too (``a + b`` is the call of ``+``), so a compiler knows four kinds
of node. References to formula fields are already replaced by the referenced formula's
own tree (with its paths made relative to the referencing object), so compilers only ever
see stored fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rapport.runtime.formula.syntax import Pos
from rapport.runtime.formula.types import FType

if TYPE_CHECKING:
    from rapport.runtime.formula.registry import Function


@dataclass(frozen=True)
class Typed:
    type: FType
    pos: Pos


@dataclass(frozen=True)
class TLiteral(Typed):
    value: Any


@dataclass(frozen=True)
class TField(Typed):
    """A stored field of the record (``path`` of one name) or of a looked-up record."""

    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def local(self) -> bool:
        return len(self.path) == 1


@dataclass(frozen=True)
class TGlobal(Typed):
    scope: str  # "$user" | "$org"
    name: str


@dataclass(frozen=True)
class TCall(Typed):
    fn: Function
    args: tuple[Typed, ...]


def walk(node: Typed) -> list[Typed]:
    """Every node of the tree, ``node`` first."""
    out = [node]
    if isinstance(node, TCall):
        for arg in node.args:
            out += walk(arg)
    return out


def related_paths(node: Typed) -> list[tuple[str, ...]]:
    """The looked-up fields a tree reads (paths through at least one lookup), each once."""
    seen: dict[tuple[str, ...], None] = {}
    for n in walk(node):
        if isinstance(n, TField) and not n.local:
            seen[n.path] = None
    return list(seen)
