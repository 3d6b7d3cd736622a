"""The type checker: a parsed formula, checked against an object, becomes a typed tree.

It runs when metadata is validated. Every field reference must exist (through lookups and
master-details, up to :data:`MAX_HOPS` of them), every argument must fit its function,
and the result must fit where the formula is used. References to other formula fields are
replaced by those formulas' own typed trees (circular references are refused). All the
problems of a formula are reported together, each at its line and column.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from decimal import Decimal

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.fields.computed import FORMULA_DEFAULT_SCALE
from rapport.runtime.fields.system import SYSTEM_FIELD_DEFS
from rapport.runtime.formula.functions import FUNCTIONS
from rapport.runtime.formula.registry import ArgumentError, Function
from rapport.runtime.formula.sql import sql_size
from rapport.runtime.formula.syntax import Call, FieldRef, FormulaSyntaxError, GlobalRef, Literal, Node, Pos, parse
from rapport.runtime.formula.typed import TCall, TField, TGlobal, TLiteral, Typed, walk
from rapport.runtime.formula.types import RETURN_TYPES, FType, fits

#: lookups a formula may follow, counting those of formula fields it refers to
MAX_HOPS = 5
#: how deep calls may nest (deeper trees exhaust Python's stack when compiled to SQL)
MAX_NESTING = 30
#: the most SQL terms a formula field may compile to (see ``sql.sql_size``)
MAX_SQL_SIZE = 10_000
GLOBALS: dict[str, tuple[str, ...]] = {"$user": ("id", "name", "email"), "$org": ("id", "name")}
#: the symbols of the unary operators, whose registry names (NEG, POS) an admin never writes
_UNARY_SYMBOLS = {"NEG": "-", "POS": "+"}


@dataclass(frozen=True)
class FormulaProblem:
    pos: Pos
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}"


class FormulaInvalid(ValueError):
    def __init__(self, problems: list[FormulaProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Use:
    """Where a formula is used: what it must return and whether it sees the prior record."""

    noun: str  # "formula field 'margin'", "validation rule 'amount_positive'"
    expected: frozenset[FType] | None  # None: any value type a field can show
    allow_prior: bool = False


@dataclass
class _Check:
    bundle: Bundle
    use: Use
    problems: list[FormulaProblem] = field(default_factory=list)
    expanding: tuple[tuple[str, str], ...] = ()

    def fail(self, pos: Pos, code: str, message: str) -> Typed:
        self.problems.append(FormulaProblem(pos, code, message))
        return TLiteral(FType.NULL, pos, None)

    # -- nodes --------------------------------------------------------------------------
    def node(self, node: Node, obj: ObjectDef, base: tuple[str, ...]) -> Typed:
        if isinstance(node, Literal):  # "" is blank text, like every empty text
            return TLiteral(_literal_type(node.value), node.pos, None if node.value == "" else node.value)
        if isinstance(node, FieldRef):
            return self.field_ref(node, obj, base)
        if isinstance(node, GlobalRef):
            names = GLOBALS.get(node.scope)
            if names is None:
                return self.fail(node.pos, "formula.unknown_field",
                                 f"there is no global {node.scope!r}; globals are $User and $Org")
            if node.name not in names:
                allowed = ", ".join(f"{node.scope.title()}.{n}" for n in names)
                return self.fail(node.pos, "formula.unknown_field",
                                 f"{node.scope.title()} has no {node.name!r}; it has {allowed}")
            return TGlobal(FType.TEXT, node.pos, node.scope, node.name)
        assert isinstance(node, Call)
        return self.call(node, obj, base)

    def call(self, node: Call, obj: ObjectDef, base: tuple[str, ...]) -> Typed:
        fn = FUNCTIONS.get(node.name)
        if fn is None or fn.operator != node.operator:
            close = difflib.get_close_matches(node.name, [n for n, f in FUNCTIONS.items() if not f.operator], 1)
            hint = f"; did you mean {close[0]}?" if close else ""
            return self.fail(node.pos, "formula.unknown_function", f"there is no function {node.name}{hint}")
        label = f"'{_UNARY_SYMBOLS.get(fn.name, fn.name)}'" if fn.operator else fn.name
        if len(node.args) < fn.min_args or (fn.max_args is not None and len(node.args) > fn.max_args):
            return self.fail(node.pos, "formula.wrong_arguments",
                             f"{label} takes {fn.arity()}, got {len(node.args)}: {fn.signature}")
        if fn.needs_prior and not self.use.allow_prior:
            return self.fail(node.pos, "formula.not_allowed",
                             f"{fn.name} sees the record before a write; it can be used in validation rules "
                             f"and workflow conditions, not in {self.use.noun}")
        args: list[Typed] = []
        for index, arg in enumerate(node.args):
            if index in fn.field_args and not (isinstance(arg, FieldRef) and len(arg.path) == 1):
                self.fail(arg.pos, "formula.wrong_arguments", f"{fn.name} takes a field of the record itself")
                args.append(TLiteral(FType.NULL, arg.pos, None))
                continue
            if index in fn.literal_args and not (isinstance(arg, Literal) and isinstance(arg.value, str)):
                self.fail(arg.pos, "formula.wrong_arguments", f"{fn.name} takes text in quotes here")
                args.append(TLiteral(FType.NULL, arg.pos, None))
                continue
            typed = self.node(arg, obj, base)
            if index in fn.field_args and not isinstance(typed, TField):
                self.fail(arg.pos, "formula.wrong_arguments",
                          f"{fn.name} takes a stored field; {arg.path[0]!r} is computed")  # type: ignore[attr-defined]
            args.append(typed)
        self.literal_checks(fn, node, args, obj)
        try:
            result = fn.typer([a.type for a in args])
        except ArgumentError as error:
            where = args[error.index].pos if error.index is not None else node.pos
            prefix = f"{label} argument {error.index + 1}: " if error.index is not None else ""
            return self.fail(where, "formula.wrong_type", prefix + error.message)
        if fn.name == "&":  # one flat call for a chain a & b & c
            args = [part for arg in args for part in (arg.args if isinstance(arg, TCall) and arg.fn.name == "&"
                                                      else (arg,))]
        return TCall(result, node.pos, fn, tuple(args))

    def literal_checks(self, fn: Function, node: Call, args: list[Typed], obj: ObjectDef) -> None:
        if fn.name == "REGEX" and isinstance(args[1], TLiteral) and isinstance(args[1].value, str):
            problem = _pattern_problem(args[1].value)
            if problem:
                self.fail(args[1].pos, "formula.bad_pattern", f"REGEX: {problem}")
        if fn.name in ("ISPICKVAL", "INCLUDES") and isinstance(args[0], TField) \
                and isinstance(args[1], TLiteral) and isinstance(args[1].value, str):
            defn = _field_at(self.bundle, obj, node.args[0].path)  # type: ignore[attr-defined]
            allowed = defn.picklist_value_names() if defn is not None else ()
            if allowed and args[1].value not in allowed:
                self.fail(args[1].pos, "formula.unknown_value",
                          f"{args[1].value!r} is not a value of picklist '{args[0].dotted}' "
                          f"({', '.join(repr(a) for a in allowed)})")

    # -- field references --------------------------------------------------------------
    def field_ref(self, node: FieldRef, root: ObjectDef, base: tuple[str, ...]) -> Typed:
        obj = root
        path = base + node.path
        if len(path) > MAX_HOPS + 1:
            return self.fail(node.pos, "formula.too_deep",
                             f"{node.dotted!r} follows {len(path) - 1} lookups; a formula may follow at most "
                             f"{MAX_HOPS}, counting those of the formula fields it uses")
        for depth, name in enumerate(node.path):
            defn = _field(obj, name)
            if defn is None:
                known = ", ".join(sorted({*obj.field_names(), *_system_names(obj)}))
                close = difflib.get_close_matches(name, known.split(", "), 1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return self.fail(node.pos, "formula.unknown_field",
                                 f"object '{obj.name}' has no field {name!r}{hint} (fields: {known})")
            if depth == len(node.path) - 1:
                return self.leaf(node, obj, defn, path)
            target = self.bundle.object(defn.target or "") if defn.target else None
            if target is None:
                return self.fail(node.pos, "formula.unknown_field",
                                 f"field {name!r} of object '{obj.name}' is not a lookup, so {node.dotted!r} "
                                 "cannot go through it")
            obj = target
        raise AssertionError("unreachable")

    def leaf(self, node: FieldRef, obj: ObjectDef, defn: FieldDef, path: tuple[str, ...]) -> Typed:
        field_type = FIELD_TYPES[defn.type]
        if field_type.stored or defn.name in SYSTEM_FIELD_DEFS:
            return TField(FType(field_type.formula_kind(defn)), node.pos, path)
        if defn.expression is None:
            return self.fail(node.pos, "formula.unknown_field", f"field {node.dotted!r} has no value to use")
        key = (obj.name, defn.name)
        if key in self.expanding:
            chain = " → ".join(f"{o}.{f}" for o, f in (*self.expanding, key))
            return self.fail(node.pos, "formula.circular", f"formula fields refer to each other in a circle: {chain}")
        use = Use(f"formula field '{obj.name}.{defn.name}'", None)
        inner = _Check(self.bundle, use, expanding=(*self.expanding, key))
        typed = inner.expression(defn.expression, obj, path[:-1])
        if inner.problems or typed is None:
            circular = [p for p in inner.problems if p.code == "formula.circular"]
            if circular:  # said where this formula refers to the circle
                return self.fail(node.pos, "formula.circular", circular[0].message)
            return self.fail(node.pos, "formula.invalid_reference",
                             f"formula field '{obj.name}.{defn.name}' has errors of its own: "
                             f"{inner.problems[0].message if inner.problems else 'it is invalid'}")
        return field_value(typed, defn)

    # -- a whole formula ---------------------------------------------------------------
    def expression(self, text: str, obj: ObjectDef, base: tuple[str, ...] = ()) -> Typed | None:
        try:
            tree = parse(text)
        except FormulaSyntaxError as error:
            self.fail(error.pos, "formula.syntax_error", error.message)
            return None
        return self.node(tree, obj, base)


def check(bundle: Bundle, obj: ObjectDef, text: str, use: Use) -> Typed:
    """The typed tree of ``text`` used as ``use`` on ``obj``, or :class:`FormulaInvalid`."""
    checker = _Check(bundle, use)
    typed = checker.expression(text, obj)
    if typed is not None and not checker.problems:
        _check_result(checker, typed, use)
        _check_size(checker, typed, sql=False)
    if checker.problems or typed is None:
        raise FormulaInvalid(checker.problems)
    return typed


def check_formula_field(bundle: Bundle, obj: ObjectDef, defn: FieldDef) -> Typed:
    """A formula field's typed tree, finished as the field shows it (rounded, never-blank booleans)."""
    expected = RETURN_TYPES.get(defn.return_type or "")
    use = Use(f"formula field '{defn.name}'", frozenset({expected}) if expected else None)
    checker = _Check(bundle, use, expanding=((obj.name, defn.name),))
    typed = checker.expression(defn.expression or "", obj)
    if typed is not None and not checker.problems:
        _check_result(checker, typed, use)
        _check_size(checker, field_value(typed, defn), sql=True)
    if checker.problems or typed is None:
        raise FormulaInvalid(checker.problems)
    return field_value(typed, defn)


def _check_size(checker: _Check, typed: Typed, *, sql: bool) -> None:
    """Formulas stay within what both compilers handle: nesting (with the formula fields it
    uses) and, for formula fields, the size of the SQL (some functions repeat an argument in
    SQL, so nesting them multiplies it)."""
    start = _start(typed)
    depth = nesting(typed)
    if depth > MAX_NESTING:
        checker.fail(start, "formula.too_complex", f"the formula nests {depth} levels deep, counting the formula "
                     f"fields it uses; at most {MAX_NESTING} are allowed: split it into formula fields or simplify it")
        return
    if sql:
        size = sql_size(typed)
        if size > MAX_SQL_SIZE:
            checker.fail(start, "formula.too_complex", f"the formula would compile to {size:,} SQL terms, counting "
                         f"the formula fields it uses; at most {MAX_SQL_SIZE:,} are allowed: use fewer nested date "
                         "functions (ADDMONTHS, date arithmetic, MIN/MAX) or simplify it")


def nesting(typed: Typed) -> int:
    """How deep calls nest in the tree (a field or a literal is 1)."""
    deepest, stack = 0, [(typed, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, TCall):
            stack.extend((arg, depth + 1) for arg in node.args)
    return deepest


def _start(typed: Typed) -> Pos:
    return min((n.pos for n in walk(typed)), key=lambda p: (p.line, p.column))

def field_value(typed: Typed, defn: FieldDef) -> Typed:
    """What a formula field shows: numbers rounded to its scale, booleans never blank."""
    pos = typed.pos
    if typed.type is FType.NUMBER:
        scale = FORMULA_DEFAULT_SCALE if defn.scale is None else defn.scale
        return TCall(FType.NUMBER, pos, FUNCTIONS["ROUND"], (typed, TLiteral(FType.NUMBER, pos, Decimal(scale))))
    if typed.type is FType.BOOLEAN:
        return TCall(FType.BOOLEAN, pos, FUNCTIONS["BLANKVALUE"], (typed, TLiteral(FType.BOOLEAN, pos, False)))
    if typed.type is FType.PICKLIST:
        return TCall(FType.TEXT, pos, FUNCTIONS["TEXT"], (typed,))
    return typed


def _check_result(checker: _Check, typed: Typed, use: Use) -> None:
    """The whole formula's type fits its use (the problem points at the formula's start)."""
    start = _start(typed)
    if use.expected is None:
        if typed.type not in (FType.TEXT, FType.PICKLIST, FType.NUMBER, FType.BOOLEAN, FType.DATE, FType.DATETIME):
            checker.fail(start, "formula.wrong_type", "the formula must give text, a number, a boolean, a date or "
                         f"a date/time; it gives {typed.type.noun}")
        return
    if not any(fits(typed.type, wanted) for wanted in use.expected):
        wanted = " or ".join(sorted(w.noun for w in use.expected))
        checker.fail(start, "formula.wrong_type", f"the formula must give {wanted}; it gives {typed.type.noun}")


#: pattern syntax Python and PostgreSQL read differently (or one of them not at all)
_UNSHARED_PATTERNS = (
    (re.compile(r"(?<!\\)\(\?[^:]"), "'(?' groups other than '(?:' (flags, names, look-arounds)"),
    (re.compile(r"\\[bBZzAGgkKpPNuUx]"), "escapes like \\b, \\Z, \\x or \\u"),
    (re.compile(r"\[\[[:=.]"), "POSIX classes like [[:digit:]]"),
    (re.compile(r"\{,"), "'{,n}' (write '{0,n}')"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifiers like 'a*+'"),
)


#: the largest count in {n,m} that PostgreSQL's regular expressions take
MAX_REPEAT = 255
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


def _pattern_problem(pattern: str) -> str | None:
    """Why a REGEX pattern is refused, or ``None``: it must be valid, and read the same way
    by Python (rules) and PostgreSQL (formula fields)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set": POSIX classes are refused below
            re.compile(pattern)
    except re.error as error:
        return f"not a valid regular expression ({error})"
    if any(int(count) > MAX_REPEAT for match in _REPEAT.finditer(pattern) for count in match.groups() if count):
        return f"repeat counts above {MAX_REPEAT} are refused by PostgreSQL; use '*' or '+'"
    for unshared, what in _UNSHARED_PATTERNS:
        if unshared.search(pattern):
            return f"{what} mean different things in the databases formulas run on; use classes like " \
                   "[0-9], \\d, \\s, \\w, groups (…), (?:…), | and quantifiers"
    return None


def _literal_type(value: object) -> FType:
    if value is None:
        return FType.NULL
    if isinstance(value, bool):
        return FType.BOOLEAN
    if isinstance(value, Decimal):
        return FType.NUMBER
    return FType.TEXT


def _field(obj: ObjectDef, name: str) -> FieldDef | None:
    found = obj.field(name)
    if found is None and name in _system_names(obj):
        return SYSTEM_FIELD_DEFS[name]
    return found


def _system_names(obj: ObjectDef) -> tuple[str, ...]:
    names = tuple(n for n in SYSTEM_FIELD_DEFS if n != "is_deleted")
    return (*names, "is_deleted") if obj.soft_delete else names


def _field_at(bundle: Bundle, root: ObjectDef, path: tuple[str, ...]) -> FieldDef | None:
    obj: ObjectDef | None = root
    for name in path[:-1]:
        link = _field(obj, name) if obj else None
        obj = bundle.object(link.target) if link is not None and link.target else None
    return _field(obj, path[-1]) if obj else None
