"""The runtime guards of scripts: what an object lets a script read, index and change.

RestrictedPython rewrites a script so that every attribute read ``a.b`` becomes
``_getattr_(a, 'b')``, every subscript ``a[k]`` becomes ``_getitem_(a, k)`` and every
assignment target ``a.b = …`` / ``a[k] = …`` goes through ``_write_(a)``. The functions here
are those hooks, and they deny by default:

- an attribute is readable only if the object's *exact* type is registered here with that
  name (:func:`register_script_type`), or the object is a registered class and the name is
  one of its class attributes, or the object is a :class:`ScriptModule` that has it; names
  starting with ``_`` and the ``format``/``format_map`` methods are never readable;
- only registered containers can be indexed (``str``, ``list``, ``tuple``, ``dict``,
  ``range`` and wrappers that ask for it);
- only a script's own lists and dicts can be changed, and only their items.

Everything else (functions, generators, frames, code objects, exceptions' internals, types
that are not registered) has no attributes at all for a script. A refusal raises
:class:`AccessDenied`, which scripts cannot catch (see ``language.script_globals``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

#: attributes that let a format string read any attribute of its arguments
FORMAT_METHODS = frozenset({"format", "format_map"})


class AccessDenied(Exception):
    """A script reached for something the sandbox does not give scripts."""


@dataclass(frozen=True)
class _TypeRule:
    name: str
    attributes: frozenset[str]
    items: bool
    writable: bool


_RULES: dict[type, _TypeRule] = {}
_CLASS_ATTRIBUTES: dict[type, frozenset[str]] = {}
_EXCEPTION_ATTRIBUTES = frozenset({"args"})


def register_script_type(cls: type, attributes: Iterable[str] = (), *, items: bool = False, writable: bool = False,
                         class_attributes: Iterable[str] = (), name: str | None = None) -> None:
    """Let scripts use objects whose exact type is ``cls``.

    ``attributes``: the names a script may read on an instance; ``items``: whether it may
    index one (``obj[key]``); ``writable``: whether it may set and delete items (attributes
    are never writable); ``class_attributes``: the names it may read on ``cls`` itself
    (``date.today``). ``name`` is how error messages call the type.
    """
    names = frozenset(attributes)
    for attribute in names | frozenset(class_attributes):
        if attribute.startswith("_") or attribute in FORMAT_METHODS:
            raise ValueError(f"{cls.__name__}: attribute {attribute!r} cannot be given to scripts")
    _RULES[cls] = _TypeRule(name or cls.__name__, names, items, writable)
    if class_attributes:
        _CLASS_ATTRIBUTES[cls] = frozenset(class_attributes)


class ScriptModule:
    """A module as scripts see it: a fixed set of named members, nothing else.

    Scripts read members through ``_getattr_``; ``from m import x`` reads them natively,
    which ``__getattr__`` answers from the same members (the slots start with ``_``, so a
    script can never name them).
    """

    __slots__ = ("_name", "_members")

    def __init__(self, name: str, members: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_members", MappingProxyType(dict(members)))

    def __getattr__(self, name: str) -> Any:
        members: Mapping[str, Any] = object.__getattribute__(self, "_members")
        if name.startswith("_") or name not in members:
            raise AttributeError(f"module {self._name!r} has no {name!r} for scripts")
        return members[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AccessDenied(f"cannot set {name!r} of module {self._name!r}: modules are read-only")

    def __delattr__(self, name: str) -> None:
        raise AccessDenied(f"cannot delete {name!r} of module {self._name!r}: modules are read-only")

    def __repr__(self) -> str:
        return f"<module {self._name!r}>"


def module_name(module: ScriptModule) -> str:
    return str(object.__getattribute__(module, "_name"))


def module_members(module: ScriptModule) -> Mapping[str, Any]:
    members: Mapping[str, Any] = object.__getattribute__(module, "_members")
    return members


def describe(obj: Any) -> str:
    """How an error message names ``obj`` (never its repr: that could be long or private)."""
    if type(obj) is ScriptModule:
        return f"module {module_name(obj)!r}"
    if type(obj) is type:
        rule = _RULES.get(obj)
        return f"class {rule.name if rule else obj.__name__!r}"
    rule = _RULES.get(type(obj))
    return rule.name if rule else type(obj).__name__


def readable_attributes(obj: Any) -> frozenset[str] | Mapping[str, Any]:
    if type(obj) is ScriptModule:
        return module_members(obj)
    rule = _RULES.get(type(obj))
    if rule is not None:
        return rule.attributes
    if type(obj) is type:
        return _CLASS_ATTRIBUTES.get(obj, frozenset())
    if issubclass(type(obj), BaseException):
        return _EXCEPTION_ATTRIBUTES
    return frozenset()


# -- the hooks -------------------------------------------------------------------------

def guarded_getattr(obj: Any, name: str) -> Any:
    """``_getattr_``: read attribute ``name`` of ``obj`` if scripts may, else refuse."""
    if type(name) is not str:
        raise AccessDenied("attribute names must be plain strings")
    if name.startswith("_"):
        raise AccessDenied(f"names starting with '_' are not allowed: {name!r}")
    if name in FORMAT_METHODS:
        raise AccessDenied(f"'.{name}()' is not allowed (a format string can read attributes of its "
                           "arguments); use an f-string")
    allowed = readable_attributes(obj)
    if name not in allowed:
        raise AccessDenied(_missing_attribute(obj, name, allowed))
    if type(obj) is ScriptModule:
        return module_members(obj)[name]
    return getattr(obj, name)


def _missing_attribute(obj: Any, name: str, allowed: frozenset[str] | Mapping[str, Any]) -> str:
    what = describe(obj)
    if type(obj) is ScriptModule:
        return f"{what} has no {name!r} for scripts; it has {', '.join(repr(n) for n in sorted(allowed))}"
    if not allowed:
        return f"cannot read attribute {name!r} of {what}: scripts may read no attributes of it"
    return f"cannot read attribute {name!r} of {what}: it is not one of the attributes scripts may use"


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``_getitem_``: ``obj[key]`` for the containers scripts may index."""
    rule = _RULES.get(type(obj))
    if rule is None or not rule.items:
        raise AccessDenied(f"cannot index {describe(obj)}: scripts may index strings, lists, tuples, dicts and ranges")
    return obj[key]


class _WriteTarget:
    """What ``_write_`` hands back: item writes to a script's own lists and dicts; nothing else."""

    __slots__ = ("_target", "_items")

    def __init__(self, target: Any, items: bool) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_items", items)

    def _refuse(self, what: str) -> AccessDenied:
        target = object.__getattribute__(self, "_target")
        return AccessDenied(f"cannot {what} of {describe(target)}: scripts may change only the items of "
                            "their own lists and dicts")

    def __setattr__(self, name: str, value: Any) -> None:
        raise self._refuse(f"set attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        raise self._refuse(f"delete attribute {name!r}")

    def __setitem__(self, key: Any, value: Any) -> None:
        if not object.__getattribute__(self, "_items"):
            raise self._refuse("set items")
        object.__getattribute__(self, "_target")[key] = value

    def __delitem__(self, key: Any) -> None:
        if not object.__getattribute__(self, "_items"):
            raise self._refuse("delete items")
        del object.__getattribute__(self, "_target")[key]


def guarded_write(obj: Any) -> _WriteTarget:
    """``_write_``: the target of ``obj.x = …``, ``obj[k] = …`` and their ``del``."""
    rule = _RULES.get(type(obj))
    return _WriteTarget(obj, rule is not None and rule.writable)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """``_inplacevar_``: ``x += y`` and friends, for names and (see the policy) items."""
    return _INPLACE[op](target, value)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``_apply_``: a call with ``*args`` or ``**kwargs``; the arguments are the script's own."""
    return func(*args, **kwargs)


def unpack_sequence(value: Any, spec: Mapping[str, Any], getiter: Callable[[Any], Iterator[Any]]) -> list[Any]:
    """``_unpack_sequence_``: ``a, (b, c) = value``, iterating through ``_getiter_`` at every level."""
    items = list(getiter(value))
    if len(items) >= spec["min_len"]:
        for index, child in spec["childs"]:
            items[index] = unpack_sequence(items[index], child, getiter)
    return items


class _UnpackingIterator:
    """``_iter_unpack_sequence_``: ``for a, b in value`` (a class, not a generator: no frame)."""

    __slots__ = ("_items", "_spec", "_getiter")

    def __init__(self, value: Any, spec: Mapping[str, Any], getiter: Callable[[Any], Iterator[Any]]) -> None:
        self._items = getiter(value)
        self._spec = spec
        self._getiter = getiter

    def __iter__(self) -> _UnpackingIterator:
        return self

    def __next__(self) -> list[Any]:
        return unpack_sequence(next(self._items), self._spec, self._getiter)


iter_unpack_sequence = _UnpackingIterator


def final_exception_check(final: tuple[type[BaseException], ...]) -> Callable[[BaseException], None]:
    """``_caught_``: run first in every ``except`` block; re-raises what scripts may not catch.

    Also when the error caught was raised *while* one of those was on its way out: a ``finally``
    block that raises (``finally: raise ValueError()``, or calls something that fails) would
    otherwise turn an error no script may catch into one it may. Python links the two through
    ``__context__``, which scripts cannot touch.
    """

    def check(error: BaseException) -> None:
        visited: set[int] = set()  # the whole chain, however long a script made it; no cycle twice
        link: BaseException | None = error
        while link is not None and id(link) not in visited:
            if isinstance(link, final):
                raise link
            visited.add(id(link))
            link = link.__context__

    return check


# -- the built-in types scripts work with -----------------------------------------------

_STR = ("capitalize casefold center count endswith expandtabs find index isalnum isalpha isascii isdecimal "
        "isdigit isidentifier islower isnumeric isprintable isspace istitle isupper join ljust lower lstrip "
        "partition removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split "
        "splitlines startswith strip swapcase title translate upper zfill")
_INT = "as_integer_ratio bit_count bit_length conjugate denominator imag numerator real"
_SET = ("copy difference intersection isdisjoint issubset issuperset symmetric_difference union")
register_script_type(str, _STR.split(), items=True)
register_script_type(int, _INT.split())
register_script_type(bool, _INT.split())
register_script_type(float, "as_integer_ratio conjugate hex imag is_integer real".split())
register_script_type(list, "append clear copy count extend index insert pop remove reverse sort".split(),
                     items=True, writable=True)
register_script_type(dict, "clear copy get items keys pop popitem setdefault update values".split(),
                     items=True, writable=True)
register_script_type(tuple, ("count", "index"), items=True)
register_script_type(range, ("count", "index", "start", "step", "stop"), items=True)
register_script_type(frozenset, _SET.split())
register_script_type(set, [*_SET.split(), "add", "clear", "difference_update", "discard",
                           "intersection_update", "pop", "remove", "symmetric_difference_update", "update"])
register_script_type(type(None))
