"""The modules a script may import: chosen parts of math, decimal, datetime, json and re.

A script's ``import math`` (or ``from datetime import date``) gets a :class:`ScriptModule`
from :data:`SCRIPT_MODULES`, never the real module: a fixed set of members, read-only.

- ``math``: the usual functions and constants (no ``factorial``/``comb``/``perm``: a
  trivially short call could run for minutes inside C code).
- ``decimal``: ``Decimal``, ``InvalidOperation`` and the ``ROUND_*`` modes; never the
  context functions (the context is shared by every run in a worker).
- ``datetime``: ``date``, ``datetime``, ``time``, ``timedelta``, ``timezone`` (with
  ``timezone.utc``), ``MINYEAR``, ``MAXYEAR``.
- ``json``: ``dumps`` and ``loads``, capped at :data:`MAX_JSON_CHARS` characters.
- ``re``: the ``regex`` package behind ``re``'s names; every match stops after
  :data:`REGEX_TIMEOUT_SECONDS` with a ``TimeoutError`` naming the pattern, so a
  catastrophic pattern cannot hang a worker. Patterns and matches are wrappers
  (:class:`ScriptPattern`, :class:`ScriptMatch`).

Which attributes of the values these modules return a script may use is registered with
``_guards.register_script_type`` below.
"""

from __future__ import annotations

import json as _json
import math as _math
import time as _time  # noqa: F401 - imported by C code of datetime, see _IMPORTED_BY_C
from collections.abc import Callable, Mapping
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta, timezone
from decimal import (
    ROUND_05UP, ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP,
    Decimal, InvalidOperation,
)
from types import MappingProxyType
from typing import Any

import regex as _regex  # type: ignore[import-untyped]  # no stubs; used through the wrappers below

from rapport.sandbox._guards import ScriptModule, register_script_type

MAX_JSON_CHARS = 1_000_000
MAX_JSON_INDENT = 16
REGEX_TIMEOUT_SECONDS = 0.5
MAX_PATTERN_CHARS = 10_000

# -- math ----------------------------------------------------------------------------------

_MATH_NAMES = (
    "acos", "asin", "atan", "atan2", "ceil", "copysign", "cos", "degrees", "dist", "e", "exp", "fabs", "floor",
    "fmod", "fsum", "gcd", "hypot", "inf", "isclose", "isfinite", "isinf", "isnan", "isqrt", "lcm", "log",
    "log10", "log2", "modf", "nan", "pi", "pow", "prod", "radians", "remainder", "sin", "sqrt", "tan", "tau",
    "trunc",
)
MATH = ScriptModule("math", {name: getattr(_math, name) for name in _MATH_NAMES})

# -- decimal -------------------------------------------------------------------------------

DECIMAL = ScriptModule("decimal", {
    "Decimal": Decimal, "InvalidOperation": InvalidOperation,
    "ROUND_05UP": ROUND_05UP, "ROUND_CEILING": ROUND_CEILING, "ROUND_DOWN": ROUND_DOWN, "ROUND_FLOOR": ROUND_FLOOR,
    "ROUND_HALF_DOWN": ROUND_HALF_DOWN, "ROUND_HALF_EVEN": ROUND_HALF_EVEN, "ROUND_HALF_UP": ROUND_HALF_UP,
    "ROUND_UP": ROUND_UP,
})
register_script_type(Decimal, (
    "adjusted", "as_integer_ratio", "compare", "conjugate", "copy_abs", "copy_negate", "copy_sign", "exp", "fma",
    "imag", "is_finite", "is_infinite", "is_nan", "is_signed", "is_zero", "ln", "log10", "max", "min",
    "normalize", "quantize", "real", "remainder_near", "scaleb", "sqrt", "to_eng_string", "to_integral",
    "to_integral_value",
))

# -- datetime ------------------------------------------------------------------------------

DATETIME = ScriptModule("datetime", {
    "date": date, "datetime": datetime, "time": time, "timedelta": timedelta, "timezone": timezone,
    "MINYEAR": MINYEAR, "MAXYEAR": MAXYEAR,
})
_DATE = ("ctime", "day", "isoformat", "isoweekday", "month", "replace", "strftime", "toordinal", "weekday", "year")
_CLOCK = ("dst", "fold", "hour", "microsecond", "minute", "second", "tzinfo", "tzname", "utcoffset")
register_script_type(date, _DATE, class_attributes=("fromisoformat", "fromordinal", "max", "min", "today"))
register_script_type(datetime, (*_DATE, *_CLOCK, "astimezone", "date", "time", "timestamp", "timetz"),
                     class_attributes=("combine", "fromisoformat", "fromtimestamp", "max", "min", "now", "strptime",
                                       "today"))
register_script_type(time, (*_CLOCK, "isoformat", "replace", "strftime"),
                     class_attributes=("fromisoformat", "max", "min"))
register_script_type(timedelta, ("days", "microseconds", "seconds", "total_seconds"),
                     class_attributes=("max", "min", "resolution"))
register_script_type(timezone, ("dst", "tzname", "utcoffset"), class_attributes=("max", "min", "utc"))

# -- json ----------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would round it
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    raise TypeError(f"json.dumps cannot write a {type(value).__name__} value")


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text of ``value``; decimals are written as strings, dates and times in ISO 8601."""
    if indent is not None and (type(indent) is not int or not 0 <= indent <= MAX_JSON_INDENT):
        raise ValueError(f"json.dumps: indent must be a whole number from 0 to {MAX_JSON_INDENT}")
    text = _json.dumps(value, indent=indent, sort_keys=bool(sort_keys), ensure_ascii=False, default=_json_default)
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"json.dumps: the text would be {len(text)} characters; the limit is {MAX_JSON_CHARS}")
    return text


def loads(text: str) -> Any:
    """The value of JSON ``text`` (at most :data:`MAX_JSON_CHARS` characters)."""
    if not isinstance(text, str):
        raise TypeError(f"json.loads takes a str, not {type(text).__name__}")
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"json.loads: the text is {len(text)} characters; the limit is {MAX_JSON_CHARS}")
    return _json.loads(text)


JSON = ScriptModule("json", {"dumps": dumps, "loads": loads})

# -- re ------------------------------------------------------------------------------------


class ScriptMatch:
    """A match as scripts see it: its groups and positions, nothing of the engine."""

    __slots__ = ("_match",)

    def __init__(self, match: Any) -> None:
        self._match = match

    def group(self, *groups: int | str) -> Any:
        return self._match.group(*groups)

    def groups(self, default: Any = None) -> tuple[Any, ...]:
        return tuple(self._match.groups(default))

    def groupdict(self, default: Any = None) -> dict[str, Any]:
        return dict(self._match.groupdict(default))

    def start(self, group: int | str = 0) -> int:
        return int(self._match.start(group))

    def end(self, group: int | str = 0) -> int:
        return int(self._match.end(group))

    def span(self, group: int | str = 0) -> tuple[int, int]:
        start, end = self._match.span(group)
        return start, end

    @property
    def string(self) -> str:
        return str(self._match.string)

    @property
    def lastindex(self) -> int | None:
        return self._match.lastindex  # type: ignore[no-any-return]

    @property
    def lastgroup(self) -> str | None:
        return self._match.lastgroup  # type: ignore[no-any-return]

    def __getitem__(self, group: int | str) -> Any:
        return self._match[group]

    def __repr__(self) -> str:
        return f"<re.Match span={self.span()} match={self.group()!r}>"


def _timed(pattern: Any, call: Callable[[], Any], text: Any) -> Any:
    try:
        return call()
    except TimeoutError:
        length = f" on a {len(text)}-character text" if isinstance(text, str) else ""
        raise TimeoutError(f"regular expression {pattern.pattern!r} took longer than {REGEX_TIMEOUT_SECONDS} s"
                           f"{length}; simplify it (nested repetition such as '(a|aa)+' backtracks "
                           "without end)") from None


class ScriptPattern:
    """A compiled pattern; every search stops after :data:`REGEX_TIMEOUT_SECONDS`."""

    __slots__ = ("_pattern",)

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern

    @property
    def pattern(self) -> str:
        return str(self._pattern.pattern)

    @property
    def flags(self) -> int:
        return int(self._pattern.flags)

    @property
    def groups(self) -> int:
        return int(self._pattern.groups)

    def _run(self, method: str, text: Any, *args: Any, **kwargs: Any) -> Any:
        call = getattr(self._pattern, method)
        return _timed(self._pattern, lambda: call(text, *args, timeout=REGEX_TIMEOUT_SECONDS, **kwargs), text)

    def match(self, string: str, pos: int | None = None, endpos: int | None = None) -> ScriptMatch | None:
        return _wrap(self._run("match", string, pos, endpos))

    def search(self, string: str, pos: int | None = None, endpos: int | None = None) -> ScriptMatch | None:
        return _wrap(self._run("search", string, pos, endpos))

    def fullmatch(self, string: str, pos: int | None = None, endpos: int | None = None) -> ScriptMatch | None:
        return _wrap(self._run("fullmatch", string, pos, endpos))

    def findall(self, string: str, pos: int | None = None, endpos: int | None = None) -> list[Any]:
        return list(self._run("findall", string, pos, endpos))

    def finditer(self, string: str, pos: int | None = None, endpos: int | None = None) -> list[ScriptMatch]:
        """A list, not an iterator: matching happens here, under the timeout."""
        return _timed(self._pattern, lambda: [
            ScriptMatch(m) for m in self._pattern.finditer(string, pos, endpos, timeout=REGEX_TIMEOUT_SECONDS)
        ], string)

    def sub(self, repl: str | Callable[[ScriptMatch], str], string: str, count: int = 0) -> str:
        replacement = _replacement(repl)
        return str(_timed(self._pattern, lambda: self._pattern.sub(replacement, string, count,
                                                                   timeout=REGEX_TIMEOUT_SECONDS), string))

    def split(self, string: str, maxsplit: int = 0) -> list[str | None]:
        return list(self._run("split", string, maxsplit=maxsplit))

    def __repr__(self) -> str:
        return f"re.compile({self.pattern!r})"


def _wrap(match: Any) -> ScriptMatch | None:
    return None if match is None else ScriptMatch(match)


def _replacement(repl: str | Callable[[ScriptMatch], str]) -> Any:
    """A script's function gets :class:`ScriptMatch` objects, never the engine's matches."""
    if isinstance(repl, str):
        return repl
    if not callable(repl):
        raise TypeError(f"re.sub: the replacement must be a str or a function, not {type(repl).__name__}")
    return lambda match: repl(ScriptMatch(match))


def compile(pattern: str, flags: int = 0) -> ScriptPattern:
    if isinstance(pattern, ScriptPattern):
        return pattern
    if not isinstance(pattern, str):
        raise TypeError(f"re: a pattern must be a str, not {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"re: the pattern is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}")
    if type(flags) is not int:
        raise TypeError("re: flags must be a whole number such as re.IGNORECASE | re.MULTILINE")
    try:
        return ScriptPattern(_regex.compile(pattern, flags))
    except _regex.error as error:
        raise ValueError(f"bad regular expression {pattern!r}: {error}") from None


def match(pattern: str, string: str, flags: int = 0) -> ScriptMatch | None:
    return compile(pattern, flags).match(string)


def search(pattern: str, string: str, flags: int = 0) -> ScriptMatch | None:
    return compile(pattern, flags).search(string)


def fullmatch(pattern: str, string: str, flags: int = 0) -> ScriptMatch | None:
    return compile(pattern, flags).fullmatch(string)


def findall(pattern: str, string: str, flags: int = 0) -> list[Any]:
    return compile(pattern, flags).findall(string)


def finditer(pattern: str, string: str, flags: int = 0) -> list[ScriptMatch]:
    return compile(pattern, flags).finditer(string)


def sub(pattern: str, repl: str | Callable[[ScriptMatch], str], string: str, count: int = 0, flags: int = 0) -> str:
    return compile(pattern, flags).sub(repl, string, count)


def split(pattern: str, string: str, maxsplit: int = 0, flags: int = 0) -> list[str | None]:
    return compile(pattern, flags).split(string, maxsplit)


def escape(pattern: str) -> str:
    return str(_regex.escape(pattern))


_FLAGS = {"ASCII": _regex.ASCII, "A": _regex.A, "IGNORECASE": _regex.IGNORECASE, "I": _regex.I,
          "MULTILINE": _regex.MULTILINE, "M": _regex.M, "DOTALL": _regex.DOTALL, "S": _regex.S,
          "VERBOSE": _regex.VERBOSE, "X": _regex.X}
RE = ScriptModule("re", {
    "compile": compile, "match": match, "search": search, "fullmatch": fullmatch, "findall": findall,
    "finditer": finditer, "sub": sub, "split": split, "escape": escape,
    **{name: int(flag) for name, flag in _FLAGS.items()},  # plain ints: the enum has attributes of its own
})
register_script_type(ScriptPattern, ("findall", "finditer", "flags", "fullmatch", "groups", "match", "pattern",
                                     "search", "split", "sub"), name="re.Pattern")
register_script_type(ScriptMatch, ("end", "group", "groupdict", "groups", "lastgroup", "lastindex", "span",
                                   "start", "string"), items=True, name="re.Match")

# -- the import hook -----------------------------------------------------------------------

SCRIPT_MODULES: Mapping[str, ScriptModule] = MappingProxyType(
    {"datetime": DATETIME, "decimal": DECIMAL, "json": JSON, "math": MATH, "re": RE})


#: modules that C code run from a script's frame imports through the frame's ``__import__``
#: (``date.today()`` and ``strftime`` call ``PyImport_Import("time")``): that call ignores
#: what the hook returns and takes the module from ``sys.modules``, so the hook answers
#: with an empty module. A script cannot name them (the policy refuses ``import time``).
_IMPORTED_BY_C = frozenset({"time"})


def import_module(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                  level: int = 0) -> ScriptModule:
    """The ``__import__`` of scripts: only the modules of :data:`SCRIPT_MODULES`."""
    if level == 0 and name in _IMPORTED_BY_C:
        return ScriptModule(name, {})
    module = SCRIPT_MODULES.get(name) if level == 0 else None
    if module is None:
        raise ImportError(f"module {name!r} is not available to scripts; they may import "
                                f"{', '.join(repr(n) for n in SCRIPT_MODULES)}")
    return module


# Warm up what would otherwise load lazily on first use: a sandbox worker cannot open
# files once it has locked itself down, and ``datetime.strptime`` imports ``_strptime``.
datetime.strptime("2000-01-02", "%Y-%m-%d")
_regex.compile("warm-up").search("warm-up", timeout=REGEX_TIMEOUT_SECONDS)
