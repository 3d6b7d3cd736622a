"""Parsing formulas: the grammar (lark, LALR) and the syntax tree it builds.

Precedence, loosest first: ``||``; ``&&``; comparisons ``= == != <> < > <= >=``; text
concatenation ``&``; ``+ -``; ``* /``; unary ``- + !``; ``^`` (right-associative, so
``-2^2`` is -4 and ``2^3^2`` is 512). Function names, ``true``/``false``/``null`` and
``$User``/``$Org`` are case-insensitive; field names are API names (lower case), so a
reference is lower-cased: ``Amount`` is the field ``amount``.

Every node keeps the line and column where it starts, for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr | or_expr OR_OP and_expr -> binary
?and_expr: cmp_expr | and_expr AND_OP cmp_expr -> binary
?cmp_expr: concat_expr | cmp_expr CMP_OP concat_expr -> binary
?concat_expr: add_expr | concat_expr CONCAT_OP add_expr -> binary
?add_expr: mul_expr | add_expr ADD_OP mul_expr -> binary
?mul_expr: unary_expr | mul_expr MUL_OP unary_expr -> binary
?unary_expr: pow_expr | UNARY_OP unary_expr -> unary | ADD_OP unary_expr -> unary
?pow_expr: atom | atom POW_OP unary_expr -> binary
?atom: NUMBER -> number
     | STRING -> string
     | TRUE -> true
     | FALSE -> false
     | NULL -> null
     | NAME "(" [expr ("," expr)*] ")" -> call
     | NAME ("." NAME)* -> field
     | GLOBAL "." NAME -> global_
     | "(" expr ")"

OR_OP: "||"
AND_OP: "&&"
CMP_OP: "==" | "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
CONCAT_OP: "&"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
UNARY_OP: "!"
POW_OP: "^"
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i
GLOBAL: /\$[A-Za-z]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d*)?|\.\d+/
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
COMMENT: "/*" /(.|\n)*?/ "*/"

%import common.WS
%ignore WS
%ignore COMMENT
"""


@dataclass(frozen=True)
class Pos:
    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True)
class Node:
    pos: Pos


@dataclass(frozen=True)
class Literal(Node):
    value: Any  # str, Decimal, bool or None


@dataclass(frozen=True)
class FieldRef(Node):
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class GlobalRef(Node):
    scope: str  # "$user" | "$org", lower case
    name: str


@dataclass(frozen=True)
class Call(Node):
    """A function call, or an operator (``+`` is the call of ``+`` on two arguments)."""

    name: str  # upper case for functions, the symbol for operators
    args: tuple[Node, ...]
    #: written as an operator (``-x``), not as a function call (``NEG(x)`` is no function)
    operator: bool = False


class FormulaSyntaxError(ValueError):
    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.message = message


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
#: how the parser names what it expected, in words an admin reads
_TOKEN_WORDS = {
    "RPAR": "')'", "LPAR": "'('", "COMMA": "','", "DOT": "'.'", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a text in quotes", "TRUE": "true", "FALSE": "false", "NULL": "null", "GLOBAL": "$User or $Org",
    "OR_OP": "'||'", "AND_OP": "'&&'", "CMP_OP": "a comparison", "CONCAT_OP": "'&'", "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'", "UNARY_OP": "'!'", "POW_OP": "'^'", "$END": "the end of the formula",
}


def _pos(token: Token) -> Pos:
    return Pos(token.line or 1, token.column or 1)


@v_args(inline=True)
class _Build(Transformer[Token, Node]):
    def number(self, token: Token) -> Node:
        return Literal(_pos(token), Decimal(str(token)))

    def string(self, token: Token) -> Node:
        body, out, i = str(token)[1:-1], [], 0
        while i < len(body):
            char = body[i]
            if char == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt not in _ESCAPES:
                    raise FormulaSyntaxError(Pos(token.line or 1, (token.column or 1) + i + 1),
                                             f"unknown escape '\\{nxt}' in text; use \\\" \\' \\\\ \\n or \\t")
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            out.append(char)
            i += 1
        return Literal(_pos(token), "".join(out))

    def true(self, token: Token) -> Node:
        return Literal(_pos(token), True)

    def false(self, token: Token) -> Node:
        return Literal(_pos(token), False)

    def null(self, token: Token) -> Node:
        return Literal(_pos(token), None)

    def field(self, *names: Token) -> Node:
        return FieldRef(_pos(names[0]), tuple(str(n).lower() for n in names))

    def global_(self, scope: Token, name: Token) -> Node:
        return GlobalRef(_pos(scope), str(scope).lower(), str(name).lower())

    def call(self, name: Token, *args: Node | None) -> Node:
        return Call(_pos(name), str(name).upper(), tuple(a for a in args if a is not None))

    def binary(self, left: Node, op: Token, right: Node) -> Node:
        symbol = {"==": "=", "<>": "!="}.get(str(op), str(op))
        return Call(_pos(op), symbol, (left, right), operator=True)

    def unary(self, op: Token, operand: Node) -> Node:
        return Call(_pos(op), "NEG" if op == "-" else "POS" if op == "+" else "!", (operand,), operator=True)


_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)
_COMMENTS = re.compile(r"/\*.*?\*/", re.DOTALL)

#: longer formulas are refused before parsing (no admin writes one; it bounds parse time)
MAX_LENGTH = 10_000


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """The syntax tree of ``text``, or :class:`FormulaSyntaxError` naming the position."""
    if len(text) > MAX_LENGTH:
        raise FormulaSyntaxError(Pos(1, 1), f"a formula holds at most {MAX_LENGTH} characters, got {len(text)}")
    if not _COMMENTS.sub("", text).strip():
        raise FormulaSyntaxError(Pos(1, 1), "the formula is empty")
    try:
        tree = _PARSER.parse(text)
        return _Build().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, FormulaSyntaxError):
            raise error.orig_exc from None
        if isinstance(error.orig_exc, RecursionError):
            raise FormulaSyntaxError(Pos(1, 1), "the formula nests too deeply") from None
        raise
    except UnexpectedInput as error:
        raise FormulaSyntaxError(Pos(error.line or 1, error.column or 1), _describe(error, text)) from None
    except RecursionError:
        raise FormulaSyntaxError(Pos(1, 1), "the formula nests too deeply") from None


def _describe(error: UnexpectedInput, text: str) -> str:
    if isinstance(error, UnexpectedEOF):
        return f"the formula ends too early; expected {_expected(error.expected)}"
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return f"the formula ends too early; expected {_expected(error.expected)}"
        return f"unexpected {str(error.token)!r}; expected {_expected(error.expected)}"
    if isinstance(error, UnexpectedCharacters):
        at = error.pos_in_stream or 0
        char = text[at] if at < len(text) else ""
        if char in "\"'":
            return "this text is missing its closing quote"
        return f"unexpected character {char!r}"
    return "the formula cannot be read"


def _expected(names: Any) -> str:
    words = sorted({_TOKEN_WORDS.get(n, n.lower()) for n in names})
    if len(words) > 6:
        return "a value, a field, a function or an operator"
    return " or ".join(words)
