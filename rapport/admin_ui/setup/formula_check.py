"""``POST /admin/formula/check``: live validation of a formula field's expression.

The field editor's expression box posts its form here as the admin types (htmx, after a
pause): the object, the field's name, the expression and the return type chosen. The
answer is a fragment swapped in under the box: "Valid: returns currency", or each problem
with its line and column and the line with a caret under the character. The check is the
one the metadata loader runs when the field is saved (``check_formula_field``), against
the org's current metadata.

With ``use=condition`` the expression is checked as a rule's condition instead (a
validation rule's error condition, a workflow condition): a boolean that may see the
record before the write (``ISCHANGED``, ``PRIORVALUE``, ``ISNEW``), as the loader checks
those.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import ADMIN
from rapport.admin_ui.rendering import fragment
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup.forms import sentence
from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.runtime.formula import FType, FormulaInvalid, Use, check_formula_field
from rapport.runtime.formula import check as check_formula
from rapport.runtime.formula.types import DEFAULT_RETURN_TYPES, RETURN_TYPES

#: the name a new field is checked under until it has one
UNNAMED = "new_formula"


@dataclass(frozen=True)
class FormulaProblemView:
    message: str
    line: int
    column: int
    #: the expression's line the problem is on, and a caret under the place
    source: str
    caret: str


@dataclass(frozen=True)
class FormulaCheck:
    """What checking an expression found: its return type, or its problems."""

    returns: str | None = None
    problems: tuple[FormulaProblemView, ...] = ()
    #: nothing to check yet (an empty box)
    empty: bool = False


def check_expression(bundle: Bundle, obj: ObjectDef, field_name: str, expression: str,
                     return_type: str | None, scale: int | None = None) -> FormulaCheck:
    """Check ``expression`` as formula field ``field_name`` of ``obj`` would be checked."""
    if not expression.strip():
        return FormulaCheck(empty=True)
    wanted = return_type if return_type in RETURN_TYPES else None
    defn = FieldDef(field_name or UNNAMED, "formula", field_name or UNNAMED, expression=expression,
                    return_type=wanted, scale=scale)
    try:
        typed = check_formula_field(bundle, obj, defn)
    except FormulaInvalid as error:
        return FormulaCheck(problems=_problems(error, expression))
    return FormulaCheck(returns=wanted or DEFAULT_RETURN_TYPES.get(typed.type, "text"))


def check_condition(bundle: Bundle, obj: ObjectDef, expression: str) -> FormulaCheck:
    """Check ``expression`` as a rule's condition on ``obj`` is checked."""
    if not expression.strip():
        return FormulaCheck(empty=True)
    try:
        check_formula(bundle, obj, expression, Use("a rule's condition", frozenset({FType.BOOLEAN}), allow_prior=True))
    except FormulaInvalid as error:
        return FormulaCheck(problems=_problems(error, expression))
    return FormulaCheck(returns="boolean")


def _problems(error: FormulaInvalid, expression: str) -> tuple[FormulaProblemView, ...]:
    lines = expression.splitlines() or [""]
    problems = []
    for problem in error.problems:
        line = lines[min(max(problem.pos.line, 1), len(lines)) - 1]
        caret = " " * max(problem.pos.column - 1, 0) + "^"
        problems.append(FormulaProblemView(sentence(problem.message), problem.pos.line, problem.pos.column,
                                           line, caret))
    return tuple(problems)


def formula_check(request: Request) -> Response:
    form = request.state.form
    bundle = request.state.org.model().bundle
    obj = bundle.object(form.get("object", ""))
    if obj is None:
        return fragment("admin/formula_check.html", result=None,
                        missing=f"There is no object '{form.get('object', '')}' to check the formula against.")
    scale = form.get("scale", "").strip()
    expression = form.get("expression", "").replace("\r\n", "\n")
    if form.get("use") == "condition":
        result = check_condition(bundle, obj, expression)
    else:
        result = check_expression(bundle, obj, form.get("name", "").strip(), expression,
                                  form.get("return_type") or None, int(scale) if scale.isdigit() else None)
    return fragment("admin/formula_check.html", result=result, missing=None)


ROUTES = [PageRoute("/admin/formula/check", formula_check, methods=("POST",), needs=ADMIN)]
