"""The policy of scripts: which Python they may write, checked and rewritten on the syntax tree.

:class:`ScriptPolicy` is RestrictedPython's ``RestrictingNodeTransformer`` (deny by default:
a syntax node without a ``visit_`` method is refused) made stricter, with every problem
recorded as a :class:`ScriptProblem` (line, column, message) instead of a string:

- names and attributes starting with ``_`` are refused, so a script can neither name the
  guards (``_getattr_`` …) nor walk dunders (``__class__``, ``__globals__`` …); so are the
  frame, code and generator attributes (``gi_frame``, ``f_back``, ``tb_frame`` …) and the
  ``format``/``format_map`` methods (a format string reads attributes of its arguments);
- ``import`` names only the modules of ``modules.SCRIPT_MODULES``, and ``from m import x``
  only their members;
- refused statements: ``class``, ``with``, ``yield``, ``global``, ``nonlocal``, ``match``,
  ``try/except*``, ``async``/``await``, annotated assignments, a bare ``except:``, and a
  ``return``/``break``/``continue`` that leaves a ``finally`` block (it would swallow an
  error, a limit included);
- every ``except`` block starts with ``_caught_(error)``, which re-raises what a script
  must not catch (policy refusals, limits, ``MemoryError``, ``RecursionError``);
- ``d[k] += v`` is allowed (RestrictedPython refuses it) and rewritten to go through
  ``_getitem_``, ``_inplacevar_`` and ``_write_``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, RestrictingNodeTransformer, copy_locations,
)

from rapport.sandbox._guards import FORMAT_METHODS, module_members
from rapport.sandbox.modules import SCRIPT_MODULES

#: names a script may not use at all (RestrictedPython's own ``print`` machinery among them)
RESERVED_NAMES = frozenset({"print", "printed", "builtins", "breakpoint"})

_REFUSED = {
    "ClassDef": "class definitions are not allowed; use dicts and functions",
    "With": "'with' statements are not allowed: scripts have no context managers",
    "AsyncFunctionDef": "async functions are not allowed",
    "AsyncFor": "'async for' is not allowed",
    "AsyncWith": "'async with' is not allowed",
    "Await": "'await' is not allowed",
    "Yield": "'yield' is not allowed (no generator functions); build and return a list",
    "YieldFrom": "'yield from' is not allowed (no generator functions); build and return a list",
    "Global": "'global' is not allowed; pass values to functions and return results",
    "Nonlocal": "'nonlocal' is not allowed; pass values to functions and return results",
    "Match": "'match' statements are not allowed; use if/elif",
    "TryStar": "'except*' is not allowed; use 'except'",
    "AnnAssign": "annotated assignments ('x: int = 1') are not allowed; write 'x = 1'",
}


@dataclass(frozen=True, order=True)
class ScriptProblem:
    """One thing wrong with a script's code; ``line`` and ``column`` count from 1."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class ScriptPolicy(RestrictingNodeTransformer):
    """Checks and rewrites one script's tree; :attr:`problems` holds what it refused."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[ScriptProblem] = []

    # -- recording -----------------------------------------------------------------------
    def error(self, node: ast.AST, info: str) -> None:
        self.refuse(getattr(node, "lineno", 1), getattr(node, "col_offset", 0), info)

    def refuse(self, line: int | None, col_offset: int | None, message: str) -> None:
        self.errors.append(message)  # RestrictedPython's contract: any error, no code
        self.problems.append(ScriptProblem(line or 1, (col_offset or 0) + 1, message))

    def not_allowed(self, node: ast.AST) -> None:
        name = type(node).__name__
        self.error(node, _REFUSED.get(name, f"{name} is not allowed in scripts"))

    # -- names ---------------------------------------------------------------------------
    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        """Every name a script binds or reads; magic methods are no exception (no classes)."""
        if name is None:
            return
        if name.startswith("_") and name != "_":
            self.error(node, f"names starting with '_' are not allowed: {name!r}")
        elif name in RESERVED_NAMES:
            self.error(node, f"the name {name!r} is reserved" + ("; use log(...)" if name == "printed" else ""))

    def check_function_argument_names(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None:
                self.check_name(arg, arg.arg)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id == "printed":
            self.check_name(node, node.id)
            return node
        return super().visit_Name(node)

    # -- attributes ----------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        """``a.b`` → ``_getattr_(a, 'b')``; ``a.b = …`` / ``del a.b`` → ``_write_(a).b``."""
        name = node.attr
        line, column = node.end_lineno, (node.end_col_offset or len(name)) - len(name)  # at the name itself
        if name.startswith("_"):
            self.refuse(line, column, f"names starting with '_' are not allowed: {name!r}")
        elif name in INSPECT_ATTRIBUTES:
            self.refuse(line, column, f"attribute {name!r} is not allowed: it reaches the interpreter's frames "
                                      "and code")
        elif name in FORMAT_METHODS:
            self.refuse(line, column, f"'.{name}()' is not allowed (a format string can read attributes of its "
                                      "arguments); use an f-string")
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            read = _call("_getattr_", node.value, ast.Constant(name))
            copy_locations(read, node)
            return read
        target = _call("_write_", node.value)
        copy_locations(target, node.value)
        node.value = target
        return node

    # -- calls ---------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in ("exec", "eval", "compile"):
            self.error(node, f"{node.func.id}() is not available to scripts")
        for keyword in node.keywords:
            if keyword.arg is not None and keyword.arg.startswith("_"):
                self.error(keyword, f"names starting with '_' are not allowed: {keyword.arg!r}")
        unpacks = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
        node = self.node_contents_visit(node)
        if unpacks:  # f(*a, **k) → _apply_(f, *a, **k)
            node.args.insert(0, node.func)
            node.func = _load("_apply_")
            copy_locations(node.func, node.args[0])
        return node

    # -- imports -------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> Any:
        for alias in node.names:
            self._module(alias, alias.name)
            self.check_name(alias, alias.asname)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        if node.level:
            self.error(node, "relative imports are not allowed")
            return node
        module = self._module(node, node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.error(alias, f"'from {node.module} import *' is not allowed; import the names you use")
            elif module is not None and alias.name not in module_members(module):
                members = ", ".join(repr(n) for n in sorted(module_members(module)))
                self.error(alias, f"module {node.module!r} has no {alias.name!r} for scripts; it has {members}")
            self.check_name(alias, alias.asname or alias.name)
        return node

    def _module(self, node: ast.AST, name: str) -> Any:
        module = SCRIPT_MODULES.get(name)
        if module is None:
            allowed = ", ".join(repr(n) for n in SCRIPT_MODULES)
            self.error(node, f"module {name!r} is not available to scripts; they may import {allowed}")
        return module

    # -- statements refused (their bodies are still checked, to report every problem) ----
    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.not_allowed(node)
        return self.node_contents_visit(node)

    def visit_With(self, node: ast.With) -> Any:
        self.not_allowed(node)
        return self.node_contents_visit(node)

    def visit_Yield(self, node: ast.Yield) -> Any:
        self.not_allowed(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> Any:
        self.not_allowed(node)

    def visit_Global(self, node: ast.Global) -> Any:
        self.not_allowed(node)

    # -- exceptions ----------------------------------------------------------------------
    def visit_Try(self, node: ast.Try) -> Any:
        for statement in node.finalbody:
            for exit_ in _exits(statement, in_loop=False):
                keyword = type(exit_).__name__.lower()
                self.error(exit_, f"'{keyword}' inside 'finally' is not allowed: it would swallow errors, "
                                  "limits included")
        return self.node_contents_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        """Every handler starts with ``_caught_(error)``: some errors are not a script's to catch."""
        if node.type is None:
            self.error(node, "a bare 'except:' is not allowed; name what to catch, "
                             "e.g. 'except ScriptError:' or 'except Exception:'")
        node = self.node_contents_visit(node)
        self.check_name(node, node.name)
        if node.name is None:
            node.name = self.gen_tmp_name()
        check = ast.Expr(_call("_caught_", _load(node.name)))
        copy_locations(check, node)
        node.body.insert(0, check)
        return node

    # -- augmented assignment ------------------------------------------------------------
    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """``a[k] += v`` → ``t = a; i = k; _write_(t)[i] = _inplacevar_('+=', _getitem_(t, i), v)``."""
        target = node.target
        if not isinstance(target, ast.Subscript):
            return super().visit_AugAssign(node)
        container, key = self.visit(target.value), self.visit(target.slice)
        value = self.visit(node.value)
        if any(isinstance(part, ast.Slice) for part in ast.walk(key)):
            self.error(node, "augmented assignment of slices ('a[1:2] += …') is not allowed")
            return node
        held, at = self.gen_tmp_name(), self.gen_tmp_name()
        combined = _call("_inplacevar_", ast.Constant(IOPERATOR_TO_STR[type(node.op)]),
                         _call("_getitem_", _load(held), _load(at)), value)
        store = ast.Subscript(value=_call("_write_", _load(held)), slice=_load(at), ctx=ast.Store())
        statements: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(held, ast.Store())], value=container),
            ast.Assign(targets=[ast.Name(at, ast.Store())], value=key),
            ast.Assign(targets=[store], value=combined),
        ]
        for statement in statements:
            copy_locations(statement, node)
        return statements


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_load(function), args=list(args), keywords=[])


def _exits(node: ast.AST, in_loop: bool) -> Iterator[ast.stmt]:
    """The statements in ``node`` that would leave an enclosing ``finally`` block."""
    if isinstance(node, ast.Return) or (isinstance(node, (ast.Break, ast.Continue)) and not in_loop):
        yield node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return
    if isinstance(node, (ast.For, ast.While)):  # break/continue in the body stay in the loop; not in 'else'
        for statement in node.body:
            yield from _exits(statement, in_loop=True)
        for statement in node.orelse:
            yield from _exits(statement, in_loop)
        return
    for child in ast.iter_child_nodes(node):
        yield from _exits(child, in_loop)
