"""The language layer of scripts: check, compile, and the globals a run starts from.

Pure functions, no processes: the worker (``worker.py``) compiles a script with
:func:`compile_script` and runs it with ``exec(code, script_globals(api))``; the metadata
loader refuses a script for which :func:`check_script` finds problems. The process layer
adds a second wall (limits, an unprivileged process); this one holds on its own.

- Policy (what may be written): ``_policy.ScriptPolicy`` — RestrictedPython, deny by default.
- Guards (what objects let a script do at run time): ``_guards`` — attributes, items and
  writes allowed per exact type, deny by default.
- Modules: ``modules.SCRIPT_MODULES`` — math, decimal, datetime, json, re, as wrappers.

The builtins of a script are a curated few (:data:`SCRIPT_BUILTINS`): no ``type``,
``getattr``/``setattr``/``delattr``/``hasattr``, ``vars``, ``dir``, ``id``, ``globals``,
``open``, ``exec``/``eval``/``compile``, ``super``, ``object``, ``format`` or
``__build_class__`` (scripts define no classes: dicts and functions do). ``print(...)``
writes one line to the API's ``log``.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rapport.sandbox._guards import (
    AccessDenied, final_exception_check, guarded_apply, guarded_getattr, guarded_getitem, guarded_inplacevar,
    guarded_write, iter_unpack_sequence, register_script_type, unpack_sequence,
)
from rapport.sandbox._policy import RESERVED_NAMES, ScriptPolicy, ScriptProblem
from rapport.sandbox.modules import import_module

__all__ = [
    "MAX_SOURCE_CHARS", "SCRIPT_BUILTINS", "AccessDenied", "ScriptCompileError", "ScriptProblem", "check_script",
    "compile_script", "register_script_type", "script_globals",
]

MAX_SOURCE_CHARS = 100_000
COMPILE_RECURSION_LIMIT = 1000  # Python's default
MAX_PROBLEMS = 50

_FUNCTIONS = (
    abs, all, any, bool, callable, chr, dict, divmod, enumerate, filter, float, frozenset, hex, int, isinstance,
    iter, len, list, map, max, min, next, ord, pow, range, repr, reversed, round, set, sorted, str, sum, tuple, zip,
)
_EXCEPTIONS = (
    ArithmeticError, Exception, IndexError, KeyError, LookupError, OverflowError, RuntimeError, TimeoutError,
    TypeError, ValueError, ZeroDivisionError,
)
#: the builtins every script has (plus ``__import__``, which returns only our modules)
SCRIPT_BUILTINS: Mapping[str, Any] = types.MappingProxyType(
    {f.__name__: f for f in (*_FUNCTIONS, *_EXCEPTIONS)})

#: what no ``except`` block of a script can catch: refusals and the signs of a run out of bounds
ALWAYS_FINAL: tuple[type[BaseException], ...] = (AccessDenied, MemoryError, RecursionError)


class ScriptCompileError(Exception):
    """A script that does not compile, with every problem found."""

    def __init__(self, problems: list[ScriptProblem]) -> None:
        self.problems = list(problems)
        super().__init__("script does not compile: " + "; ".join(str(p) for p in self.problems))


def check_script(source: str) -> list[ScriptProblem]:
    """Every problem of ``source`` at once (syntax first: a script that does not parse has
    no tree to check); an empty list when it compiles."""
    _require_text(source)
    return list(_compiled(source, "<script>")[0])


def compile_script(source: str, filename: str) -> types.CodeType:
    """``source`` compiled under the policy; tracebacks name ``filename`` and the script's lines."""
    _require_text(source)
    problems, code = _compiled(source, filename)
    if code is None:
        raise ScriptCompileError(list(problems))
    return code


@functools.lru_cache(maxsize=512)
def _compiled(source: str, filename: str) -> tuple[tuple[ScriptProblem, ...], types.CodeType | None]:
    """Cached: the metadata loader checks every script each time it loads a bundle."""
    if len(source) > MAX_SOURCE_CHARS:
        return (ScriptProblem(1, 1, f"the script is {len(source)} characters long; the limit is "
                                    f"{MAX_SOURCE_CHARS}"),), None
    try:
        with warnings.catch_warnings(), _compile_depth():
            warnings.simplefilter("ignore")  # e.g. an invalid escape in a string: a warning, not a problem
            compile(source, filename, "exec", dont_inherit=True)  # plain Python first: syntax, 'return' outside …
            tree = ast.parse(source, filename)
            policy = ScriptPolicy()
            policy.visit(tree)
            code = None if policy.problems else compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        return (ScriptProblem(error.lineno or 1, error.offset or 1, f"syntax error: {error.msg}"),), None
    except (RecursionError, MemoryError):
        return (ScriptProblem(1, 1, "the script is nested too deeply to compile"),), None
    except ValueError as error:  # e.g. a NUL character
        return (ScriptProblem(1, 1, f"the script cannot be read: {error}"),), None
    problems = sorted(dict.fromkeys(policy.problems))
    if len(problems) > MAX_PROBLEMS:  # a reply of reasonable size: the first ones, and how many more
        more = problems[MAX_PROBLEMS]
        problems[MAX_PROBLEMS:] = [ScriptProblem(more.line, more.column, f"and {len(problems) - MAX_PROBLEMS} "
                                                                           "more problems from here on")]
    return tuple(problems), code


@contextlib.contextmanager
def _compile_depth() -> Iterator[None]:
    """Compiling (our code, not the script's) gets Python's usual depth, even in a worker
    that keeps runs shallower, so a script compiles in the worker exactly when it did at save."""
    limit = sys.getrecursionlimit()
    if limit < COMPILE_RECURSION_LIMIT:
        sys.setrecursionlimit(COMPILE_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def _require_text(source: object) -> None:
    if not isinstance(source, str):
        raise TypeError(f"a script's code is a str, not {type(source).__name__}")


def script_globals(api: Mapping[str, Any], *, final: tuple[type[BaseException], ...] = ()) -> dict[str, Any]:
    """The globals of one run: a fresh dict with our builtins, the guards and ``api``'s names.

    ``final``: exception classes (e.g. the governor's limit errors) that no ``except`` of the
    script may catch, on top of :data:`ALWAYS_FINAL`. ``api`` names are plain identifiers
    (never ``_…``, never a reserved name); its ``log``, if any, receives what ``print`` writes.
    """
    for name in api:
        if not name.isidentifier() or name.startswith("_") or name in RESERVED_NAMES:
            raise ValueError(f"{name!r} cannot be a name of the script API")
    builtins = dict(SCRIPT_BUILTINS)
    builtins["__import__"] = import_module
    env: dict[str, Any] = {
        "__builtins__": builtins,
        "__name__": "script",
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,  # yields only the elements of what the script already holds
        "_iter_unpack_sequence_": iter_unpack_sequence,
        "_unpack_sequence_": unpack_sequence,
        "_write_": guarded_write,
        "_inplacevar_": guarded_inplacevar,
        "_apply_": guarded_apply,
        "_print_": _PrintFactory(api.get("log")),
        "_caught_": final_exception_check((*ALWAYS_FINAL, *final)),
    }
    env.update(api)
    return env


class _PrintFactory:
    """``_print_``: RestrictedPython calls it at the top of each scope that uses ``print``."""

    __slots__ = ("log",)

    def __init__(self, log: Callable[..., Any] | None) -> None:
        self.log = log

    def __call__(self, _getattr: Any = None) -> _Print:
        return _Print(self.log)


class _Print:
    __slots__ = ("log",)

    def __init__(self, log: Callable[..., Any] | None) -> None:
        self.log = log

    def _call_print(self, *values: Any, sep: str | None = " ", end: str | None = "\n", **options: Any) -> None:
        if options:
            raise TypeError(f"print() takes only 'sep' and 'end' in scripts, not {', '.join(map(repr, options))}")
        if self.log is None:
            raise AccessDenied("print() has nowhere to write in this run")
        separator = " " if sep is None else sep
        if not isinstance(separator, str):
            raise TypeError("print(): sep must be a str")
        self.log(separator.join(str(value) for value in values))
